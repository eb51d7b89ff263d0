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
 *   <li>Otherwise (memory-mapped F32, BF16, F16, or 4-bit NF4/FP4, dequantized by
 *       {@link Dequant4}) w is converted to FP32 one slab of
 *       {@link #SLAB} rows at a time into a per-thread buffer of {@code (SLAB, K)}, and each slab
 *       adds its share {@code dy[:, n0:n0+SLAB] · w[n0:n0+SLAB, :]} to dx: the reduction over N
 *       is cut exactly where {@link Gemm} cuts its K blocks ({@link Gemm#KC}), so no FP32 copy of
 *       the whole weight ever exists and every element is converted once per call.</li>
 * </ul>
 * The slab conversion is split over the kernel threads when large; each slab's product runs on
 * the pool inside {@link Gemm#multiply}.
 */
final class LinearBackward {
    /** Weight rows converted per slab: one K block of the GEMM. */
    static final int SLAB = Gemm.KC;
    /** Slabs smaller than this many elements are converted by the calling thread alone. */
    private static final int PARALLEL_MIN_CONVERT = 1 << 16;

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
        float[] slab = slab(SLAB * k);
        for (int n0 = 0; n0 < n; n0 += SLAB) {
            int rows = Math.min(SLAB, n - n0);
            convert(w, n0, rows, k, slab);
            // dx (+)= dy[:, n0:n0+rows] (M, rows) · slab (rows, K)
            Gemm.multiply(new Gemm.MatrixA(dy, dyOff + n0, n, false), new Gemm.ArrayB(slab, 0, k, false),
                    m, k, rows, accumulate || n0 > 0 ? 1f : 0f, dx, dxOff, k);
        }
    }

    /** Rows [n0, n0 + rows) of w as FP32 into slab (rows, K). */
    private static void convert(LinearWeight w, int n0, int rows, int k, float[] slab) {
        if ((long) rows * k < PARALLEL_MIN_CONVERT) {
            for (int r = 0; r < rows; r++) convertRow(w, n0 + r, k, slab, r * k);
            return;
        }
        int chunks = Math.min(rows, 2 * KernelThreads.parallelism());
        int per = (rows + chunks - 1) / chunks;
        KernelThreads.run((rows + per - 1) / per, c -> {
            for (int r = c * per, end = Math.min(rows, r + per); r < end; r++) convertRow(w, n0 + r, k, slab, r * k);
        });
    }

    private static void convertRow(LinearWeight w, int row, int k, float[] dst, int off) {
        switch (w) {
            case Weight d -> Convert.toFloat(d.dtype(), d.data(), (long) row * k, dst, off, k);
            case QuantizedWeight q -> Dequant4.toFloat(q, (long) row * k, k, dst, off);
        }
    }


    private static float[] slab(int size) {
        float[][] holder = SLABS.get();
        if (holder[0].length < size) holder[0] = new float[size];
        return holder[0];
    }
}
