package finetune4j.generate;

import finetune4j.ConfigException;
import finetune4j.Finetune4jException;
import finetune4j.model.LlamaModel;
import finetune4j.model.Session;

import java.util.Arrays;
import java.util.function.Function;

/**
 * Autoregressive decoding: one batched pass over the prompt (filling the KV cache), then one
 * pass per new token, each token chosen by a {@link Sampler}. Stops on an eos id, after
 * {@code max_new_tokens}, or when the generated text contains a stop string.
 *
 * {@snippet :
 * Generator g = new Generator(model);
 * GenerationParams p = GenerationParams.defaults(model.generationConfig(), model.config())
 *         .maxNewTokens(200).seed(42).build();
 * GenerationResult r = g.generate(promptIds, p, (id, i) -> System.out.print(id + " "));
 * }
 *
 * Token ids in, token ids out: text enters only through the optional decoder callback
 * ({@code ids → text}) that stop strings need; {@link TextStreamer} streams text with the same
 * callback. A generator may be shared; each call builds its own session and sampler.
 */
public final class Generator {
    private final LlamaModel model;

    public Generator(LlamaModel model) {
        this.model = model;
    }

    /** {@link #generate(int[], GenerationParams, Function, TokenListener)} without stop strings. */
    public GenerationResult generate(int[] promptIds, GenerationParams params, TokenListener listener) {
        return generate(promptIds, params, null, listener);
    }

    /**
     * Generates from {@code promptIds}.
     *
     * @param decoder  generated ids → text, used for {@link GenerationParams#stopStrings()} (may be
     *                 null when there are none)
     * @param listener called with every generated token, eos included
     * @throws ConfigException     for an empty prompt, a token id outside the vocabulary, or stop
     *                             strings without a decoder
     * @throws Finetune4jException when prompt + max_new_tokens exceeds the model's context
     */
    public GenerationResult generate(int[] promptIds, GenerationParams params, Function<int[], String> decoder,
                                     TokenListener listener) {
        int vocab = model.config().vocabSize();
        if (promptIds.length == 0) {
            throw new ConfigException("prompt", "[]", "at least one token (hint: start with the BOS token)");
        }
        for (int i = 0; i < promptIds.length; i++) {
            if (promptIds[i] < 0 || promptIds[i] >= vocab) {
                throw new ConfigException("prompt[" + i + "]", promptIds[i], "a token id in [0, " + vocab + ")");
            }
        }
        if (!params.stopStrings().isEmpty() && decoder == null) {
            throw new ConfigException("stop strings " + params.stopStrings() + " need a decoder (ids → text)");
        }
        int context = model.maxContext();
        if (promptIds.length + params.maxNewTokens() > context) {
            String why = model.config().maxContextReason();
            throw new Finetune4jException(promptIds.length >= context
                    ? "the prompt has " + promptIds.length + " tokens; the model's context is " + context + " (" + why
                      + "); hint: shorten the prompt"
                    : "prompt (" + promptIds.length + " tokens) + max_new_tokens (" + params.maxNewTokens() + ") = "
                      + (promptIds.length + params.maxNewTokens()) + " exceeds the model's context of " + context
                      + " (" + why + "); hint: set max_new_tokens ≤ " + (context - promptIds.length));
        }
        boolean[] isEos = new boolean[vocab];
        for (int e : params.eosTokenIds()) {
            if (e >= 0 && e < vocab) isEos[e] = true;
        }

        Session session = model.newSession(promptIds.length + params.maxNewTokens());
        Sampler sampler = new Sampler(params, vocab);
        sampler.observeAll(promptIds);
        int[] out = new int[params.maxNewTokens()];
        int n = 0;
        StopReason reason = StopReason.LENGTH;
        String stop = null;

        long t0 = System.nanoTime();
        float[] logits = session.feed(promptIds);       // (V) last prompt position
        long t1 = System.nanoTime();
        while (true) {
            int token = sampler.next(logits);
            out[n++] = token;
            sampler.observe(token);
            listener.onToken(token, n - 1);
            if (isEos[token]) {
                reason = StopReason.EOS;
                break;
            }
            if (!params.stopStrings().isEmpty()) {
                stop = findStop(decoder.apply(Arrays.copyOf(out, n)), params);
                if (stop != null) {
                    reason = StopReason.STOP;
                    break;
                }
            }
            if (n == out.length) break;
            logits = session.step(token);
        }
        long t2 = System.nanoTime();
        return new GenerationResult(promptIds.clone(), Arrays.copyOf(out, n), reason, stop, params.seed(), t1 - t0, t2 - t1);
    }

    private static String findStop(String text, GenerationParams params) {
        for (String s : params.stopStrings()) {
            if (text.contains(s)) return s;
        }
        return null;
    }
}
