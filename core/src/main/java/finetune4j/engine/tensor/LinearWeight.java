package finetune4j.engine.tensor;

/**
 * A frozen linear-layer weight {@code (rows = out_features, cols = in_features)}, row-major, in
 * whatever storage it came in: a dense {@link Weight} (F32/BF16/F16) or a 4-bit
 * {@link QuantizedWeight} (bitsandbytes NF4/FP4). The kernels
 * ({@code Kernels.linear}, {@code Kernels.linearBackward}) read either kind directly, converting or
 * dequantizing while they pack, so no FP32 copy of the whole matrix ever exists; the element
 * accessors below are for small tensors, tests and per-row work (DoRA's row norms).
 */
public sealed interface LinearWeight permits Weight, QuantizedWeight {
    /** HF parameter name, e.g. {@code model.layers.0.self_attn.q_proj.weight}. */
    String name();

    /** Out features. */
    int rows();

    /** In features; elements are contiguous along this dimension. */
    int cols();

    /** Element {@code (r, c)} as FP32 (dequantized for a 4-bit weight). */
    float get(int r, int c);

    /** Row {@code r} as FP32 into {@code out[outOff .. outOff + cols)}. */
    void rowToFloat(int r, float[] out, int outOff);

    /** The whole matrix as a fresh FP32 array (small tensors and tests). */
    float[] toFloatArray();

    /** Bytes the weight occupies as stored (packed codes and block scales for a 4-bit weight). */
    long storedBytes();
}
