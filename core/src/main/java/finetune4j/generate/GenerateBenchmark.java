package finetune4j.generate;

import finetune4j.ConfigException;
import finetune4j.engine.kernels.KernelSelector;
import finetune4j.model.LlamaModel;
import finetune4j.model.Session;
import finetune4j.quant.QuantizedModels;

import java.nio.file.Path;
import java.util.Locale;

/**
 * Measures inference speed of a model the way {@code bench generate} reports it: prefill
 * tokens/s (one batched pass over a prompt) and decode tokens/s (one pass per token with the KV
 * cache, greedy, never stopping early), plus the bytes of weights one decode step reads — decode
 * is memory-bound, so {@code bytes/token × tokens/s} against the machine's copy bandwidth says how
 * close to the ceiling it runs. The prompt is a fixed pseudo-random id sequence (starting with
 * BOS when the model has one), so runs are comparable. Each figure is the best of
 * {@code repeats} runs after one warm-up run (JIT).
 */
public final class GenerateBenchmark {
    private GenerateBenchmark() {
    }

    /**
     * @param model                  the model directory or a description
     * @param kernels                kernel implementation name
     * @param promptTokens           prefill length
     * @param decodeTokens           decode steps timed
     * @param prefillTokensPerSecond best prefill rate
     * @param decodeTokensPerSecond  best decode rate
     * @param decodeBytesPerToken    bytes of weights one decode step reads (stored dtype)
     * @param weightBytes            bytes of all weights
     * @param parameterCount         parameters (tied embedding once)
     */
    public record Result(String model, String kernels, int promptTokens, int decodeTokens,
                         double prefillTokensPerSecond, double decodeTokensPerSecond, long decodeBytesPerToken,
                         long weightBytes, long parameterCount) {
        /** Weight bytes streamed per second while decoding (GB/s, 1e9 bytes). */
        public double decodeGigabytesPerSecond() {
            return decodeBytesPerToken * decodeTokensPerSecond / 1e9;
        }

        /** A few lines for humans. */
        public String format() {
            return String.format(Locale.ROOT, """
                            model      %s (%,d parameters, %.1f MB of weights), kernels %s
                            prefill    %,.1f tokens/s (%d-token prompt)
                            decode     %,.1f tokens/s (%d tokens), %.2f MB of weights read per token = %.2f GB/s""",
                    model, parameterCount, weightBytes / 1e6, kernels, prefillTokensPerSecond, promptTokens,
                    decodeTokensPerSecond, decodeTokens, decodeBytesPerToken / 1e6, decodeGigabytesPerSecond());
        }
    }

    /** Loads {@code dir} (in 4 bits when it is a 4-bit checkpoint) with the default kernels, measures, closes. */
    public static Result run(Path dir, int promptTokens, int decodeTokens, int repeats) {
        try (LlamaModel model = QuantizedModels.open(dir, KernelSelector.get(), null)) {
            return run(model, dir.toString(), promptTokens, decodeTokens, repeats);
        }
    }

    /**
     * Measures {@code model}.
     *
     * @throws ConfigException when a length is not positive or prompt + decode exceeds the context
     */
    public static Result run(LlamaModel model, String name, int promptTokens, int decodeTokens, int repeats) {
        if (promptTokens <= 0) throw new ConfigException("prompt tokens", promptTokens, "an integer > 0");
        if (decodeTokens <= 0) throw new ConfigException("decode tokens", decodeTokens, "an integer > 0");
        if (repeats <= 0) throw new ConfigException("repeats", repeats, "an integer > 0");
        if (promptTokens + decodeTokens > model.maxContext()) {
            throw new ConfigException("prompt + decode tokens", promptTokens + decodeTokens,
                    "at most the model's context of " + model.maxContext() + " (" + model.config().maxContextReason() + ")");
        }
        int[] prompt = prompt(model, promptTokens);
        Session session = model.newSession(promptTokens + decodeTokens);
        once(session, prompt, Math.min(decodeTokens, 8), new long[2]);          // warm-up: JIT, page-in
        long bestPrefill = Long.MAX_VALUE, bestDecode = Long.MAX_VALUE;
        long[] t = new long[2];
        for (int r = 0; r < repeats; r++) {
            once(session, prompt, decodeTokens, t);
            bestPrefill = Math.min(bestPrefill, t[0]);
            bestDecode = Math.min(bestDecode, t[1]);
        }
        return new Result(name, model.kernels().name(), promptTokens, decodeTokens,
                promptTokens * 1e9 / bestPrefill, decodeTokens * 1e9 / bestDecode,
                model.decodeBytesPerToken(), model.weightBytes(), model.parameterCount());
    }

    /** One prefill + {@code steps} greedy decode steps; nanos into {@code t[0]} (prefill), {@code t[1]} (decode). */
    private static void once(Session s, int[] prompt, int steps, long[] t) {
        s.rewind(0);
        long t0 = System.nanoTime();
        float[] logits = s.feed(prompt);
        long t1 = System.nanoTime();
        int vocab = s.model().config().vocabSize();
        for (int i = 0; i < steps; i++) logits = s.step(LogitsWarpers.argmax(logits, vocab));
        long t2 = System.nanoTime();
        t[0] = t1 - t0;
        t[1] = t2 - t1;
    }

    private static int[] prompt(LlamaModel model, int n) {
        int vocab = model.config().vocabSize();
        int[] ids = new int[n];
        long x = 0x9E3779B97F4A7C15L;                                            // xorshift64, fixed seed
        for (int i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            ids[i] = (int) Long.remainderUnsigned(x, vocab);
        }
        if (model.config().bosTokenId() >= 0) ids[0] = model.config().bosTokenId();
        return ids;
    }

    /** {@code GenerateBenchmark MODEL_DIR [PROMPT_TOKENS=128] [DECODE_TOKENS=64] [REPEATS=3]}. */
    public static void main(String[] args) {
        if (args.length < 1) {
            System.err.println("usage: GenerateBenchmark MODEL_DIR [PROMPT_TOKENS=128] [DECODE_TOKENS=64] [REPEATS=3]");
            System.exit(2);
        }
        int p = args.length > 1 ? Integer.parseInt(args[1]) : 128;
        int d = args.length > 2 ? Integer.parseInt(args[2]) : 64;
        int r = args.length > 3 ? Integer.parseInt(args[3]) : 3;
        System.out.println(run(Path.of(args[0]), p, d, r).format());
    }
}
