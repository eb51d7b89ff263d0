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
 *   <li><b>Few query rows</b> (decode, {@code Tq < }{@link #GEMM_MIN_TQ}): chunks are runs of
 *       consecutive heads; a chunk walks the keys once, scoring each key row against all its
 *       heads (dot products over D), then softmax per head, then walks the value rows once,
 *       adding {@code p_j · v_j} into each head's output (which stays in L1). K and V are read
 *       sequentially and once, which is what decode is bound by.</li>
 *   <li><b>Many query rows</b> (prefill, training): one chunk per (head, block of about
 *       {@link #QB} rows); the scores of the block are one GEMM {@code Q_blk · K[0:n]ᵀ} with n the
 *       last key any row of the block may see (so only the diagonal block computes masked
 *       entries), then a row softmax, then a second GEMM {@code P · V[0:n]}.</li>
 * </ul>
 * Softmax is FP32. {@code out} must not overlap {@code q}, {@code k}, {@code v} or {@code att}.
 */
final class Attention {
    /** Query rows from which the GEMM-blocked path is taken. */
    static final int GEMM_MIN_TQ = 16;
    /** Most query rows per block on the GEMM path (blocks are evened out below this). */
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
        int threads = macs < PARALLEL_MIN_MACS ? 1 : KernelThreads.parallelism();
        KernelThreads.ChunkTask task;
        int chunks;
        if (tq >= GEMM_MIN_TQ) {
            // (head, query block) chunks; blocks of equal size, a multiple of the GEMM's MR rows
            int blocks = (tq + QB - 1) / QB;
            int rows = ((tq + blocks - 1) / blocks + Gemm.MR - 1) / Gemm.MR * Gemm.MR;
            int perHead = (tq + rows - 1) / rows;
            chunks = heads * perHead;
            task = c -> {
                int h = c / perHead, i0 = (c % perHead) * rows;
                block(out, outOff, att, attOff, q, qOff, k, kOff, v, vOff, tq, tk, past, heads, kvHeads, headDim,
                        scale, h, i0, Math.min(tq, i0 + rows));
            };
        } else {
            // runs of consecutive heads; each chunk streams K and V once for its heads
            int want = Math.min(heads, 2 * threads), perChunk = (heads + want - 1) / want;
            chunks = (heads + perChunk - 1) / perChunk;
            task = c -> {
                int h0 = c * perChunk, h1 = Math.min(heads, h0 + perChunk);
                for (int i = 0; i < tq; i++) {
                    rows(out, outOff, att, attOff, q, qOff, k, kOff, v, vOff, tq, tk, past, heads, kvHeads, headDim,
                            scale, h0, h1, i);
                }
            };
        }
        if (threads == 1) {
            for (int c = 0; c < chunks; c++) task.run(c);
        } else {
            KernelThreads.run(chunks, task);
        }
    }

    /**
     * Query row i of heads [h0, h1), key by key: row j of K (and later of V) holds every KV head,
     * so the loop over keys outside the loop over heads reads K and V sequentially, once, whatever
     * the cache layout's stride (a head-by-head loop would read 64–512 byte pieces 1–8 KiB apart,
     * which defeats the prefetchers and aliases in the caches).
     */
    private static void rows(float[] out, int outOff, float[] att, int attOff,
                             float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                             int tq, int tk, int past, int heads, int kvHeads, int d, float scale,
                             int h0, int h1, int i) {
        int group = heads / kvHeads, kvStride = kvHeads * d;
        int n = past + i + 1;                                  // keys 0 .. past + i are visible
        float[] p;                                             // head h's scores at po + (h − h0)·ps
        int po, ps;
        if (att != null) {
            p = att;
            po = attOff + (h0 * tq + i) * tk;
            ps = tq * tk;
        } else {
            p = scores((h1 - h0) * n);
            po = 0;
            ps = n;
        }
        int qo = qOff + i * heads * d, oo = outOff + i * heads * d;
        int g0 = h0 / group, g1 = (h1 - 1) / group;           // the KV heads of heads [h0, h1)
        for (int j = 0; j < n; j++) {
            int kr = kOff + j * kvStride;
            for (int g = g0; g <= g1; g++) {
                int a = Math.max(h0, g * group), b = Math.min(h1, g * group + group);
                Vec.dots(q, qo + a * d, d, b - a, k, kr + g * d, d, scale, p, po + (a - h0) * ps + j, ps);
            }
        }
        for (int h = h0; h < h1; h++) {
            int ph = po + (h - h0) * ps;
            Vec.softmax(p, ph, n);
            if (att != null) Arrays.fill(att, ph + n, ph + tk, 0f);
            Arrays.fill(out, oo + h * d, oo + h * d + d, 0f);
        }
        for (int j = 0; j < n; j++) {
            int vr = vOff + j * kvStride;
            for (int g = g0; g <= g1; g++) {
                int a = Math.max(h0, g * group), b = Math.min(h1, g * group + group);
                Vec.axpys(p, po + (a - h0) * ps + j, ps, b - a, v, vr + g * d, d, out, oo + a * d, d);
            }
        }
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
