package finetune4j.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import finetune4j.batch.DataPipeline;
import finetune4j.batch.ExampleTokenizer;
import finetune4j.batch.Tokenized;
import finetune4j.data.DatasetFiles;
import finetune4j.text.ConversationRenderer;
import finetune4j.text.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;

/**
 * {@code data preview}: the first examples as training sees them: the rendered text with the
 * trained tokens marked, or with {@code --json} their {@code input_ids} and {@code labels}.
 */
@Command(name = "preview", mixinStandardHelpOptions = true,
        description = "Show the first examples of the training data as the model will see them: the rendered text with the tokens"
                + " that count in the loss between " + DataPreviewCommand.OPEN + " and " + DataPreviewCommand.CLOSE
                + "; with --json, input_ids and labels (-100 where masked), token offsets and trained spans (in code points).")
final class DataPreviewCommand implements Callable<Integer> {
    static final String OPEN = "⟦", CLOSE = "⟧";

    @Spec
    CommandSpec spec;

    @Mixin
    ModelOption model = new ModelOption();

    @picocli.CommandLine.ArgGroup(exclusive = false, multiplicity = "1")
    DataArgs args = new DataArgs();

    @Option(names = "--n", paramLabel = "N", defaultValue = "3", description = "How many examples (default 3).")
    int n;

    @Option(names = "--json", description = "Print one JSON object with input_ids and labels per example.")
    boolean json;

    @Override
    public Integer call() {
        if (n < 1) throw new finetune4j.ConfigException("--n", n, "an integer ≥ 1");
        Path dir = model.resolve();
        DataPipeline p = DataPipeline.forModel(dir, args.options(dir));
        Path file = DatasetFiles.resolve(args.data).train();
        List<DataPipeline.Item> items = new ArrayList<>();
        var report = p.scan(file, n, items::add);
        PrintWriter o = spec.commandLine().getOut();
        Tokenizer tok = p.tokenizer();
        if (json) {
            ObjectNode root = Json.object();
            root.put("file", file.toString());
            if (report.template() != null) root.put("template", report.template());
            root.put("train_on", p.options().trainOn().id());
            root.put("max_seq_len", p.options().maxSeqLen());
            ArrayNode ex = root.putArray("examples");
            boolean left = p.options().truncation() == finetune4j.batch.Truncation.LEFT;
            for (DataPipeline.Item it : items) ex.add(json(it, left));
            ArrayNode bad = root.putArray("bad_records");
            report.badRecords().forEach(e -> bad.add(e.getMessage()));
            Json.print(o, root);
            return 0;
        }
        int k = 0;
        for (DataPipeline.Item it : items) {
            Tokenized t = shown(it);
            o.printf("── example %d · %s · %s · %d tokens, %d trained%s%n", ++k, it.example().source(), it.example().format().id(),
                    t.length(), t.targetTokens(), it.status() == DataPipeline.Status.KEPT ? "" : " · " + it.status().name().toLowerCase());
            o.println(marked(it.encoded(), tok.specialIds(), tok));
            o.println();
        }
        if (!report.badRecords().isEmpty()) {
            o.printf("bad records met: %d%n", report.badRecords().size());
            report.badRecords().forEach(e -> o.printf("  %s%n", Cli.oneLine(e.getMessage())));
        }
        o.flush();
        return 0;
    }

    /** What training gets: the kept (maybe cut) row, else the full encoding. */
    private static Tokenized shown(DataPipeline.Item it) {
        return it.kept() != null ? it.kept() : it.encoded().tokenized();
    }

    /** One example; {@code left}: a cut row lost its start (left truncation), else its end. */
    private static ObjectNode json(DataPipeline.Item it, boolean left) {
        ExampleTokenizer.Encoded e = it.encoded();
        Tokenized t = shown(it);
        int[] cp = codePoints(e.text());
        ObjectNode n = Json.object();
        n.put("source", it.example().source());
        n.put("format", it.example().format().id());
        n.put("status", it.status().name().toLowerCase());
        n.put("mask_method", e.method());
        n.put("text", e.text());
        ArrayNode ids = n.putArray("input_ids"), labels = n.putArray("labels"), off = n.putArray("offsets");
        int first = left ? e.tokenized().length() - t.length() : 0;
        for (int i = 0; i < t.length(); i++) {
            ids.add(t.ids()[i]);
            labels.add(t.labels()[i]);
            ArrayNode p = off.addArray();
            p.add(cp[e.starts()[first + i]]);
            p.add(cp[e.ends()[first + i]]);
        }
        ArrayNode spans = n.putArray("trained_spans");
        for (ConversationRenderer.Span s : e.trained()) {
            ArrayNode p = spans.addArray();
            p.add(cp[s.start()]);
            p.add(cp[s.end()]);
        }
        n.put("tokens", t.length());
        n.put("trained_tokens", t.targetTokens());
        return n;
    }

    /** Code point index of every UTF-16 position of {@code s} (and of its end). */
    static int[] codePoints(String s) {
        int[] out = new int[s.length() + 1];
        int cp = 0;
        for (int i = 0; i < s.length(); i++) {
            out[i] = cp;
            if (!(Character.isHighSurrogate(s.charAt(i)) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1)))) cp++;
        }
        out[s.length()] = cp;
        return out;
    }

    /**
     * The encoded text (in full, before any cut) with each run of trained tokens between
     * {@link #OPEN} and {@link #CLOSE}. Text between tokens (spaces a tokenizer left out of its
     * offsets) takes the state of the token after it; special tokens with no text of their own (BOS,
     * an appended EOS) are shown by name.
     */
    static String marked(ExampleTokenizer.Encoded e, Set<Integer> special, Tokenizer tok) {
        String text = e.text();
        int[] labels = e.tokenized().labels();
        StringBuilder sb = new StringBuilder(text.length() + 64);
        boolean open = false;
        int pos = 0;
        for (int i = 0; i < labels.length; i++) {
            boolean trained = labels[i] != Tokenized.IGNORE;
            int s = e.starts()[i], en = e.ends()[i];
            if (en <= s) {
                if (!special.contains(e.tokenized().ids()[i])) continue;
                open = toggle(sb, open, trained);
                sb.append(tok.idToToken(e.tokenized().ids()[i]));
                continue;
            }
            if (en <= pos) continue;
            open = toggle(sb, open, trained);
            sb.append(text, pos, en);
            pos = en;
        }
        if (open) sb.append(CLOSE);
        sb.append(text, Math.min(pos, text.length()), text.length());
        return sb.toString();
    }

    private static boolean toggle(StringBuilder sb, boolean open, boolean trained) {
        if (trained && !open) sb.append(OPEN);
        if (!trained && open) sb.append(CLOSE);
        return trained;
    }
}
