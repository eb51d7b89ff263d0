package finetune4j.engine.io;

import finetune4j.engine.tensor.DType;

import java.util.Arrays;

/**
 * One entry of a safetensors header: the tensor's name, element type, shape and byte range.
 *
 * <p>{@code begin} and {@code end} are the header's {@code data_offsets}: byte offsets relative to
 * the start of the data buffer (the byte after the header), {@code end} exclusive. A reader has
 * already checked {@code end − begin == numel × dtype size}. A rank-0 tensor (shape {@code []})
 * is a scalar with one element; a shape containing 0 has no elements and an empty range.
 *
 * @param name  tensor key, e.g. {@code model.layers.0.self_attn.q_proj.weight}
 * @param dtype stored element type
 * @param shape dimensions, row-major (C order); a copy is kept and returned
 * @param begin first byte, relative to the data buffer
 * @param end   one past the last byte, relative to the data buffer
 */
public record TensorInfo(String name, DType dtype, long[] shape, long begin, long end) {
    public TensorInfo {
        shape = shape.clone();
        if (begin < 0 || end < begin) {
            throw new IllegalArgumentException(name + ": bad byte range [" + begin + ", " + end + ")");
        }
    }

    /** The dimensions (a copy). */
    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Number of dimensions (0 for a scalar). */
    public int rank() {
        return shape.length;
    }

    /** Dimension {@code i}. */
    public long dim(int i) {
        return shape[i];
    }

    /** Number of elements: the product of the shape (1 for a scalar); throws on overflow. */
    public long numel() {
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        return n;
    }

    /** Number of bytes, {@code end − begin}. */
    public long byteSize() {
        return end - begin;
    }

    /** The shape as {@code [d0, d1]}, for messages. */
    public String shapeString() {
        return Arrays.toString(shape);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && name.equals(t.name) && dtype == t.dtype
                && Arrays.equals(shape, t.shape) && begin == t.begin && end == t.end;
    }

    @Override
    public int hashCode() {
        return (name.hashCode() * 31 + dtype.hashCode()) * 31 + Arrays.hashCode(shape) + Long.hashCode(begin);
    }

    @Override
    public String toString() {
        return name + " " + dtype + " " + shapeString() + " @[" + begin + ", " + end + ")";
    }
}
