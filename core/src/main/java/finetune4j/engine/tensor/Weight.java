package finetune4j.engine.tensor;

import java.lang.foreign.MemorySegment;

/**
 * A read-only 2-D matrix in its stored dtype, row-major: the HF {@code nn.Linear} weight layout
 * {@code (rows = out_features, cols = in_features)}, or an embedding table {@code (V, C)}.
 *
 * <p>{@code data} is usually a memory-mapped slice of a safetensors file (never copied to the
 * heap); trainable FP32 weights use a heap segment over a {@code float[]}
 * ({@link #ofArray(String, float[], int, int)}), which kernels may read directly.
 *
 * @param name  HF parameter name, e.g. {@code model.layers.0.self_attn.q_proj.weight}
 * @param dtype F32, BF16 or F16
 * @param rows  first dimension (out features)
 * @param cols  second dimension (in features); elements are contiguous along it
 * @param data  {@code rows * cols} elements, little-endian
 */
public record Weight(String name, DType dtype, int rows, int cols, MemorySegment data) implements LinearWeight {
    public Weight {
        if (!dtype.isComputeFloat()) {
            throw new IllegalArgumentException(name + ": dtype " + dtype + " is not F32/BF16/F16");
        }
        if (data.byteSize() != (long) rows * cols * (dtype.bits() / 8)) {
            throw new IllegalArgumentException(name + ": segment of " + data.byteSize()
                    + " bytes does not hold (" + rows + ", " + cols + ") " + dtype);
        }
    }

    /** An FP32 weight backed by a heap array {@code a} of {@code rows * cols} floats. */
    public static Weight ofArray(String name, float[] a, int rows, int cols) {
        if (a.length != rows * cols) {
            throw new IllegalArgumentException(name + ": array of " + a.length + " floats is not (" + rows + ", " + cols + ")");
        }
        return new Weight(name, DType.F32, rows, cols, MemorySegment.ofArray(a));
    }

    /** The backing {@code float[]} when this is a heap FP32 weight, else {@code null}. */
    public float[] heapArray() {
        if (dtype == DType.F32 && data.heapBase().isPresent() && data.heapBase().get() instanceof float[] a
                && data.address() == 0 && a.length == rows * cols) {
            return a;
        }
        return null;
    }

    /** Element {@code (r, c)} as float. */
    @Override
    public float get(int r, int c) {
        return dtype.getFloat(data, (long) r * cols + c);
    }

    /** Copies row {@code r} converted to FP32 into {@code out[outOff .. outOff + cols)}. */
    @Override
    public void rowToFloat(int r, float[] out, int outOff) {
        long base = (long) r * cols;
        for (int c = 0; c < cols; c++) out[outOff + c] = dtype.getFloat(data, base + c);
    }

    /** The whole matrix converted to a fresh FP32 array (for small tensors and tests). */
    @Override
    public float[] toFloatArray() {
        float[] out = new float[rows * cols];
        for (int r = 0; r < rows; r++) rowToFloat(r, out, r * cols);
        return out;
    }

    @Override
    public long storedBytes() {
        return data.byteSize();
    }
}
