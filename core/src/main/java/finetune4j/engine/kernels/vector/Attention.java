package finetune4j.engine.kernels.vector;

import finetune4j.engine.kernels.KernelThreads;

import java.util.Arrays;

/**
 * Causal grouped-query attention for one sequence (the contract is
 * {@link finetune4j.engine.kernels.Kernels#attention}):
 * {@code out_h = softmax(q_h · k_gᵀ / √D + causal mask) · v_g} with {@code g = h / (H/KVH)}.
 *
 * <pre>
 *   q   (Tq, H·D)      query rows, row i at absolute position past + i
 *   k,v (Tk, KVH·D)    the cache, rows 0 .. past + Tq − 1 are used
 *   out (Tq, H·D)
 *   att (H, Tq, Tk)    optional: the probabilities, zero above the diagonal
 * </pre>
 *
 * Two paths, both parallel over independent chunks of the output:
 * <ul>
 *   <li><b>Few query rows</b> (decode, {@code Tq < }{@link #GEMM_MIN_TQ}): one chunk per (head,
 *       row); scores by vector dot products over D, softmax, then {@code out += p_j · v_j}
 *       vectorised over D. Reads K and V once per head, which is what decode is bound by.</li>
 *   <li><b>Many query rows</b> (prefill, training): one chunk per (head, block of
 *       {@link #QB} rows); the scores of the block are one GEMM {@code Q_blk · K[0:n]ᵀ} with n the
 *       last key any row of the block may see (so only the diagonal block computes masked
 *       entries), then a row softmax, then a second GEMM {@code P · V[0:n]}.</li>
 * </ul>
 * Softmax is FP32. {@code out} must not overlap {@code q}, {@code k}, {@code v} or {@code att}.
 */
final class Attention {
    /** Query rows from which the GEMM-blocked path is taken. */
    static final int GEMM_MIN_TQ = 16;
    /** Query rows per block on the GEMM path. */
    static final int QB = 96;
    /** Below this many multiply-adds (QKᵀ plus PV) the call stays on the calling thread. */
    private static final long PARALLEL_MIN_MACS = 1L << 16;

    private static final ThreadLocal<float[][]> SCORES = ThreadLocal.withInitial(() -> new float[1][0]);

    private Attention() {
    }

    static void forward(float[] out, int outOff, float[] att, int attOff,
                        float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                        int tq, int tk, int past, int heads, int kvHeads, int headDim) {
        if (tq == 0 || heads == 0) return;
        float scale = (float) (1.0 / Math.sqrt(headDim));
        long macs = 2L * heads * tq * (past + tq) * headDim;
        boolean blocked = tq >= GEMM_MIN_TQ;
        int perHead = blocked ? (tq + QB - 1) / QB : tq;
        KernelThreads.ChunkTask task = chunk -> {
            int h = chunk / perHead, part = chunk % perHead;
            if (blocked) {
                block(out, outOff, att, attOff, q, qOff, k, kOff, v, vOff, tq, tk, past, heads, kvHeads, headDim,
                        scale, h, part * QB, Math.min(tq, part * QB + QB));
            } else {
                row(out, outOff, att, attOff, q, qOff, k, kOff, v, vOff, tq, tk, past, heads, kvHeads, headDim,
                        scale, h, part);
            }
        };
        int chunks = heads * perHead;
        if (macs < PARALLEL_MIN_MACS) {
            for (int c = 0; c < chunks; c++) task.run(c);
        } else {
            KernelThreads.run(chunks, task);
        }
    }

    /** One query row i of head h, by dot products over D. */
    private static void row(float[] out, int outOff, float[] att, int attOff,
                            float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                            int tq, int tk, int past, int heads, int kvHeads, int d, float scale, int h, int i) {
        int kvh = h / (heads / kvHeads);
        int kvStride = kvHeads * d, kvCol = kvh * d;
        int n = past + i + 1;                                  // keys 0 .. past + i are visible
        float[] p;
        int po;
        if (att != null) {
            p = att;
            po = attOff + (h * tq + i) * tk;
        } else {
            p = scores(n);
            po = 0;
        }
        int qo = qOff + i * heads * d + h * d;
        for (int j = 0; j < n; j++) p[po + j] = scale * Vec.dot(q, qo, k, kOff + j * kvStride + kvCol, d);
        Vec.softmax(p, po, n);
        if (att != null) Arrays.fill(att, po + n, po + tk, 0f);
        int oo = outOff + i * heads * d + h * d;
        Arrays.fill(out, oo, oo + d, 0f);
        for (int j = 0; j < n; j++) Vec.axpy(p[po + j], v, vOff + j * kvStride + kvCol, out, oo, d);
    }

    /** Query rows [i0, i1) of head h, by two GEMMs through the probability block. */
    private static void block(float[] out, int outOff, float[] att, int attOff,
                              float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                              int tq, int tk, int past, int heads, int kvHeads, int d, float scale,
                              int h, int i0, int i1) {
        int kvh = h / (heads / kvHeads);
        int rows = i1 - i0, n = past + i1;                     // the last row of the block sees n keys
        float[] p;
        int po, ldp;
        if (att != null) {
            p = att;
            po = attOff + (h * tq + i0) * tk;
            ldp = tk;
        } else {
            p = scores(rows * n);
            po = 0;
            ldp = n;
        }
        // P(rows, n) = scale · Q_blk(rows, D) · K(n, D)ᵀ
        Gemm.multiplySequential(new Gemm.MatrixA(q, qOff + i0 * heads * d + h * d, heads * d, false, scale),
                new Gemm.ArrayB(k, kOff + kvh * d, kvHeads * d, true), rows, n, d, 0f, p, po, ldp);
        for (int r = 0; r < rows; r++) {
            int visible = past + i0 + r + 1, ro = po + r * ldp;
            Vec.softmax(p, ro, visible);
            Arrays.fill(p, ro + visible, ro + ldp, 0f);        // masked keys (and, in att, keys ≥ n)
        }
        // out_blk(rows, D) = P(rows, n) · V(n, D)
        Gemm.multiplySequential(new Gemm.MatrixA(p, po, ldp, false),
                new Gemm.ArrayB(v, vOff + kvh * d, kvHeads * d, false), rows, d, n, 0f,
                out, outOff + i0 * heads * d + h * d, heads * d);
    }

    private static float[] scores(int size) {
        float[][] holder = SCORES.get();
        if (holder[0].length < size) holder[0] = new float[size];
        return holder[0];
    }
}
