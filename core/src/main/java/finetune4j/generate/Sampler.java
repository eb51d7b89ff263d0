package finetune4j.generate;

import java.util.SplittableRandom;

/**
 * Chooses the next token from a row of logits the way transformers' {@code generate()} does for
 * one sequence: logits processors, then (when sampling) the warpers in HF order, then a draw:
 *
 * <pre>
 * repetition_penalty → argmax                                        (greedy)
 * repetition_penalty → temperature → top_k → top_p → min_p → draw    (sampling)
 * </pre>
 *
 * Each warper is applied only when it changes something (temperature ≠ 1, top_k ≠ 0,
 * top_p &lt; 1, min_p &gt; 0), as {@code _get_logits_processor} does; {@code min_tokens_to_keep = 1}.
 * The random source is a {@link SplittableRandom} seeded with {@link GenerationParams#seed()}:
 * the same seed, model and prompt give the same tokens. Scratch buffers are allocated once.
 */
public final class Sampler {
    private final GenerationParams params;
    private final int vocab;
    private final boolean[] seen;   // (V) token present in prompt or output (repetition penalty)
    private final long[] keys;      // (V) sort scratch for top-p
    private final float[] heap;     // (min(top_k, V)) top-k scratch
    private final SplittableRandom rng;

    public Sampler(GenerationParams params, int vocab) {
        this.params = params;
        this.vocab = vocab;
        this.seen = new boolean[vocab];
        this.keys = new long[vocab];
        this.heap = new float[Math.max(1, Math.min(params.topK(), vocab))];
        this.rng = new SplittableRandom(params.seed());
    }

    /** Records a token of the context (prompt or generated) for the repetition penalty. */
    public void observe(int tokenId) {
        if (tokenId >= 0 && tokenId < vocab) seen[tokenId] = true;
    }

    /** Records every token of {@code ids}. */
    public void observeAll(int[] ids) {
        for (int id : ids) observe(id);
    }

    /** Picks the next token; {@code logits[0..V)} is modified in place ({@link #warp}). */
    public int next(float[] logits) {
        warp(logits);
        return params.greedy() ? LogitsWarpers.argmax(logits, vocab) : LogitsWarpers.sample(logits, vocab, rng);
    }

    /**
     * Applies the processors and, when sampling, the warpers to {@code logits[0..V)} in place,
     * without drawing: removed tokens end at {@code -inf} (the scores HF's generate() samples from).
     */
    public void warp(float[] logits) {
        if (params.repetitionPenalty() != 1.0) LogitsWarpers.repetitionPenalty(logits, vocab, seen, params.repetitionPenalty());
        if (params.greedy()) return;
        if (params.temperature() != 1.0) LogitsWarpers.temperature(logits, vocab, params.temperature());
        if (params.topK() != 0) LogitsWarpers.topK(logits, vocab, params.topK(), heap);
        if (params.topP() < 1.0) LogitsWarpers.topP(logits, vocab, params.topP(), 1, keys);
        if (params.minP() > 0.0) LogitsWarpers.minP(logits, vocab, params.minP(), 1, keys);
    }
}
