package finetune4j.engine.kernels.vector;

import finetune4j.engine.kernels.KernelThreads;
import finetune4j.engine.tensor.DType;
import finetune4j.engine.tensor.QuantizedWeight;
import finetune4j.engine.tensor.Weight;

import java.lang.foreign.MemorySegment;

/**
 * The Linear forward for a few rows, {@code out(M, N) (+)= x(M, K) · wᵀ} with M ≤ {@link #MAX_M}:
 * autoregressive decode, where each weight is read once per token and the product is bound by
 * memory bandwidth, not arithmetic. (Up to M ≈ 8–16 this beats the packed GEMM, whose packing of
 * the weight per call costs more than streaming it; measured with BF16 weights beyond L3.)
 *
 * <p>Each weight row is read once: for one row of x, a BF16/F16 row is converted in registers
 * and dotted at once; otherwise it is converted to FP32 into a per-thread row buffer (it stays
 * in L1), then dotted with every x row. Threads split N into contiguous row ranges, several per
 * thread so that a thread that starts late takes fewer.
 */
final class Gemv {
    /** The largest M taken by this path; larger M goes to the packed GEMM. */
    static final int MAX_M = 8;
    /** Weights smaller than this (in bytes) are read by the calling thread alone. */
    private static final long PARALLEL_MIN_BYTES = 1L << 17;
    /** Row ranges per thread, for balance. */
    private static final int CHUNKS_PER_THREAD = 4;

    private static final ThreadLocal<float[][]> ROW = ThreadLocal.withInitial(() -> new float[1][0]);

    private Gemv() {
    }

    static void linear(float[] out, int outOff, float[] x, int xOff, Weight w, int m, boolean accumulate) {
        int n = w.rows(), k = w.cols();
        if (m == 0 || n == 0) return;
        long bytes = w.data().byteSize();
        int chunks = bytes < PARALLEL_MIN_BYTES ? 1 : Math.min(n, KernelThreads.parallelism() * CHUNKS_PER_THREAD);
        int per = (n + chunks - 1) / chunks;
        float[] heap = w.heapArray();
        DType dt = w.dtype();
        MemorySegment data = w.data();
        KernelThreads.run((n + per - 1) / per, chunk -> {
            int j0 = chunk * per, j1 = Math.min(n, j0 + per);
            if (heap != null) {
                for (int j = j0; j < j1; j++) emit(out, outOff, x, xOff, heap, j * k, k, n, j, m, accumulate);
            } else if (m == 1 && dt != DType.F32) {
                for (int j = j0; j < j1; j++) {
                    float d = Convert.dotHalf(dt == DType.BF16, data, 2L * j * k, x, xOff, k);
                    out[outOff + j] = accumulate ? out[outOff + j] + d : d;
                }
            } else {
                float[] row = rowBuffer(k);
                for (int j = j0; j < j1; j++) {
                    Convert.toFloat(dt, data, (long) j * k, row, 0, k);
                    emit(out, outOff, x, xOff, row, 0, k, n, j, m, accumulate);
                }
            }
        });
    }

    /** The same for a 4-bit weight: each row dequantized once ({@link Dequant4}), then dotted with every x row. */
    static void linear(float[] out, int outOff, float[] x, int xOff, QuantizedWeight w, int m, boolean accumulate) {
        int n = w.rows(), k = w.cols();
        if (m == 0 || n == 0) return;
        long bytes = w.storedBytes();
        int chunks = bytes < PARALLEL_MIN_BYTES / 4 ? 1 : Math.min(n, KernelThreads.parallelism() * CHUNKS_PER_THREAD);
        int per = (n + chunks - 1) / chunks;
        KernelThreads.run((n + per - 1) / per, chunk -> {
            int j0 = chunk * per, j1 = Math.min(n, j0 + per);
            float[] row = rowBuffer(k);
            for (int j = j0; j < j1; j++) {
                Dequant4.toFloat(w, (long) j * k, k, row, 0);
                emit(out, outOff, x, xOff, row, 0, k, n, j, m, accumulate);
            }
        });
    }

    /** out[r, j] (+)= x[r, :] · wRow for the m rows of x. */
    private static void emit(float[] out, int outOff, float[] x, int xOff, float[] wr, int wo, int k, int n, int j,
                             int m, boolean accumulate) {
        for (int r = 0; r < m; r++) {
            float d = Vec.dot(x, xOff + r * k, wr, wo, k);
            int o = outOff + r * n + j;
            out[o] = accumulate ? out[o] + d : d;
        }
    }

    private static float[] rowBuffer(int k) {
        float[][] holder = ROW.get();
        if (holder[0].length < k) holder[0] = new float[k];
        return holder[0];
    }
}
