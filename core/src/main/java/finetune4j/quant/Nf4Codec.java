package finetune4j.quant;

import finetune4j.Finetune4jException;
import finetune4j.engine.kernels.KernelThreads;
import finetune4j.engine.tensor.DType;
import finetune4j.engine.tensor.QuantType;
import finetune4j.engine.tensor.QuantizedWeight;
import finetune4j.engine.tensor.Weight;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * bitsandbytes-compatible blockwise 4-bit quantization (NF4 and FP4) with optional double
 * quantization of the block scales: the same bytes as bitsandbytes' CUDA kernels for the same
 * input (SPECS.md §3b; goldens from {@code tools/golden/nf4_reference.py}).
 *
 * <pre>
 * for each block b of {@code blocksize} consecutive elements of the row-major flattening:
 *   absmax[b] = max |x|                        (FP32)
 *   inv       = 1.0f / absmax[b]               (FP32; +inf for an all-zero block)
 *   code(x)   = the CUDA decision tree on x · inv (FP32): dQuantizeNF4 / dQuantizeFP4
 * byte j     = code(x[2j]) << 4 | code(x[2j+1]);  an odd count pads with code(0.0f · inv) of the last block
 * double quantization (compress_statistics):
 *   offset = mean(absmax);  v = absmax − offset;  per 256 scales: absmax2 = max |v|,
 *   q = dQuantize<0>(DYNAMIC_MAP, v · (1.0f / absmax2))   (CUDA's 8-bit binary search)
 * </pre>
 *
 * <p>Rounding rule (the one CUDA implements; the reference script has the analysis): NF4 picks the
 * upper code when {@code x > t}, t the FP32 literal of the midpoint of two neighbouring codes
 * (rounded once from its decimal, as a C compiler and Java do). That is nearest-code rounding with
 * ties to the lower code for every FP32 value except four: the literals that lie one FP32 step
 * above their true midpoint (those between codes 1|2, 3|4, 4|5 and 8|9), which
 * are nearer the upper code but take the lower one. bitsandbytes' pure-torch fallback
 * ({@code argmin |x − code|}) takes the upper code there. FP4 takes the sign from {@code x < 0}
 * (a tiny negative value is code 8, "−0", where argmin gives code 0). NaN (an all-zero block:
 * 0 · inf) falls through every comparison to code 0, as on the GPU.
 *
 * <p>The mean of the double quantization is {@code (float) (Σ absmax in double, sequentially / n)}:
 * bitsandbytes uses torch's FP32 mean, whose rounding depends on the backend's summation order, so
 * the stored {@code nested_offset} may differ from a GPU-made file in its last bit; readers always
 * use the stored value.
 *
 * <p>Weights must be finite (NaN or ±Inf would make bitsandbytes' {@code fmaxf} and Java's
 * {@code Math.max} disagree): a non-finite element is reported with its position.
 */
public final class Nf4Codec {
    /** The nested block size bitsandbytes uses for the absmax values. */
    public static final int NESTED_BLOCKSIZE = 256;

    /**
     * The signed dynamic 8-bit map, {@code functional.py create_dynamic_map(signed=True,
     * max_exponent_bits=7, total_bits=8)} as torch computes it in FP32 (the table the reference
     * script dumps; regenerating it from the formula in double gives other last bits).
     */
    private static final float[] DYNAMIC_MAP = {
            -0.99296874f, -0.9789063f, -0.96484375f, -0.9507812f, -0.93671876f, -0.92265624f, -0.9085938f, -0.89453125f,
            -0.8804687f, -0.86640626f, -0.85234374f, -0.8382813f, -0.82421875f, -0.8101562f, -0.79609376f, -0.78203124f,
            -0.7679688f, -0.75390625f, -0.7398437f, -0.72578126f, -0.7117188f, -0.6976563f, -0.68359375f, -0.6695312f,
            -0.65546876f, -0.6414063f, -0.6273438f, -0.61328125f, -0.5992187f, -0.58515626f, -0.5710938f, -0.5570313f,
            -0.54296875f, -0.5289062f, -0.5148437f, -0.50078124f, -0.4867187f, -0.47265625f, -0.45859373f, -0.44453126f,
            -0.43046874f, -0.41640624f, -0.40234375f, -0.38828123f, -0.37421876f, -0.36015624f, -0.34609374f, -0.33203125f,
            -0.31796873f, -0.30390626f, -0.28984374f, -0.27578127f, -0.26171875f, -0.24765624f, -0.23359375f, -0.21953125f,
            -0.20546874f, -0.19140625f, -0.17734376f, -0.16328125f, -0.14921875f, -0.13515624f, -0.12109375f, -0.107031256f,
            -0.09859375f, -0.09578126f, -0.092968754f, -0.09015625f, -0.08734375f, -0.08453125f, -0.08171876f, -0.07890625f,
            -0.07609375f, -0.07328125f, -0.070468746f, -0.067656256f, -0.06484375f, -0.06203125f, -0.059218753f, -0.05640625f,
            -0.05359375f, -0.05078125f, -0.04796875f, -0.04515625f, -0.042343747f, -0.03953125f, -0.036718752f, -0.03390625f,
            -0.03109375f, -0.028281251f, -0.02546875f, -0.02265625f, -0.019843752f, -0.01703125f, -0.01421875f, -0.01140625f,
            -0.00971875f, -0.009156249f, -0.00859375f, -0.00803125f, -0.00746875f, -0.00690625f, -0.00634375f, -0.00578125f,
            -0.0052187503f, -0.0046562497f, -0.00409375f, -0.0035312497f, -0.00296875f, -0.00240625f, -0.00184375f, -0.0012812499f,
            -9.437501e-4f, -8.3125e-4f, -7.1875006e-4f, -6.062501e-4f, -4.9375003e-4f, -3.8125002e-4f, -2.6875004e-4f, -1.5625001e-4f,
            -8.875e-5f, -6.625e-5f, -4.375e-5f, -2.1249998e-5f, -7.75e-6f, -3.2500002e-6f, -5.5000004e-7f, 0f,
            5.5000004e-7f, 3.2500002e-6f, 7.75e-6f, 2.1249998e-5f, 4.375e-5f, 6.625e-5f, 8.875e-5f, 1.5625001e-4f,
            2.6875004e-4f, 3.8125002e-4f, 4.9375003e-4f, 6.062501e-4f, 7.1875006e-4f, 8.3125e-4f, 9.437501e-4f, 0.0012812499f,
            0.00184375f, 0.00240625f, 0.00296875f, 0.0035312497f, 0.00409375f, 0.0046562497f, 0.0052187503f, 0.00578125f,
            0.00634375f, 0.00690625f, 0.00746875f, 0.00803125f, 0.00859375f, 0.009156249f, 0.00971875f, 0.01140625f,
            0.01421875f, 0.01703125f, 0.019843752f, 0.02265625f, 0.02546875f, 0.028281251f, 0.03109375f, 0.03390625f,
            0.036718752f, 0.03953125f, 0.042343747f, 0.04515625f, 0.04796875f, 0.05078125f, 0.05359375f, 0.05640625f,
            0.059218753f, 0.06203125f, 0.06484375f, 0.067656256f, 0.070468746f, 0.07328125f, 0.07609375f, 0.07890625f,
            0.08171876f, 0.08453125f, 0.08734375f, 0.09015625f, 0.092968754f, 0.09578126f, 0.09859375f, 0.107031256f,
            0.12109375f, 0.13515624f, 0.14921875f, 0.16328125f, 0.17734376f, 0.19140625f, 0.20546874f, 0.21953125f,
            0.23359375f, 0.24765624f, 0.26171875f, 0.27578127f, 0.28984374f, 0.30390626f, 0.31796873f, 0.33203125f,
            0.34609374f, 0.36015624f, 0.37421876f, 0.38828123f, 0.40234375f, 0.41640624f, 0.43046874f, 0.44453126f,
            0.45859373f, 0.47265625f, 0.4867187f, 0.50078124f, 0.5148437f, 0.5289062f, 0.54296875f, 0.5570313f,
            0.5710938f, 0.58515626f, 0.5992187f, 0.61328125f, 0.6273438f, 0.6414063f, 0.65546876f, 0.6695312f,
            0.68359375f, 0.6976563f, 0.7117188f, 0.72578126f, 0.7398437f, 0.75390625f, 0.7679688f, 0.78203124f,
            0.79609376f, 0.8101562f, 0.82421875f, 0.8382813f, 0.85234374f, 0.86640626f, 0.8804687f, 0.89453125f,
            0.9085938f, 0.92265624f, 0.93671876f, 0.9507812f, 0.96484375f, 0.9789063f, 0.99296874f, 1.0f,
    };

    /** NF4 decision thresholds, csrc/kernels.cu dQuantizeNF4 (FP32 literals = FP32 midpoints of the table). */
    private static final float T0 = 0.03979014977812767f, T1 = 0.3893125355243683f, T2 = 0.6427869200706482f,
            T3 = 0.8614784181118011f, T4 = 0.5016634166240692f, T5 = 0.2035212516784668f, T6 = 0.2920137718319893f,
            T7 = 0.1202552504837513f, T8 = -0.33967943489551544f, T9 = -0.13791173323988914f,
            T10 = -0.045525018125772476f, T11 = -0.23460740596055984f, T12 = -0.6106329262256622f,
            T13 = -0.4599952697753906f, T14 = -0.8480964004993439f;

    /** The 15 NF4 thresholds in ascending order (tests). */
    static float[] nf4Thresholds() {
        return new float[]{T14, T12, T13, T8, T11, T9, T10, T0, T7, T5, T6, T1, T4, T2, T3};
    }

    /** Elements quantized per parallel chunk (a multiple of every block size). */
    private static final int CHUNK = 1 << 16;
    /** Per-thread chunk buffer: quantizing a 7B model passes 6.5 G values through it, which must not become garbage. */
    private static final ThreadLocal<float[]> CHUNK_BUFFER = ThreadLocal.withInitial(() -> new float[CHUNK + 1]);

    private Nf4Codec() {
    }

    /** A copy of the signed dynamic 8-bit map (256 values from −0.99296874 to 1). */
    public static float[] dynamicMap() {
        return DYNAMIC_MAP.clone();
    }

    // ------------------------------------------------------------------ the code decisions

    /** csrc/kernels.cu {@code dQuantizeNF4}: the 4-bit code of a scaled value. */
    static int quantizeNf4(float x) {
        if (x > T0) {
            if (x > T1) {
                if (x > T2) return x > T3 ? 0b1111 : 0b1110;
                return x > T4 ? 0b1101 : 0b1100;
            }
            if (x > T5) return x > T6 ? 0b1011 : 0b1010;
            return x > T7 ? 0b1001 : 0b1000;
        }
        if (x > T8) {
            if (x > T9) return x > T10 ? 0b0111 : 0b0110;
            return x > T11 ? 0b0101 : 0b0100;
        }
        if (x > T12) return x > T13 ? 0b0011 : 0b0010;
        return x > T14 ? 0b0001 : 0b0000;
    }

    /** csrc/kernels.cu {@code dQuantizeFP4}: sign bit from {@code x < 0}, then a tree on |x|. */
    static int quantizeFp4(float x) {
        int sign = x < 0 ? 0b1000 : 0;
        x = Math.abs(x);
        if (x > 0.29166667f) {
            if (x > 0.583333f) return (x > 0.8333333f ? 0b0011 : 0b0010) + sign;
            return (x > 0.4166667f ? 0b0101 : 0b0100) + sign;
        }
        if (x > 0.0859375f) return (x > 0.20833333f ? 0b0111 : 0b0110) + sign;
        return (x > 0.00260417f ? 0b0001 : 0b0000) + sign;
    }

    static int quantize4(QuantType t, float x) {
        return t == QuantType.NF4 ? quantizeNf4(x) : quantizeFp4(x);
    }

    /**
     * csrc/kernels.cu {@code dQuantize<0>}: the 8-bit code of x in a sorted 256-value map, by a
     * 7-step binary search from pivot 127, then the FP32 midpoint of the neighbours: a value above
     * the pivot takes the upper neighbour when {@code x > (upper + val) · 0.5f}, one below takes the
     * lower neighbour when {@code x < (lower + val) · 0.5f}, otherwise the pivot.
     */
    static int quantize8(float[] code, float x) {
        int pivot = 127, upperPivot = 255, lowerPivot = 0;
        float lower = -1.0f, upper = 1.0f;
        float val = code[pivot];
        for (int i = 64; i > 0; i >>= 1) {
            if (x > val) {
                lowerPivot = pivot;
                lower = val;
                pivot += i;
            } else {
                upperPivot = pivot;
                upper = val;
                pivot -= i;
            }
            val = code[pivot];
        }
        if (upperPivot == 255) upper = code[upperPivot];
        if (lowerPivot == 0) lower = code[lowerPivot];
        if (x > val) {
            float midpoint = (upper + val) * 0.5f;
            return x > midpoint ? upperPivot : pivot;
        }
        float midpoint = (lower + val) * 0.5f;
        return x < midpoint ? lowerPivot : pivot;
    }

    // ------------------------------------------------------------------ quantize

    /**
     * Quantizes a dense weight (F32/BF16/F16, usually memory-mapped) into segments of {@code arena}
     * (off-heap: a large model's 4-bit copy stays out of the Java heap). Rows are converted and
     * quantized in parallel chunks.
     *
     * @throws Finetune4jException naming the tensor and the element for a NaN or infinite value
     */
    public static QuantizedWeight quantize(Weight d, QuantSpec spec, Arena arena) {
        int cols = d.cols();
        FloatSource src = (first, out, n) -> {
            int i = 0;
            while (i < n) {
                long e = first + i;
                int r = (int) (e / cols), c = (int) (e % cols);
                int take = Math.min(n - i, cols - c);
                if (c == 0 && take == cols) {
                    d.rowToFloat(r, out, i);
                } else {
                    for (int j = 0; j < take; j++) out[i + j] = d.dtype().getFloat(d.data(), e + j);
                }
                i += take;
            }
        };
        return quantize(d.name(), d.rows(), d.cols(), d.dtype(), src, spec, arena);
    }

    /** Quantizes FP32 values (row-major {@code (rows, cols)}) into heap-backed segments: tests and small tensors. */
    public static QuantizedWeight quantize(String name, float[] values, int rows, int cols, DType dtype, QuantSpec spec) {
        if (values.length != (long) rows * cols) {
            throw new IllegalArgumentException(name + ": " + values.length + " values for (" + rows + ", " + cols + ")");
        }
        return quantize(name, rows, cols, dtype, (first, out, n) -> System.arraycopy(values, (int) first, out, 0, n),
                spec, null);
    }

    /**
     * Quantizes the values {@code src} yields for a {@code (rows, cols)} weight.
     *
     * @param dtype the dtype the values come from (recorded as the quant state's {@code dtype})
     * @param arena where the segments live; null for heap-backed segments (small tensors)
     */
    public static QuantizedWeight quantize(String name, int rows, int cols, DType dtype, FloatSource src, QuantSpec spec,
                                           Arena arena) {
        long n = (long) rows * cols;
        int bs = spec.blocksize();
        int blocks = (int) QuantizedWeight.blocks(n, bs);
        MemorySegment packed = allocate(arena, QuantizedWeight.packedBytes(n));
        float[] absmax = new float[blocks];
        int chunks = (int) ((n + CHUNK - 1) / CHUNK);
        KernelThreads.run(chunks, ch -> quantizeChunk(name, cols, src, spec, (long) ch * CHUNK, (int) Math.min(CHUNK, n - (long) ch * CHUNK),
                n, packed, absmax));
        QuantizedWeight.Scales scales = spec.doubleQuant() ? doubleQuantize(absmax, arena) : plain(absmax, arena);
        return new QuantizedWeight(name, spec.type(), rows, cols, bs, packed, scales, dtype);
    }

    /** Elements [first, first + len) (a whole number of blocks, except at the end of the tensor). */
    private static void quantizeChunk(String name, int cols, FloatSource src, QuantSpec spec, long first, int len, long n,
                                      MemorySegment packed, float[] absmax) {
        float[] x = CHUNK_BUFFER.get();
        src.read(first, x, len);
        int bs = spec.blocksize();
        QuantType t = spec.type();
        for (int i = 0; i < len; i++) {
            if (!Float.isFinite(x[i])) {
                long e = first + i;
                throw new Finetune4jException("cannot quantize '" + name + "': element [" + e / cols + ", " + e % cols
                        + "] is " + x[i] + " (4-bit quantization needs finite weights; hint: the checkpoint is damaged"
                        + " or training diverged)");
            }
        }
        float inv = 0f;
        for (int b0 = 0; b0 < len; b0 += bs) {
            int b1 = Math.min(len, b0 + bs);
            float m = 0f;
            for (int i = b0; i < b1; i++) m = Math.max(m, Math.abs(x[i]));
            absmax[(int) ((first + b0) / bs)] = m;
            inv = 1.0f / m;
            for (int i = b0; i < b1; i++) x[i] = x[i] * inv;
        }
        boolean pad = first + len == n && (n & 1) == 1;
        if (pad) x[len] = 0.0f * inv;                       // the kernel loads the missing element as 0
        int bytes = (len + 1) / 2;
        long base = first / 2;
        for (int j = 0; j < bytes; j++) {
            int hi = quantize4(t, x[2 * j]);
            int lo = 2 * j + 1 < len || pad ? quantize4(t, x[2 * j + 1]) : 0;
            packed.set(ValueLayout.JAVA_BYTE, base + j, (byte) (hi << 4 | lo));
        }
    }

    private static QuantizedWeight.Scales plain(float[] absmax, Arena arena) {
        MemorySegment s = allocate(arena, 4L * absmax.length);
        MemorySegment.copy(absmax, 0, s, ValueLayout.JAVA_FLOAT_UNALIGNED, 0, absmax.length);
        return new QuantizedWeight.Scales.Absmax(s);
    }

    /**
     * bitsandbytes' double quantization of the block scales: offset = mean, then 8-bit blockwise
     * quantization of {@code absmax − offset} with the dynamic map in blocks of 256.
     */
    static QuantizedWeight.Scales.Nested doubleQuantize(float[] absmax, Arena arena) {
        int nb = absmax.length;
        double sum = 0;
        for (float a : absmax) sum += a;                    // sequential, in double (see the class comment)
        float offset = (float) (sum / nb);
        int groups = (nb + NESTED_BLOCKSIZE - 1) / NESTED_BLOCKSIZE;
        MemorySegment q = allocate(arena, nb);
        MemorySegment absmax2 = allocate(arena, 4L * groups);
        for (int g = 0; g < groups; g++) {
            int b0 = g * NESTED_BLOCKSIZE, b1 = Math.min(nb, b0 + NESTED_BLOCKSIZE);
            float m = 0f;
            for (int i = b0; i < b1; i++) m = Math.max(m, Math.abs(absmax[i] - offset));
            absmax2.set(ValueLayout.JAVA_FLOAT_UNALIGNED, 4L * g, m);
            float inv = 1.0f / m;
            for (int i = b0; i < b1; i++) {
                q.set(ValueLayout.JAVA_BYTE, i, (byte) quantize8(DYNAMIC_MAP, (absmax[i] - offset) * inv));
            }
        }
        return new QuantizedWeight.Scales.Nested(q, absmax2, DYNAMIC_MAP, offset, NESTED_BLOCKSIZE);
    }

    private static MemorySegment allocate(Arena arena, long bytes) {
        if (arena != null) return arena.allocate(Math.max(1, bytes), 64).asSlice(0, bytes);
        if (bytes > Integer.MAX_VALUE - 8) throw new IllegalArgumentException(bytes + " bytes do not fit a heap array");
        return MemorySegment.ofArray(new byte[(int) bytes]);
    }
}
