package finetune4j.quant;

/**
 * Values of a tensor to quantize, read in chunks of its row-major flattening: a dense weight
 * converted to FP32, or values generated on the fly (a random model that never exists in full
 * precision). Must be callable from several threads at once for disjoint ranges.
 */
@FunctionalInterface
public interface FloatSource {
    /** {@code out[0 .. n)} = elements {@code [first, first + n)}. */
    void read(long first, float[] out, int n);
}
