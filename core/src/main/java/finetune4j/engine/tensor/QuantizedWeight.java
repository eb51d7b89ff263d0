package finetune4j.engine.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A linear-layer weight stored in bitsandbytes' blockwise 4-bit format (SPECS.md §3b): the
 * row-major flattening of the {@code (rows, cols)} matrix is cut into blocks of {@code blocksize}
 * consecutive elements; element e is {@code type.value(code(e)) · scale(e / blocksize)}, computed
 * in FP32 as bitsandbytes does.
 *
 * <pre>
 *   packed   U8 [(n + 1) / 2]   two codes per byte, element 2j in the HIGH nibble, 2j+1 in the low one
 *   scales   per block: absmax F32 [blocks], or double-quantized ({@link Scales.Nested})
 * </pre>
 *
 * <p>The segments are usually memory-mapped slices of a checkpoint (or off-heap memory written by
 * the quantizer): nothing here copies them to the heap. {@code dtype} is the dtype the weight had
 * before quantization (the quant state's {@code "dtype"}); products are computed in FP32 whatever
 * it is.
 *
 * @param name      HF parameter name ({@code ...q_proj.weight})
 * @param type      NF4 or FP4
 * @param rows      out features
 * @param cols      in features
 * @param blocksize elements per block: a power of two in [32, 4096]
 * @param packed    {@code (rows·cols + 1) / 2} bytes of codes
 * @param scales    the per-block scales
 * @param dtype     F32, BF16 or F16: the original dtype
 */
public record QuantizedWeight(String name, QuantType type, int rows, int cols, int blocksize, MemorySegment packed,
                              Scales scales, DType dtype) implements LinearWeight {
    /** The smallest and largest block sizes bitsandbytes accepts. */
    public static final int MIN_BLOCKSIZE = 32, MAX_BLOCKSIZE = 4096;

    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED;

    public QuantizedWeight {
        if (!isSupportedBlocksize(blocksize)) {
            throw new IllegalArgumentException(name + ": blocksize " + blocksize + " is not a power of two in ["
                    + MIN_BLOCKSIZE + ", " + MAX_BLOCKSIZE + "]");
        }
        if (rows < 0 || cols < 0) throw new IllegalArgumentException(name + ": negative shape (" + rows + ", " + cols + ")");
        if (!dtype.isComputeFloat()) throw new IllegalArgumentException(name + ": dtype " + dtype + " is not F32/BF16/F16");
        long n = (long) rows * cols;
        if (packed.byteSize() != packedBytes(n)) {
            throw new IllegalArgumentException(name + ": " + packed.byteSize() + " packed bytes for " + n + " elements, expected "
                    + packedBytes(n));
        }
        long blocks = blocks(n, blocksize);
        if (scales.blocks() != blocks) {
            throw new IllegalArgumentException(name + ": " + scales.blocks() + " block scales for " + blocks + " blocks of "
                    + blocksize);
        }
    }

    /** True for a power of two in [{@value #MIN_BLOCKSIZE}, {@value #MAX_BLOCKSIZE}]. */
    public static boolean isSupportedBlocksize(int b) {
        return b >= MIN_BLOCKSIZE && b <= MAX_BLOCKSIZE && Integer.bitCount(b) == 1;
    }

    /** Bytes of packed codes for n elements: {@code (n + 1) / 2}. */
    public static long packedBytes(long n) {
        return (n + 1) / 2;
    }

    /** Blocks of {@code blocksize} covering n elements (the last may be partial). */
    public static long blocks(long n, int blocksize) {
        return (n + blocksize - 1) / blocksize;
    }

    /** Elements: rows · cols. */
    public long numel() {
        return (long) rows * cols;
    }

    /** Blocks of this weight. */
    public int blockCount() {
        return (int) blocks(numel(), blocksize);
    }

    /**
     * The per-block scales of a 4-bit weight: {@code absmax} as FP32, or bitsandbytes' double
     * quantization of them.
     */
    public sealed interface Scales permits Scales.Absmax, Scales.Nested {
        /** Number of blocks described. */
        long blocks();

        /** The scale of block {@code b}. */
        float scale(int b);

        /** Bytes stored. */
        long bytes();

        /** absmax F32 [blocks]. */
        record Absmax(MemorySegment absmax) implements Scales {
            public Absmax {
                if (absmax.byteSize() % 4 != 0) throw new IllegalArgumentException("absmax of " + absmax.byteSize() + " bytes");
            }

            @Override
            public long blocks() {
                return absmax.byteSize() / 4;
            }

            @Override
            public float scale(int b) {
                return absmax.get(F32_LE, 4L * b);
            }

            @Override
            public long bytes() {
                return absmax.byteSize();
            }
        }

        /**
         * Double quantization: {@code scale(b) = code[q[b]] · absmax2[b / blocksize] + offset}, in FP32
         * ({@code backends/default/ops.py}: "per-block scale = absmax_code[absmax_8bit[i]] · absmax[i // 256] +
         * absmax_offset").
         *
         * @param q         U8 [blocks]: the 8-bit codes of {@code absmax − offset}
         * @param absmax2   F32 [ceil(blocks / blocksize)]
         * @param code      [256] the 8-bit map (the signed dynamic map when written by bitsandbytes)
         * @param offset    the mean of the absmax values that was subtracted
         * @param blocksize the nested block size (256 in bitsandbytes)
         */
        record Nested(MemorySegment q, MemorySegment absmax2, float[] code, float offset, int blocksize) implements Scales {
            public Nested {
                if (code.length != 256) throw new IllegalArgumentException("nested code of " + code.length + " values, expected 256");
                if (blocksize <= 0) throw new IllegalArgumentException("nested blocksize " + blocksize);
                long want = (q.byteSize() + blocksize - 1) / blocksize;
                if (absmax2.byteSize() != 4 * want) {
                    throw new IllegalArgumentException("nested absmax of " + absmax2.byteSize() / 4 + " values for " + q.byteSize()
                            + " blocks in groups of " + blocksize + ", expected " + want);
                }
                code = code.clone();
            }

            @Override
            public long blocks() {
                return q.byteSize();
            }

            @Override
            public float scale(int b) {
                int c = q.get(ValueLayout.JAVA_BYTE, b) & 0xFF;
                return code[c] * absmax2.get(F32_LE, 4L * (b / blocksize)) + offset;
            }

            @Override
            public long bytes() {
                return q.byteSize() + absmax2.byteSize() + 4L * code.length + 4;
            }

            @Override
            public float[] code() {
                return code.clone();
            }
        }
    }

    /** The 4-bit code of element {@code e} of the flattening. */
    public int code(long e) {
        int b = packed.get(ValueLayout.JAVA_BYTE, e >> 1);
        return (e & 1) == 0 ? (b >> 4) & 0xF : b & 0xF;
    }

    private static final ThreadLocal<byte[][]> BYTES = ThreadLocal.withInitial(() -> new byte[1][0]);

    /**
     * Elements {@code [first, first + n)} of the row-major flattening, dequantized to FP32, into
     * {@code out[off .. off + n)}: {@code type.value(code) · scale(block)} (one FP32 product, as
     * bitsandbytes computes it; {@link #get} is the element-wise definition). The codes are copied
     * out of the segment in bulk into a per-thread buffer, then decoded two per byte, a block at a
     * time; the vector kernels have a SIMD version of this loop.
     */
    public void dequantize(long first, int n, float[] out, int off) {
        if (n <= 0) return;
        long b0 = first >> 1;
        int nb = (int) (((first + n - 1) >> 1) - b0 + 1);
        byte[][] holder = BYTES.get();
        if (holder[0].length < nb) holder[0] = new byte[Math.max(nb, 2 * holder[0].length)];
        byte[] bytes = holder[0];
        MemorySegment.copy(packed, ValueLayout.JAVA_BYTE, b0, bytes, 0, nb);
        QuantType t = type;
        long e = first;
        int i = 0;
        while (i < n) {
            int block = (int) (e / blocksize);
            int take = (int) Math.min(n - i, (block + 1L) * blocksize - e);
            float s = scales.scale(block);
            int o = off + i, end = o + take;
            int bi = (int) ((e >> 1) - b0);
            if ((e & 1) != 0) out[o++] = t.value(bytes[bi++] & 0xF) * s;
            for (; o + 1 < end; o += 2, bi++) {
                int b = bytes[bi];
                out[o] = t.value((b >> 4) & 0xF) * s;
                out[o + 1] = t.value(b & 0xF) * s;
            }
            if (o < end) out[o] = t.value((bytes[bi] >> 4) & 0xF) * s;
            e += take;
            i += take;
        }
    }

    @Override
    public float get(int r, int c) {
        long e = (long) r * cols + c;
        return type.value(code(e)) * scales.scale((int) (e / blocksize));
    }

    @Override
    public void rowToFloat(int r, float[] out, int outOff) {
        dequantize((long) r * cols, cols, out, outOff);
    }

    @Override
    public float[] toFloatArray() {
        long n = numel();
        if (n > Integer.MAX_VALUE - 8) throw new IllegalStateException(name + ": " + n + " elements do not fit a float[]");
        float[] out = new float[(int) n];
        dequantize(0, (int) n, out, 0);
        return out;
    }

    @Override
    public long storedBytes() {
        return packed.byteSize() + scales.bytes();
    }
}
