package finetune4j.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import finetune4j.ConfigException;
import finetune4j.generate.GenerationParams;
import finetune4j.generate.GenerationResult;
import finetune4j.generate.Generator;
import finetune4j.model.LlamaModel;
import finetune4j.text.IncrementalDecoder;
import finetune4j.text.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code generate}: a completion of a prompt, streamed to the terminal. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate text from a prompt. Greedy by default (unless generation_config.json samples);"
                + " --temperature > 0 samples.")
final class GenerateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOption model = new ModelOption();

    @Mixin
    KernelsOption kernels = new KernelsOption();

    @Mixin
    QuantOption quant = new QuantOption();

    @Mixin
    SamplingOptions sampling = new SamplingOptions();

    @Mixin
    AdapterOptions adapters = new AdapterOptions();

    @Option(names = {"-p", "--prompt"}, required = true, paramLabel = "TEXT", description = "The prompt.")
    String prompt;

    @Option(names = "--chat", description = "Wrap the prompt as a user message with the model's chat template"
            + " (and add the generation prompt).")
    boolean chat;

    @Option(names = "--json", description = "Print one JSON object: prompt_ids, generated_ids, text, stop_reason.")
    boolean json;

    @Override
    public Integer call() {
        Path dir = model.resolve();
        Tokenizer tok = Tokenizer.load(dir);
        try (LlamaModel m = quant.load(dir, kernels.get())) {
            adapters.attach(m, spec);
            int[] promptIds = chat ? ChatSupport.encodeChat(dir, tok, List.of(ChatSupport.user(prompt)))
                    : tok.encode(prompt, true);
            GenerationParams params = sampling.params(m, chat ? ChatSupport.chatEos(dir, tok, m) : null);
            PrintWriter o = spec.commandLine().getOut();
            Generator g = new Generator(m);
            GenerationResult r;
            if (json) {
                r = g.generate(promptIds, params, ids -> tok.decode(ids, true), (id, i) -> { });
                ObjectNode n = Json.object();
                ArrayNode p = n.putArray("prompt_ids");
                for (int id : r.promptIds()) p.add(id);
                ArrayNode gen = n.putArray("generated_ids");
                for (int id : r.generatedIds()) gen.add(id);
                n.put("text", tok.decode(r.generatedIds(), true));
                n.put("stop_reason", r.stopReason().label());
                Json.print(o, n);
            } else {
                IncrementalDecoder dec = tok.incrementalDecoder(true);
                r = g.generate(promptIds, params, ids -> tok.decode(ids, true), (id, i) -> {
                    o.print(dec.push(id));
                    o.flush();
                });
                o.print(dec.flush());
                o.println();
                o.flush();
                spec.commandLine().getErr().printf("[%d prompt tokens, %d generated, stop: %s, %.1f tokens/s]%n",
                        r.promptIds().length, r.generatedIds().length, r.stopReason().label(), r.decodeTokensPerSecond());
            }
        }
        return 0;
    }

    /** Decoding flags shared by {@code generate} and {@code chat}. */
    static final class SamplingOptions {
        @Option(names = "--max-new-tokens", paramLabel = "N", description = "Most tokens to generate (default: generation_config.json, else 256).")
        Integer maxNewTokens;

        @Option(names = "--temperature", paramLabel = "T", description = "Sampling temperature; 0 = greedy; > 0 samples.")
        Double temperature;

        @Option(names = "--top-p", paramLabel = "P", description = "Nucleus sampling: keep the top tokens with probability ≥ P.")
        Double topP;

        @Option(names = "--top-k", paramLabel = "K", description = "Keep the K most likely tokens (0 disables).")
        Integer topK;

        @Option(names = "--min-p", paramLabel = "P", description = "Drop tokens below P × the top probability.")
        Double minP;

        @Option(names = "--repetition-penalty", paramLabel = "R", description = "HF repetition penalty (1 = off).")
        Double repetitionPenalty;

        @Option(names = "--seed", paramLabel = "S", defaultValue = "0", description = "Sampling seed (default: ${DEFAULT-VALUE}).")
        long seed;

        @Option(names = "--stop", paramLabel = "TEXT", description = "Stop when the generated text contains TEXT (repeatable).")
        List<String> stop;

        GenerationParams params(LlamaModel m, List<Integer> extraEos) {
            GenerationParams.Builder b = GenerationParams.defaults(m.generationConfig(), m.config());
            if (maxNewTokens != null) {
                if (maxNewTokens < 1) throw new ConfigException("--max-new-tokens", maxNewTokens, "an integer ≥ 1");
                b.maxNewTokens(maxNewTokens);
            }
            if (temperature != null) {
                if (temperature < 0) throw new ConfigException("--temperature", temperature, "a number ≥ 0 (0 = greedy)");
                if (temperature == 0) b.doSample(false);
                else b.doSample(true).temperature(temperature);
            } else if (topP != null || topK != null || minP != null) {
                b.doSample(true);
            }
            if (topP != null) b.topP(topP);
            if (topK != null) b.topK(topK);
            if (minP != null) b.minP(minP);
            if (repetitionPenalty != null) b.repetitionPenalty(repetitionPenalty);
            b.seed(seed);
            if (stop != null) b.stopStrings(stop);
            if (extraEos != null) b.eosTokenIds(extraEos);
            return b.build();
        }
    }
}
