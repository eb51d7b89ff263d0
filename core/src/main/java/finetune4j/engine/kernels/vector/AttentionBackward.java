package finetune4j.engine.kernels.vector;

import finetune4j.engine.kernels.KernelThreads;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;

import java.util.Arrays;

/**
 * Backward of causal GQA attention from the saved probabilities (the contract is
 * {@link finetune4j.engine.kernels.Kernels#attentionBackward}), blocked like the forward's GEMM
 * path ({@link Attention}): per head and block of {@link Attention#QB} query rows
 * {@code [i0, i1)}, with n = i1 the keys the last row of the block sees,
 *
 * <pre>
 *   dP  (rows, n) = dO_blk (rows, D) · V[0:n]ᵀ                  GEMM
 *   dS  (rows, n) = s · P ⊙ (dP − rowsum(P ⊙ dP))                in place over dP, zero where masked
 *   dQ_blk        = dS · K[0:n]                                  GEMM (written)
 *   dK[0:n]      += dSᵀ · Q_blk                                  GEMM (accumulated)
 *   dV[0:n]      += P_blkᵀ · dO_blk                              GEMM (accumulated)
 * </pre>
 *
 * One chunk of parallel work is one (sequence, KV head): it owns the dK/dV columns of that KV
 * head, so the heads of a GQA group accumulate into them one after the other without races.
 * The dP/dS block lives in a per-thread scratch of {@code (QB, T)} floats.
 *
 * <p>Without saved probabilities ({@code att == null}) P_blk is recomputed first, exactly as the
 * forward's GEMM path computes it ({@code P = softmax(s · Q_blk · K[0:n]ᵀ)} per row over the
 * visible keys, zero beyond), into a second per-thread {@code (QB, T)} scratch: memory
 * O(QB·T) per thread instead of the (B, H, T, T) probabilities, for one more GEMM per block.
 */
final class AttentionBackward {
    private static final int L = Vec.L;
    /** Below this many multiply-adds the call stays on the calling thread. */
    private static final long PARALLEL_MIN_MACS = 1L << 16;

    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[1][0]);
    private static final ThreadLocal<float[][]> PROBS = ThreadLocal.withInitial(() -> new float[1][0]);

    private AttentionBackward() {
    }

    static void backward(float[] dq, int dqOff, float[] dk, int dkOff, float[] dv, int dvOff,
                         float[] dout, int doutOff, float[] q, int qOff, float[] k, int kOff,
                         float[] v, int vOff, float[] att, int attOff,
                         int b, int t, int heads, int kvHeads, int d) {
        if (b == 0 || t == 0 || heads == 0) return;
        float scale = (float) (1.0 / Math.sqrt(d));
        long macs = 2L * b * heads * t * t * d;                       // four products over the causal half
        KernelThreads.ChunkTask task = chunk -> group(dq, dqOff, dk, dkOff, dv, dvOff, dout, doutOff, q, qOff,
                k, kOff, v, vOff, att, attOff, t, heads, kvHeads, d, scale, chunk / kvHeads, chunk % kvHeads);
        int chunks = b * kvHeads;
        if (macs < PARALLEL_MIN_MACS) {
            for (int c = 0; c < chunks; c++) task.run(c);
        } else {
            KernelThreads.run(chunks, task);
        }
    }

    /** Every head of KV group g in sequence s. */
    private static void group(float[] dq, int dqOff, float[] dk, int dkOff, float[] dv, int dvOff,
                              float[] dout, int doutOff, float[] q, int qOff, float[] k, int kOff,
                              float[] v, int vOff, float[] att, int attOff,
                              int t, int heads, int kvHeads, int d, float scale, int s, int g) {
        int qStride = heads * d, kvStride = kvHeads * d, group = heads / kvHeads;
        int kvBase = s * t * kvStride + g * d;                        // row 0 of sequence s, columns of KV head g
        for (int j = 0; j < t; j++) {
            Arrays.fill(dk, dkOff + kvBase + j * kvStride, dkOff + kvBase + j * kvStride + d, 0f);
            Arrays.fill(dv, dvOff + kvBase + j * kvStride, dvOff + kvBase + j * kvStride + d, 0f);
        }
        float[] ds = scratch(SCRATCH, Math.min(Attention.QB, t) * t);
        float[] pb = att != null ? att : scratch(PROBS, Math.min(Attention.QB, t) * t);
        for (int h = g * group; h < (g + 1) * group; h++) {
            for (int i0 = 0; i0 < t; i0 += Attention.QB) {
                int i1 = Math.min(t, i0 + Attention.QB), rows = i1 - i0, n = i1;
                int qo = (s * t + i0) * qStride + h * d;               // row i0 of head h in q, dq, dout
                int po, ldp;                                           // P_blk (rows, n) at po, row stride ldp
                if (att != null) {
                    po = attOff + ((s * heads + h) * t + i0) * t;
                    ldp = t;
                } else {                                               // recomputed as the forward does
                    po = 0;
                    ldp = n;
                    Gemm.multiplySequential(new Gemm.MatrixA(q, qOff + qo, qStride, false, scale),
                            new Gemm.ArrayB(k, kOff + kvBase, kvStride, true), rows, n, d, 0f, pb, 0, n);
                    for (int r = 0; r < rows; r++) {
                        int visible = i0 + r + 1;
                        Vec.softmax(pb, r * n, visible);
                        Arrays.fill(pb, r * n + visible, r * n + n, 0f);
                    }
                }
                // dP(rows, n) = dO_blk · V[0:n]ᵀ
                Gemm.multiplySequential(new Gemm.MatrixA(dout, doutOff + qo, qStride, false),
                        new Gemm.ArrayB(v, vOff + kvBase, kvStride, true), rows, n, d, 0f, ds, 0, n);
                for (int r = 0; r < rows; r++) softmaxBackwardRow(ds, r * n, pb, po + r * ldp, i0 + r + 1, n, scale);
                // dQ_blk(rows, D) = dS · K[0:n]
                Gemm.multiplySequential(new Gemm.MatrixA(ds, 0, n, false),
                        new Gemm.ArrayB(k, kOff + kvBase, kvStride, false), rows, d, n, 0f, dq, dqOff + qo, qStride);
                // dK[0:n](n, D) += dSᵀ · Q_blk
                Gemm.multiplySequential(new Gemm.MatrixA(ds, 0, n, true),
                        new Gemm.ArrayB(q, qOff + qo, qStride, false), n, d, rows, 1f, dk, dkOff + kvBase, kvStride);
                // dV[0:n](n, D) += P_blkᵀ · dO_blk
                Gemm.multiplySequential(new Gemm.MatrixA(pb, po, ldp, true),
                        new Gemm.ArrayB(dout, doutOff + qo, qStride, false), n, d, rows, 1f, dv, dvOff + kvBase, kvStride);
            }
        }
    }

    /**
     * One row: {@code dS_j = scale · P_j · (dP_j − Σ_j' P_j'·dP_j')} for the {@code visible} keys,
     * over dP in place; zero for the masked keys up to n.
     */
    private static void softmaxBackwardRow(float[] ds, int o, float[] p, int po, int visible, int n, float scale) {
        float rowDot = Vec.dot(p, po, ds, o, visible);
        FloatVector rd = FloatVector.broadcast(Vec.S, rowDot);
        for (int j = 0; j < visible; j += L) {
            VectorMask<Float> m = Vec.S.indexInRange(j, visible);
            FloatVector dp = FloatVector.fromArray(Vec.S, ds, o + j, m);
            FloatVector pj = FloatVector.fromArray(Vec.S, p, po + j, m);
            dp.sub(rd).mul(pj).mul(scale).intoArray(ds, o + j, m);
        }
        Arrays.fill(ds, o + visible, o + n, 0f);
    }

    private static float[] scratch(ThreadLocal<float[][]> which, int size) {
        float[][] holder = which.get();
        if (holder[0].length < size) holder[0] = new float[size];
        return holder[0];
    }
}
