package finetune4j.peft;

import finetune4j.engine.kernels.Kernels;
import finetune4j.engine.kernels.ScalarKernels;

/**
 * Inverted dropout on the LoRA branch input with a counter-based mask, so that recomputing a
 * forward pass (gradient checkpointing) or the backward pass regenerates exactly the same mask
 * without storing it.
 *
 * <p>Element {@code (row, col)} of an {@code (M, K)} input is kept iff
 * {@code u53(mix64(base + (row·K + col + 1)·φ)) ≥ p}, where {@code u53(z) = (z >>> 11)·2⁻⁵³},
 * {@code φ = 0x9E3779B97F4A7C15} and
 * {@code base = mix64(mix64(mix64(mix64(seed) ^ key) ^ fnv1a64(module)) ^ branch)}
 * ({@link SplitMix}); kept elements are scaled by {@code 1/(1−p)} as {@code torch.nn.Dropout}
 * does. {@code seed} is the adapter's seed, {@code key} the counter the trainer sets for each
 * forward call of the model (e.g. {@code step·accumulation + microBatch}), {@code module} the HF
 * module name, {@code branch} the adapter's index within the slot. Rows are counted from the
 * start of the forward call's input.
 *
 * <p>The mask itself is the kernel door's {@link Kernels#dropout} (defined by
 * {@link ScalarKernels#dropoutKeep}); the layers call it through their kernels (vectorised and
 * multi-threaded in the fast path). {@link #apply} here is the plain reference.
 */
final class Dropout {
    private Dropout() {
    }

    /** The per-call base of the counter (see the class comment). */
    static long base(long seed, long key, String module, int branch) {
        return base(seed, key, SplitMix.fnv1a64(module), branch);
    }

    /** {@link #base(long, long, String, int)} with the module's {@code fnv1a64} already computed. */
    static long base(long seed, long key, long moduleHash, int branch) {
        return SplitMix.mix64(SplitMix.mix64(SplitMix.mix64(SplitMix.mix64(seed) ^ key) ^ moduleHash) ^ branch);
    }

    /** Whether element {@code index = row·K + col} is kept. */
    static boolean keep(long base, long index, double p) {
        return ScalarKernels.dropoutKeep(base, index, p);
    }

    /**
     * {@code out(M, K) = x(M, K) ⊙ mask / (1 − p)}; {@code out} may alias {@code x} at the same offset.
     */
    static void apply(float[] out, int outOff, float[] x, int xOff, int m, int k, long base, double p) {
        float scale = (float) (1.0 / (1.0 - p));
        for (int i = 0; i < m; i++) {
            long rowIndex = (long) i * k;
            int xo = xOff + i * k, oo = outOff + i * k;
            for (int j = 0; j < k; j++) {
                out[oo + j] = keep(base, rowIndex + j, p) ? x[xo + j] * scale : 0f;
            }
        }
    }
}
