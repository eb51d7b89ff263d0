package finetune4j.engine.kernels;

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
     * in its stored dtype (converted to FP32 while packing); {@code out += ...} when
     * {@code accumulate}.
     */
    void linear(float[] out, int outOff, float[] x, int xOff, Weight w, int m, boolean accumulate);

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
}
