package finetune4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import finetune4j.ConfigException;
import finetune4j.InvalidDataException;
import finetune4j.text.Tokenizer;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code tokenize}: text to token ids with the model's own tokenizer.json. */
@Command(name = "tokenize", mixinStandardHelpOptions = true,
        description = "Token ids and token strings of a text (or of every line of a file), with the model's tokenizer."
                + " --model may be a directory holding only tokenizer files.")
final class TokenizeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOption model = new ModelOption();

    static final class Input {
        @Option(names = "--text", paramLabel = "TEXT", description = "The text to tokenize.")
        String text;

        @Option(names = "--input", paramLabel = "FILE",
                description = "A file with one JSON string per line; prints one JSON line per input.")
        Path input;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Input in;

    @Option(names = "--no-special", description = "Do not add the tokenizer's special tokens (e.g. BOS).")
    boolean noSpecial;

    @Option(names = "--json", description = "Print {\"ids\": [...], \"tokens\": [...]} (always so with --input).")
    boolean json;

    @Override
    public Integer call() {
        Tokenizer tok = Tokenizer.load(model.resolve());
        PrintWriter o = spec.commandLine().getOut();
        if (in.text != null) {
            int[] ids = tok.encode(in.text, !noSpecial);
            if (json) {
                Json.print(o, result(tok, ids));
            } else {
                String[] toks = tok.tokens(ids);
                for (int i = 0; i < ids.length; i++) o.printf("%d\t%s%n", ids[i], visible(toks[i]));
                o.flush();
            }
            return 0;
        }
        if (!Files.isRegularFile(in.input)) {
            throw new ConfigException("--input", in.input.toString(), "an existing file with one JSON string per line");
        }
        try (BufferedReader r = Files.newBufferedReader(in.input, StandardCharsets.UTF_8)) {
            String line;
            long n = 0;
            while ((line = r.readLine()) != null) {
                n++;
                if (line.isBlank()) continue;
                JsonNode s;
                try {
                    s = Json.MAPPER.readTree(line);
                } catch (IOException e) {
                    throw new InvalidDataException(in.input.toString(), n, null, "invalid JSON (expected one JSON string per line)");
                }
                if (!s.isTextual()) {
                    throw new InvalidDataException(in.input.toString(), n, null, "expected a JSON string, got "
                            + s.getNodeType().toString().toLowerCase());
                }
                Json.print(o, result(tok, tok.encode(s.asText(), !noSpecial)));
            }
        } catch (IOException e) {
            throw new ConfigException("--input", in.input.toString(), "a readable file (" + e.getMessage() + ")");
        }
        return 0;
    }

    private static ObjectNode result(Tokenizer tok, int[] ids) {
        ObjectNode n = Json.object();
        ArrayNode a = n.putArray("ids");
        for (int id : ids) a.add(id);
        ArrayNode t = n.putArray("tokens");
        for (String s : tok.tokens(ids)) t.add(s);
        return n;
    }

    private static String visible(String token) {
        StringBuilder sb = new StringBuilder();
        for (char c : token.toCharArray()) {
            if (c == '\n') sb.append("\\n");
            else if (c == '\t') sb.append("\\t");
            else if (c == '\r') sb.append("\\r");
            else sb.append(c);
        }
        return sb.toString();
    }
}
