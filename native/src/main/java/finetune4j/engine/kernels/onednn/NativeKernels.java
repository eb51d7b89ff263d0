package finetune4j.engine.kernels.onednn;

import finetune4j.engine.kernels.KernelThreads;
import finetune4j.engine.kernels.Kernels;
import finetune4j.engine.kernels.vector.NativeBuffers;
import finetune4j.engine.tensor.DType;
import finetune4j.engine.tensor.LinearWeight;
import finetune4j.engine.tensor.QuantizedWeight;
import finetune4j.engine.tensor.Weight;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The native backend ({@code --kernels native}): the Linear products over frozen weights run as
 * oneDNN bf16 × bf16 → f32 matrix products (AMX or AVX-512-BF16, whichever the CPU has), everything
 * else is delegated to the Java kernels.
 *
 * <p>What runs natively, and how:
 * <ul>
 *   <li>{@link #linear} {@code out = x·Wᵀ} and {@link #linearBackward} {@code dx = dy·W} when W is a
 *       frozen weight (an off-heap segment: mapped from a model file or quantized and packed; a
 *       heap {@code float[]} weight is trainable and may change between calls, so it stays on the
 *       Java path in FP32) and M ≥ {@link #minRows} (fewer rows are decode steps, bound by
 *       reading the weights, which the Java GEMV streams in their stored dtype).</li>
 *   <li>W is read in bf16 in the plain layout (a BF16 weight as stored, others converted once), or
 *       with {@link WeightLayout#PACKED} converted and reordered into the primitive's blocked
 *       layout once per weight and direction ({@link PackedWeights}, memory counted in
 *       {@link #packedBytes()}); the
 *       activations are rounded to bf16 on the fly (round to nearest even, as torch does), the
 *       products accumulate in f32. This is PyTorch's bf16 autocast for a Linear layer.</li>
 *   <li>A 4-bit weight ({@link QuantizedWeight}, NF4/FP4) is dequantized to bf16 for each call
 *       into one reused native buffer, row blocks on the kernel threads (keeping 2 bytes per
 *       weight would undo the 4-bit saving), then multiplied in the plain layout
 *       ({@link MatmulPlan.Key#plain}): bitsandbytes' {@code MatMul4Bit} with a bf16 compute
 *       dtype does the same.</li>
 *   <li>One primitive per (direction, M, P, Q), created on first use and kept (least recently
 *       used beyond {@value #MAX_PLANS} are freed).</li>
 * </ul>
 *
 * <p>Numerics: each output is a K-term dot product of bf16-rounded inputs (8 significant bits:
 * relative rounding error at most 2⁻⁸ each) accumulated in f32, so
 * {@code |out − exact| ≤ (2⁻⁷ + K·2⁻²⁴)·Σ|x·w|}; on random data the error is about
 * {@code 2⁻⁸·sqrt(K)·rms(x·w)}.
 *
 * <p>Calls into oneDNN are serialized by a lock (oneDNN itself runs each product on all its
 * OpenMP threads); the delegated kernels are not.
 */
public final class NativeKernels implements Kernels {
    /** Products with fewer rows go to the Java kernels. */
    public static final int DEFAULT_MIN_ROWS = 16;

    /**
     * How dense frozen weights are given to oneDNN ({@code -Dfinetune4j.native.weights=plain|packed}).
     * {@code PLAIN} (default): the plain row-major layout, read by both directions: a BF16 weight
     * (what released checkpoints store) is used as stored, with no copy, an F32/F16 one gets one
     * bf16 copy. {@code PACKED}: a bf16 copy per direction in the blocked layout the primitive
     * prefers: two more copies of the base in memory (a dense 7B model would need 26 GB more)
     * for products measured no faster on the shapes of the benchmarks (1024×2048×5632 on AMX, 2
     * threads: 776 GFLOP/s plain, 773 packed).
     */
    public enum WeightLayout {
        PACKED, PLAIN;

        public static final String PROPERTY = "finetune4j.native.weights";

        static WeightLayout fromProperty() {
            String v = System.getProperty(PROPERTY, "plain").trim().toLowerCase(Locale.ROOT);
            return switch (v) {
                case "packed" -> PACKED;
                case "plain" -> PLAIN;
                default -> throw new finetune4j.ConfigException("-D" + PROPERTY, v, "plain or packed");
            };
        }
    }
    /** Primitives kept; the least recently used beyond this are destroyed. */
    static final int MAX_PLANS = 128;
    /** Conversions and copies below this many elements stay on the calling thread. */
    private static final int PARALLEL_MIN_ELEMENTS = 1 << 16;
    /** The conversions use the Vector API ({@link NativeBuffers}) where the JVM has it, else scalar loops. */
    private static final boolean VECTOR = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();

    private final OneDnn dnn;
    private final Kernels java;
    private final int minRows;
    private final WeightLayout layout;
    private final ReentrantLock lock = new ReentrantLock();
    private final PackedWeights packed;
    private final Map<MatmulPlan.Key, MatmulPlan> plans = new LinkedHashMap<>(16, 0.75f, true);
    private final Map<MatmulPlan.Key, Boolean> unsupported = new HashMap<>();
    private MemorySegment src = MemorySegment.NULL, dst = MemorySegment.NULL;   // scratch: bf16 input, f32 output
    private MemorySegment wbuf = MemorySegment.NULL;                            // scratch: a 4-bit weight in bf16 (N, K)

    /**
     * @param java    the kernels everything else is delegated to (the Vector API ones)
     * @param minRows products of fewer rows go to {@code java}
     */
    NativeKernels(OneDnn dnn, Kernels java, int minRows) {
        this(dnn, java, minRows, WeightLayout.fromProperty());
    }

    /**
     * @param layout how dense frozen weights are held for oneDNN (see {@link WeightLayout})
     */
    NativeKernels(OneDnn dnn, Kernels java, int minRows, WeightLayout layout) {
        if (minRows < 1) throw new IllegalArgumentException("minRows must be >= 1, got " + minRows);
        this.dnn = dnn;
        this.java = java;
        this.minRows = minRows;
        this.layout = layout;
        this.packed = new PackedWeights(dnn);
    }

    @Override
    public String name() {
        return "native";
    }

    /** The kernels everything but the frozen-weight products goes to. */
    public Kernels delegate() {
        return java;
    }

    /** Products with fewer rows than this go to the Java kernels. */
    public int minRows() {
        return minRows;
    }

    /** How dense frozen weights are held for oneDNN. */
    public WeightLayout weightLayout() {
        return layout;
    }

    /** Bytes of native memory held by packed bf16 weights. */
    public long packedBytes() {
        lock.lock();
        try {
            packed.expunge();
            return packed.bytes();
        } finally {
            lock.unlock();
        }
    }

    /** oneDNN's version, the instruction set it dispatches to, and the implementations of the primitives made so far. */
    public String describe() {
        lock.lock();
        try {
            StringBuilder sb = new StringBuilder("oneDNN ").append(dnn.version()).append(", ")
                    .append(OneDnn.isaName(dnn.effectiveIsa())).append(", weights ")
                    .append(layout.name().toLowerCase(Locale.ROOT));
            plans.values().stream().map(p -> p.implementation).distinct().forEach(i -> sb.append(", ").append(i));
            return sb.toString();
        } finally {
            lock.unlock();
        }
    }

    /** True when a product over {@code w} with {@code m} rows runs in oneDNN. */
    boolean runsNatively(LinearWeight lw, int m) {
        if (m < minRows) return false;
        return switch (lw) {
            case QuantizedWeight q -> true;
            case Weight w -> w.data().isNative()
                    && (w.dtype() == DType.F32 || w.dtype() == DType.BF16 || w.dtype() == DType.F16);
        };
    }

    // ------------------------------------------------------------------ native products

    @Override
    public void linear(float[] out, int outOff, float[] x, int xOff, LinearWeight w, int m, boolean accumulate) {
        if (!runsNatively(w, m)
                || !product(MatmulPlan.Direction.FORWARD, out, outOff, x, xOff, w, m, w.cols(), w.rows(), accumulate)) {
            java.linear(out, outOff, x, xOff, w, m, accumulate);
        }
    }

    @Override
    public void linearBackward(float[] dx, int dxOff, float[] dy, int dyOff, LinearWeight w, int m, boolean accumulate) {
        if (!runsNatively(w, m)
                || !product(MatmulPlan.Direction.BACKWARD, dx, dxOff, dy, dyOff, w, m, w.rows(), w.cols(), accumulate)) {
            java.linearBackward(dx, dxOff, dy, dyOff, w, m, accumulate);
        }
    }

    /**
     * {@code out(M, Q) (+)= in(M, P) · Wᵀ or W}; false when oneDNN has no primitive for the shape
     * (the caller then uses the Java kernels).
     */
    private boolean product(MatmulPlan.Direction dir, float[] out, int outOff, float[] in, int inOff, LinearWeight w,
                            int m, int p, int q, boolean accumulate) {
        checkMatrix("input", in, inOff, m, p);
        checkMatrix("output", out, outOff, m, q);
        long inCount = (long) m * p, outCount = (long) m * q;
        lock.lock();
        try {
            MatmulPlan plan = plan(new MatmulPlan.Key(dir, m, p, q, w instanceof QuantizedWeight || layout == WeightLayout.PLAIN));
            if (plan == null) return false;
            long t0 = System.nanoTime();
            MemorySegment wei = switch (w) {
                case Weight dense -> packed.get(dense, plan);
                case QuantizedWeight qw -> dequantized(qw);
            };
            if (src.byteSize() < 2 * inCount) src = Arena.ofAuto().allocate(Math.max(2 * inCount, src.byteSize() * 3 / 2), 4096);
            if (dst.byteSize() < 4 * outCount) dst = Arena.ofAuto().allocate(Math.max(4 * outCount, dst.byteSize() * 3 / 2), 4096);
            toBf16(src, in, inOff, (int) inCount);
            long t1 = System.nanoTime();
            plan.run(src, wei, dst);
            long t2 = System.nanoTime();
            copyOut(out, outOff, dst, (int) outCount, accumulate);
            long t3 = System.nanoTime();
            plan.record(t1 - t0, t2 - t1, t3 - t2);
            return true;
        } finally {
            lock.unlock();
        }
    }

    /**
     * {@code w} (N, K) dequantized to bf16 row-major into the reused buffer {@code wbuf} (read as
     * (K, N) column-major forward, (N, K) row-major backward: the plain layouts), a block of rows
     * per kernel-thread chunk. Called under the lock.
     */
    private MemorySegment dequantized(QuantizedWeight w) {
        int rows = w.rows(), cols = w.cols();
        long bytes = 2L * rows * cols;
        if (wbuf.byteSize() < bytes) wbuf = Arena.ofAuto().allocate(bytes, 4096);
        MemorySegment dst = wbuf;
        int threads = KernelThreads.parallelism();
        int rowsPer = threads == 1 ? rows : Math.max(1, (rows + 4 * threads - 1) / (4 * threads));
        KernelThreads.run((rows + rowsPer - 1) / rowsPer, c -> {
            float[] row = ROW.get();
            if (row.length < cols) ROW.set(row = new float[cols]);
            for (int r = c * rowsPer, end = Math.min(rows, r + rowsPer); r < end; r++) {
                if (VECTOR) {
                    NativeBuffers.dequantize(w, (long) r * cols, cols, row, 0);
                    NativeBuffers.floatToBf16(row, 0, dst, 2L * r * cols, cols);
                } else {
                    w.dequantize((long) r * cols, cols, row, 0);
                    for (int i = 0; i < cols; i++) {
                        dst.set(ValueLayout.JAVA_SHORT_UNALIGNED, 2L * ((long) r * cols + i), DType.floatToBf16(row[i]));
                    }
                }
            }
        });
        return dst;
    }

    /** Per kernel thread: one dequantized row (FP32) on its way to bf16. */
    private static final ThreadLocal<float[]> ROW = ThreadLocal.withInitial(() -> new float[0]);

    /**
     * Where the time of the native products of one shape went since the last
     * {@link #resetStats()}: per part (bf16 conversion of the input, and dequantization of a 4-bit weight; the oneDNN product, the copy of
     * the output back to the heap) the fastest call, in nanoseconds, and the totals.
     *
     * @param direction "forward" ({@code x·Wᵀ}) or "backward" ({@code dy·W})
     * @param m         rows; {@code k} reduced dimension; {@code n} output columns
     */
    public record ShapeStats(String direction, int m, int k, int n, String implementation, long calls,
                             long minConvertNanos, long minMatmulNanos, long minCopyNanos, long totalNanos) {
        public double flops() {
            return 2.0 * m * k * n;
        }

        /** The best rate of the oneDNN product alone, GFLOP/s. */
        public double matmulGflops() {
            return flops() / minMatmulNanos;
        }

        /** The best rate of a whole call (conversion and copy included), GFLOP/s. */
        public double callGflops() {
            return flops() / (minConvertNanos + minMatmulNanos + minCopyNanos);
        }
    }

    /** The statistics of every shape run since the last reset (primitives still cached). */
    public List<ShapeStats> stats() {
        lock.lock();
        try {
            List<ShapeStats> out = new ArrayList<>();
            for (MatmulPlan p : plans.values()) {
                if (p.calls == 0) continue;
                MatmulPlan.Key key = p.key;
                out.add(new ShapeStats(key.direction().name().toLowerCase(Locale.ROOT), key.m(), key.p(), key.q(),
                        p.implementation, p.calls, p.minConvert, p.minMatmul, p.minCopy, p.totalNanos));
            }
            return out;
        } finally {
            lock.unlock();
        }
    }

    /** Starts {@link #stats()} afresh. */
    public void resetStats() {
        lock.lock();
        try {
            for (MatmulPlan p : plans.values()) p.resetStats();
        } finally {
            lock.unlock();
        }
    }

    private MatmulPlan plan(MatmulPlan.Key key) {
        MatmulPlan plan = plans.get(key);
        if (plan != null || unsupported.containsKey(key)) return plan;
        plan = MatmulPlan.create(dnn, key);
        if (plan == null) {
            unsupported.put(key, Boolean.TRUE);
            return null;
        }
        plans.put(key, plan);
        if (plans.size() > MAX_PLANS) {
            var it = plans.entrySet().iterator();
            MatmulPlan eldest = it.next().getValue();
            it.remove();
            eldest.destroy();
        }
        return plan;
    }

    private static void checkMatrix(String what, float[] a, int off, int rows, int cols) {
        long need = (long) rows * cols;
        if (off < 0 || rows < 0 || off + need > a.length) {
            throw new IllegalArgumentException(what + ": (" + rows + ", " + cols + ") from offset " + off
                    + " does not fit an array of " + a.length);
        }
    }

    /** {@code dst[i] = bf16(src[srcOff + i])}, round to nearest even, on the kernel threads when large. */
    static void toBf16(MemorySegment dst, float[] src, int srcOff, int n) {
        chunks(n, (from, to) -> {
            if (VECTOR) {
                NativeBuffers.floatToBf16(src, srcOff + from, dst, 2L * from, to - from);
            } else {
                for (int i = from; i < to; i++) {
                    dst.set(ValueLayout.JAVA_SHORT_UNALIGNED, 2L * i, DType.floatToBf16(src[srcOff + i]));
                }
            }
        });
    }

    /** {@code out[outOff + i] (+)= src[i]} for the f32 segment {@code src}, on the kernel threads when large. */
    static void copyOut(float[] out, int outOff, MemorySegment src, int n, boolean accumulate) {
        chunks(n, (from, to) -> {
            if (!accumulate) {
                MemorySegment.copy(src, ValueLayout.JAVA_FLOAT, 4L * from, out, outOff + from, to - from);
            } else if (VECTOR) {
                NativeBuffers.addFloats(out, outOff + from, src, 4L * from, to - from);
            } else {
                for (int i = from; i < to; i++) out[outOff + i] += src.getAtIndex(ValueLayout.JAVA_FLOAT, i);
            }
        });
    }

    @FunctionalInterface
    private interface Range {
        void run(int from, int to);
    }

    private static void chunks(int n, Range r) {
        int threads = KernelThreads.parallelism();
        if (n < PARALLEL_MIN_ELEMENTS || threads == 1) {
            r.run(0, n);
            return;
        }
        int parts = 2 * threads;
        int per = ((n + parts - 1) / parts + 15) & ~15;
        KernelThreads.run((n + per - 1) / per, c -> r.run(c * per, Math.min(n, c * per + per)));
    }

    // ------------------------------------------------------------------ delegated to the Java kernels

    @Override
    public void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                     float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                     float beta, float[] c, int cOff, int ldc) {
        java.gemm(transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
    }

    @Override
    public void rmsnorm(float[] out, int outOff, float[] rstd, int rstdOff, float[] x, int xOff,
                        float[] weight, int m, int c, float eps) {
        java.rmsnorm(out, outOff, rstd, rstdOff, x, xOff, weight, m, c, eps);
    }

    @Override
    public void rope(float[] x, int xOff, int m, int heads, int headDim, int[] pos, int posOff, float[] cos, float[] sin) {
        java.rope(x, xOff, m, heads, headDim, pos, posOff, cos, sin);
    }

    @Override
    public void siluMul(float[] out, int outOff, float[] gate, int gateOff, float[] up, int upOff, int n) {
        java.siluMul(out, outOff, gate, gateOff, up, upOff, n);
    }

    @Override
    public void add(float[] out, int outOff, float[] a, int aOff, float[] b, int bOff, int n) {
        java.add(out, outOff, a, aOff, b, bOff, n);
    }

    @Override
    public void attention(float[] out, int outOff, float[] att, int attOff, float[] q, int qOff, float[] k, int kOff,
                          float[] v, int vOff, int tq, int tk, int past, int heads, int kvHeads, int headDim) {
        java.attention(out, outOff, att, attOff, q, qOff, k, kOff, v, vOff, tq, tk, past, heads, kvHeads, headDim);
    }

    @Override
    public void softmax(float[] x, int off, int n) {
        java.softmax(x, off, n);
    }

    @Override
    public void dropout(float[] out, int outOff, float[] x, int xOff, int m, int k, long base, double p) {
        java.dropout(out, outOff, x, xOff, m, k, base, p);
    }

    @Override
    public void rmsnormBackward(float[] dx, int dxOff, float[] dweight, float[] dout, int doutOff, float[] x, int xOff,
                                float[] weight, float[] rstd, int rstdOff, int m, int c) {
        java.rmsnormBackward(dx, dxOff, dweight, dout, doutOff, x, xOff, weight, rstd, rstdOff, m, c);
    }

    @Override
    public void ropeBackward(float[] dx, int dxOff, int m, int heads, int headDim, int[] pos, int posOff,
                             float[] cos, float[] sin) {
        java.ropeBackward(dx, dxOff, m, heads, headDim, pos, posOff, cos, sin);
    }

    @Override
    public void siluMulBackward(float[] dgate, int dgateOff, float[] dup, int dupOff, float[] dout, int doutOff,
                                float[] gate, int gateOff, float[] up, int upOff, int n) {
        java.siluMulBackward(dgate, dgateOff, dup, dupOff, dout, doutOff, gate, gateOff, up, upOff, n);
    }

    @Override
    public void attentionBackward(float[] dq, int dqOff, float[] dk, int dkOff, float[] dv, int dvOff,
                                  float[] dout, int doutOff, float[] q, int qOff, float[] k, int kOff,
                                  float[] v, int vOff, float[] att, int attOff,
                                  int b, int t, int heads, int kvHeads, int headDim) {
        java.attentionBackward(dq, dqOff, dk, dkOff, dv, dvOff, dout, doutOff, q, qOff, k, kOff, v, vOff,
                att, attOff, b, t, heads, kvHeads, headDim);
    }

    @Override
    public LossSum crossEntropy(float[] dlogits, int dlogitsOff, float[] logits, int logitsOff,
                                int[] targets, int targetsOff, int m, int v, float dscale) {
        return java.crossEntropy(dlogits, dlogitsOff, logits, logitsOff, targets, targetsOff, m, v, dscale);
    }

    @Override
    public void embeddingBackward(float[] dtable, float[] dout, int doutOff, int[] ids, int idsOff, int m, int c) {
        java.embeddingBackward(dtable, dout, doutOff, ids, idsOff, m, c);
    }
}
