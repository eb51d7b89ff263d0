package finetune4j.engine.kernels;

import finetune4j.engine.tensor.LinearWeight;
import finetune4j.engine.tensor.Weight;

/**
 * The single door to every hot numeric loop of the engine. Model, adapter and trainer code calls
 * only these methods; it never sees threads, SIMD or native calls.
 *
 * <p>Implementations: {@link ScalarKernels} (the readable reference, the definition of each
 * operation) and the Java Vector API one in {@code engine.kernels.vector} (the default);
 * native (oneDNN through FFM) and GPU backends can be added behind the same interface and found
 * by {@link KernelSelector}.
 *
 * <p>Conventions (llm.c style): outputs first, then inputs, then dimensions. Buffers are
 * row-major {@code float[]} with an explicit element offset; shapes are written in the dimension
 * alphabet of {@code package-info}: M rows (B·T), K reduced dim, N output columns, H / KVH heads,
 * D head dim. No method allocates per call on a hot path (scratch buffers are owned by the
 * implementation or passed in).
 *
 * <p>Threads: an implementation may run one call on several threads (the vector kernels use
 * {@link KernelThreads}); the call returns when all are done. So a weight's
 * {@link Weight#data()} segment must be readable from any thread: map weights in a shared,
 * global or automatic {@link java.lang.foreign.Arena}, not a confined one. Implementations are
 * safe to call from several threads at once as long as the outputs do not overlap.
 */
public interface Kernels {

    /** Short name used in logs and benchmarks ("scalar", "vector", ...). */
    String name();

    /**
     * The Linear forward {@code out(M, N) = x(M, K) · wᵀ}, with {@code w} of shape {@code (N, K)}
     * in its stored form: a {@link Weight} in F32/BF16/F16 (converted to FP32 while packing) or a
     * 4-bit {@link finetune4j.engine.tensor.QuantizedWeight} (dequantized block by block while
     * packing: never a full-precision copy of W); {@code out += ...} when {@code accumulate}.
     */
    void linear(float[] out, int outOff, float[] x, int xOff, LinearWeight w, int m, boolean accumulate);

    /**
     * General FP32 matrix product {@code C = alpha · op(A) · op(B) + beta · C} on row-major arrays,
     * {@code op(A)} of shape (M, K), {@code op(B)} (K, N), C (M, N); {@code lda/ldb/ldc} are row
     * strides of the arrays as stored (before the transpose). {@code beta == 0} overwrites C
     * without reading it (NaNs in C do not propagate).
     */
    void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
              float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
              float beta, float[] c, int cOff, int ldc);

    /**
     * RMSNorm forward per row: {@code out = x / sqrt(mean(x²) + eps) · weight}, HF Llama order
     * (normalise in FP32, then multiply by the weight). {@code rstd(M)} receives
     * {@code 1/sqrt(mean(x²)+eps)} per row (saved for backward; may be null).
     * x, out: (M, C); weight: (C).
     */
    void rmsnorm(float[] out, int outOff, float[] rstd, int rstdOff, float[] x, int xOff,
                 float[] weight, int m, int c, float eps);

    /**
     * Rotary embedding in place, HF "rotate half" layout: for each head vector v of length D and
     * i &lt; D/2, {@code (v[i], v[i+D/2]) ← (v[i]·cos − v[i+D/2]·sin, v[i+D/2]·cos + v[i]·sin)} with
     * the angles of the row's position. x: (M, heads·D) with row stride {@code heads·D};
     * {@code pos[posOff + r]} is row r's position; cos/sin: (maxPos, D/2).
     */
    void rope(float[] x, int xOff, int m, int heads, int headDim, int[] pos, int posOff,
              float[] cos, float[] sin);

    /** SwiGLU gate: {@code out[i] = silu(gate[i]) · up[i]} for n elements; out may alias gate or up. */
    void siluMul(float[] out, int outOff, float[] gate, int gateOff, float[] up, int upOff, int n);

    /** {@code out[i] = a[i] + b[i]} for n elements; out may alias a or b (residual add). */
    void add(float[] out, int outOff, float[] a, int aOff, float[] b, int bOff, int n);

    /**
     * Causal GQA scaled-dot-product attention for one sequence.
     * q: (Tq, H·D); k, v: (Tk, KVH·D) (the KV cache rows 0..Tk); out: (Tq, H·D).
     * Query row i sits at absolute position {@code past + i} and attends to keys
     * {@code j ≤ past + i} (so {@code Tk ≥ past + Tq}); head h uses KV head {@code h / (H/KVH)};
     * scores are scaled by {@code 1/sqrt(D)}, softmax in FP32.
     * {@code att}, when not null, receives the probabilities (H, Tq, Tk) with zeros above the
     * diagonal (kept for backward); when null the implementation uses its own scratch.
     */
    void attention(float[] out, int outOff, float[] att, int attOff,
                   float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                   int tq, int tk, int past, int heads, int kvHeads, int headDim);

    /** In-place numerically stable softmax of {@code x[off .. off+n)}. */
    void softmax(float[] x, int off, int n);

    /**
     * Inverted dropout with a counter-based mask ({@code torch.nn.Dropout}'s scaling, a mask that
     * can be recomputed instead of stored): {@code out(M, K) = x ⊙ keep / (1 − p)}, rows contiguous,
     * where element {@code (i, j)} is kept iff {@link ScalarKernels#dropoutKeep
     * dropoutKeep(base, i·K + j, p)}, i.e. iff
     * {@code (mix64(base + (i·K + j + 1)·0x9E3779B97F4A7C15) >>> 11)·2⁻⁵³ ≥ p} (SplitMix64's
     * finalizer). The mask depends only on {@code (base, index, p)}, never on threads or on the
     * implementation. {@code out} may be {@code x} at the same offset (in place).
     */
    void dropout(float[] out, int outOff, float[] x, int xOff, int m, int k, long base, double p);

    // ------------------------------------------------------------------ backward (training)
    // Gradients take a {@code d} prefix; outputs first. The weight gradient of a Linear layer,
    // dW(N, K) += dy(M, N)ᵀ · x(M, K), is a plain {@link #gemm} with transA (no method of its own).

    /**
     * The summed cross-entropy of {@link #crossEntropy}: {@code loss} = Σ over target rows of
     * {@code −log softmax(logits)[target]}, {@code targets} = the number of such rows.
     */
    record LossSum(double loss, int targets) {
    }

    /** The label of a row that has no target (PyTorch's {@code ignore_index}). */
    int IGNORE_INDEX = -100;

    /**
     * Linear backward to the input: {@code dx(M, K) = dy(M, N) · w(N, K)} ({@code +=} when
     * {@code accumulate}), with {@code w} in its stored form (converted or dequantized to FP32 a
     * slab of rows at a time, like {@link #linear}). {@code dx} must not overlap {@code dy}.
     */
    void linearBackward(float[] dx, int dxOff, float[] dy, int dyOff, LinearWeight w, int m, boolean accumulate);

    /**
     * RMSNorm backward for {@code out = x · rstd · weight} (see {@link #rmsnorm}), per row with
     * {@code g = dout ⊙ weight}:
     * <pre>
     *   dx      += rstd · g − rstd³ · x · (Σ_j g_j x_j) / C        (skipped when dx is null)
     *   dweight += Σ_rows dout ⊙ x · rstd                          (skipped when dweight is null)
     * </pre>
     * x, dout, dx: (M, C); weight, dweight: (C); rstd: (M) as saved by the forward pass. Both
     * outputs accumulate (llm.c style: dx is the residual stream's gradient). dx must not overlap
     * dout or x.
     */
    void rmsnormBackward(float[] dx, int dxOff, float[] dweight, float[] dout, int doutOff,
                         float[] x, int xOff, float[] weight, float[] rstd, int rstdOff, int m, int c);

    /**
     * RoPE backward in place: the transpose of the rotation of {@link #rope}, i.e. the rotation by
     * minus the angle: {@code (d0, d1) ← (d0·cos + d1·sin, d1·cos − d0·sin)}. Same layout and
     * arguments as {@link #rope}.
     */
    void ropeBackward(float[] dx, int dxOff, int m, int heads, int headDim, int[] pos, int posOff,
                      float[] cos, float[] sin);

    /**
     * SwiGLU backward for {@code out = silu(gate) · up}, n elements, with {@code σ = sigmoid(gate)}:
     * {@code dup = dout · gate·σ}, {@code dgate = dout · up · σ·(1 + gate·(1 − σ))}. Both are
     * overwritten. Each output may alias any input at the same position (everything of an element
     * is read before it is written), e.g. {@code dgate} over {@code dout}.
     */
    void siluMulBackward(float[] dgate, int dgateOff, float[] dup, int dupOff, float[] dout, int doutOff,
                         float[] gate, int gateOff, float[] up, int upOff, int n);

    /**
     * Backward of causal GQA attention ({@link #attention} with {@code past = 0, Tq = Tk = T}) for
     * B sequences, from the saved probabilities. Per sequence, head h, KV head g = h / (H/KVH),
     * with {@code P = att[b, h]} (T, T), {@code s = 1/√D}:
     * <pre>
     *   dP      = dout_h · v_gᵀ                         (T, T), only j ≤ i is used
     *   dS[i,j] = P[i,j] · (dP[i,j] − Σ_j' P[i,j']·dP[i,j'])
     *   dq_h    = s · dS · k_g                          (T, D)
     *   dk_g   += s · dSᵀ · q_h        dv_g += Pᵀ · dout_h     (summed over the group's heads)
     * </pre>
     * q, dq, dout: (B·T, H·D); k, v, dk, dv: (B·T, KVH·D); att: (B, H, T, T), zero above the
     * diagonal, or null: then P is recomputed from q and k as {@link #attention} computes it, a
     * block of query rows at a time, so no (B, H, T, T) buffer is needed (long sequences; one
     * more Q·Kᵀ product). dq, dk and dv are overwritten (not accumulated) and must not overlap the
     * inputs.
     */
    void attentionBackward(float[] dq, int dqOff, float[] dk, int dkOff, float[] dv, int dvOff,
                           float[] dout, int doutOff, float[] q, int qOff, float[] k, int kOff,
                           float[] v, int vOff, float[] att, int attOff,
                           int b, int t, int heads, int kvHeads, int headDim);

    /**
     * Softmax cross-entropy, forward and backward, over M rows of V logits with an ignore mask:
     * a row whose target is {@link #IGNORE_INDEX} has no loss and a zero gradient. For the other
     * rows {@code loss_r = logsumexp(logits_r) − logits_r[target_r]} and
     * {@code dlogits_r = dscale · (softmax(logits_r) − onehot(target_r))}.
     * {@code dlogits} may be the same array at the same offset as {@code logits} (in place) or
     * null (loss only). The caller chooses {@code dscale}, e.g. 1/N for a mean over N targets
     * counted across micro-batches (token-weighted accumulation).
     *
     * @return the SUM of the losses (not the mean) and the number of target rows
     * @throws IllegalArgumentException for a target outside {@code [0, V)} other than {@link #IGNORE_INDEX}
     */
    LossSum crossEntropy(float[] dlogits, int dlogitsOff, float[] logits, int logitsOff,
                         int[] targets, int targetsOff, int m, int v, float dscale);

    /**
     * Embedding backward, a scatter-add: {@code dtable[ids[r], :] += dout[r, :]} for r &lt; M.
     * dtable: (V, C) from offset 0; dout: (M, C). Repeated ids accumulate.
     */
    void embeddingBackward(float[] dtable, float[] dout, int doutOff, int[] ids, int idsOff, int m, int c);
}
