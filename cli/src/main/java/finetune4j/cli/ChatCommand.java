package finetune4j.cli;

import finetune4j.Finetune4jException;
import finetune4j.generate.GenerationParams;
import finetune4j.generate.GenerationResult;
import finetune4j.generate.Generator;
import finetune4j.model.LlamaModel;
import finetune4j.text.ChatMessage;
import finetune4j.text.IncrementalDecoder;
import finetune4j.text.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code chat}: an interactive conversation with the model's chat template, streamed. */
@Command(name = "chat", mixinStandardHelpOptions = true,
        description = "Chat with a model: each line you type is a user turn; the reply streams back."
                + " Commands: /reset (forget the conversation), /exit.")
final class ChatCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOption model = new ModelOption();

    @Mixin
    KernelsOption kernels = new KernelsOption();

    @Mixin
    QuantOption quant = new QuantOption();

    @Mixin
    GenerateCommand.SamplingOptions sampling = new GenerateCommand.SamplingOptions();

    @Mixin
    AdapterOptions adapters = new AdapterOptions();

    @Option(names = "--system", paramLabel = "TEXT", description = "A system message starting the conversation.")
    String system;

    @Override
    public Integer call() throws IOException {
        Path dir = model.resolve();
        Tokenizer tok = Tokenizer.load(dir);
        ChatSupport.template(dir);                                  // fail early when there is no template
        PrintWriter o = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        try (LlamaModel m = quant.load(dir, kernels.get())) {
            adapters.attach(m, spec);
            GenerationParams params = sampling.params(m, ChatSupport.chatEos(dir, tok, m));
            Generator g = new Generator(m);
            List<ChatMessage> history = new ArrayList<>();
            if (system != null) history.add(ChatMessage.system(system));
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            err.println("chat with " + dir.getFileName() + " — /reset to start over, /exit or Ctrl-D to quit");
            err.flush();
            while (true) {
                o.print("> ");
                o.flush();
                String line = in.readLine();
                if (line == null || line.strip().equals("/exit")) break;
                if (line.strip().equals("/reset")) {
                    history.clear();
                    if (system != null) history.add(ChatMessage.system(system));
                    continue;
                }
                if (line.isBlank()) continue;
                history.add(ChatSupport.user(line));
                int[] prompt = ChatSupport.encodeChat(dir, tok, history);
                IncrementalDecoder dec = tok.incrementalDecoder(true);
                GenerationResult r;
                try {
                    r = g.generate(prompt, params, ids -> tok.decode(ids, true), (id, i) -> {
                        o.print(dec.push(id));
                        o.flush();
                    });
                } catch (Finetune4jException e) {
                    history.removeLast();
                    err.println("error: " + e.getMessage() + " (try /reset)");
                    err.flush();
                    continue;
                }
                o.println(dec.flush());
                o.flush();
                history.add(ChatMessage.assistant(tok.decode(r.generatedIds(), true)));
            }
        }
        return 0;
    }
}
