package finetune4j.engine.kernels.vector;

import finetune4j.engine.kernels.KernelThreads;
import finetune4j.engine.tensor.LinearWeight;
import finetune4j.engine.tensor.QuantizedWeight;
import finetune4j.engine.tensor.Weight;

/**
 * The Linear backward to the input, {@code dx(M, K) (+)= dy(M, N) · w(N, K)}, for a weight in its
 * stored dtype: the product's right operand is w itself (not transposed), so its rows are the
 * contiguous K-vectors the packed GEMM wants.
 *
 * <ul>
 *   <li>A heap FP32 weight (a trainable copy) is the GEMM operand directly.</li>
 *   <li>Otherwise (memory-mapped F32, BF16, F16, or 4-bit NF4/FP4 dequantized by
 *       {@link Dequant4}) w is converted to FP32 one slab of
 *       {@link #SLAB} rows at a time into a per-thread buffer, and each slab adds its share
 *       {@code dy[:, n0:n0+SLAB] · w[n0:n0+SLAB, :]} to dx: the reduction over N is cut exactly
 *       where {@link Gemm} cuts its K blocks ({@link Gemm#KC}), so no FP32 copy of the whole
 *       weight ever exists.</li>
 * </ul>
 *
 * <p>Threads: one dispatch per call; each thread walks every slab for its own part of dx, so the
 * slabs need no hand-over between threads. The part is a block of rows when M is large (training:
 * M = B·T) — a thread then packs only its rows of dy, and converts the slabs itself, K·N elements
 * next to (M/threads)·K·N multiply-adds — or a block of columns when M is small (the head's
 * chunks, prefill): each thread then converts only its columns of the weight, which is read once.
 * Measured on smollm-135m LoRA training: the former design (one parallel GEMM and one parallel
 * conversion per 128-row slab) made ~12,000 pool dispatches per step, and its column split had
 * both threads pack all of dy.
 */
final class LinearBackward {
    /** Weight rows converted per slab: one K block of the GEMM. */
    static final int SLAB = Gemm.KC;
    /** From this many rows of dy on, threads split rows (else columns of dx). */
    static final int ROWS_SPLIT_MIN = 256;

    private static final ThreadLocal<float[][]> SLABS = ThreadLocal.withInitial(() -> new float[1][0]);

    private LinearBackward() {
    }

    static void backward(float[] dx, int dxOff, float[] dy, int dyOff, LinearWeight w, int m, boolean accumulate) {
        int n = w.rows(), k = w.cols();
        if (m == 0 || k == 0) return;
        if (n == 0) {                                           // an empty sum: dx = 0, or unchanged
            if (!accumulate) java.util.Arrays.fill(dx, dxOff, dxOff + m * k, 0f);
            return;
        }
        float[] heap = w instanceof Weight d ? d.heapArray() : null;
        if (heap != null) {
            Gemm.multiply(new Gemm.MatrixA(dy, dyOff, n, false), new Gemm.ArrayB(heap, 0, k, false),
                    m, k, n, accumulate ? 1f : 0f, dx, dxOff, k);
            return;
        }
        int threads = KernelThreads.parallelism();
        if (threads == 1 || (long) m * n * k < Gemm.PARALLEL_MIN_MACS) {
            part(dx, dxOff, dy, dyOff, w, 0, m, 0, k, accumulate);
            return;
        }
        // rows when there are many (packing dy is a strided copy, converting w a contiguous one, so
        // rows win from a few hundred on whatever K), else columns; chunks aligned to the micro-tile
        int mPanels = (m + Gemm.MR - 1) / Gemm.MR, kPanels = (k + Gemm.NR - 1) / Gemm.NR;
        if ((m >= ROWS_SPLIT_MIN || m >= k) && mPanels >= threads) {
            int chunks = threads;                               // each chunk streams the whole weight: no more than needed
            int per = (mPanels + chunks - 1) / chunks * Gemm.MR;
            KernelThreads.run((m + per - 1) / per, c -> part(dx, dxOff, dy, dyOff, w, c * per, Math.min(m, c * per + per),
                    0, k, accumulate));
        } else {
            int chunks = Math.min(kPanels, 2 * threads);
            int per = (kPanels + chunks - 1) / chunks * Gemm.NR;
            KernelThreads.run((k + per - 1) / per, c -> part(dx, dxOff, dy, dyOff, w, 0, m, c * per,
                    Math.min(k, c * per + per), accumulate));
        }
    }

    /** dx[i0:i1, k0:k1] (+)= dy[i0:i1, :] · w[:, k0:k1], on the calling thread. */
    private static void part(float[] dx, int dxOff, float[] dy, int dyOff, LinearWeight w, int i0, int i1, int k0, int k1,
                             boolean accumulate) {
        int n = w.rows(), k = w.cols(), kw = k1 - k0;
        float[] slab = slab(SLAB * kw);                        // (SLAB, kw)
        for (int n0 = 0; n0 < n; n0 += SLAB) {
            int rows = Math.min(SLAB, n - n0);
            for (int r = 0; r < rows; r++) convert(w, (long) (n0 + r) * k + k0, kw, slab, r * kw);
            Gemm.multiplySequential(new Gemm.MatrixA(dy, dyOff + i0 * n + n0, n, false), new Gemm.ArrayB(slab, 0, kw, false),
                    i1 - i0, kw, rows, accumulate || n0 > 0 ? 1f : 0f, dx, dxOff + i0 * k + k0, k);
        }
    }

    /** Elements [first, first + n) of w's row-major flattening as FP32 into dst[off ..]. */
    private static void convert(LinearWeight w, long first, int n, float[] dst, int off) {
        switch (w) {
            case Weight d -> Convert.toFloat(d.dtype(), d.data(), first, dst, off, n);
            case QuantizedWeight q -> Dequant4.toFloat(q, first, n, dst, off);
        }
    }

    private static float[] slab(int size) {
        float[][] holder = SLABS.get();
        if (holder[0].length < size) holder[0] = new float[size];
        return holder[0];
    }
}
