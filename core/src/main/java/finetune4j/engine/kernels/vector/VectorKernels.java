package finetune4j.engine.kernels.vector;

import finetune4j.engine.kernels.KernelThreads;
import finetune4j.engine.kernels.Kernels;
import finetune4j.engine.tensor.LinearWeight;
import finetune4j.engine.tensor.QuantizedWeight;
import finetune4j.engine.tensor.Weight;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Java Vector API kernels, the default fast path. Each method has the contract and the
 * reference definition of {@link finetune4j.engine.kernels.ScalarKernels}; this class only
 * changes how it is computed: SIMD over the contiguous dimension, the products through the
 * packed GEMM ({@link Gemm}) or, for a few rows, the streaming GEMV ({@link Gemv}), and large
 * calls split over {@link KernelThreads}.
 *
 * <p>Stateless apart from per-thread scratch buffers: one instance may be shared by all callers.
 */
public final class VectorKernels implements Kernels {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Elementwise work below this many elements stays on the calling thread. */
    private static final int PARALLEL_MIN_ELEMENTS = 1 << 16;

    @Override
    public String name() {
        return "vector";
    }

    /** The SIMD width in bits (for logs and benchmarks), e.g. 512 with AVX-512. */
    public static int vectorBits() {
        return S.vectorBitSize();
    }

    @Override
    public void linear(float[] out, int outOff, float[] x, int xOff, LinearWeight w, int m, boolean accumulate) {
        int n = w.rows(), k = w.cols();
        Checks.matrix("x", x, xOff, m, k, k);
        Checks.matrix("out", out, outOff, m, n, n);
        switch (w) {
            case Weight d when m <= Gemv.MAX_M -> Gemv.linear(out, outOff, x, xOff, d, m, accumulate);
            case QuantizedWeight q when m <= Gemv.MAX_M -> Gemv.linear(out, outOff, x, xOff, q, m, accumulate);
            case Weight d -> Gemm.multiply(new Gemm.MatrixA(x, xOff, k, false), new Gemm.WeightB(d), m, n, k,
                    accumulate ? 1f : 0f, out, outOff, n);
            case QuantizedWeight q -> Gemm.multiply(new Gemm.MatrixA(x, xOff, k, false), new Gemm.QuantB(q), m, n, k,
                    accumulate ? 1f : 0f, out, outOff, n);
        }
    }

    @Override
    public void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                     float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                     float beta, float[] c, int cOff, int ldc) {
        if (transA) Checks.matrix("a", a, aOff, k, m, lda);
        else Checks.matrix("a", a, aOff, m, k, lda);
        if (transB) Checks.matrix("b", b, bOff, n, k, ldb);
        else Checks.matrix("b", b, bOff, k, n, ldb);
        Checks.matrix("c", c, cOff, m, n, ldc);
        Gemm.multiply(new Gemm.MatrixA(a, aOff, lda, transA, alpha), new Gemm.ArrayB(b, bOff, ldb, transB),
                m, n, k, beta, c, cOff, ldc);
    }

    @Override
    public void rmsnorm(float[] out, int outOff, float[] rstd, int rstdOff, float[] x, int xOff,
                        float[] weight, int m, int c, float eps) {
        Checks.matrix("x", x, xOff, m, c, c);
        Checks.matrix("out", out, outOff, m, c, c);
        Checks.matrix("weight", weight, 0, 1, c, c);
        if (rstd != null) Checks.matrix("rstd", rstd, rstdOff, 1, m, m);
        rows(m, c, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int xo = xOff + r * c, oo = outOff + r * c;
                float s = (float) (1.0 / Math.sqrt((double) Vec.sumSquares(x, xo, c) / c + eps));
                if (rstd != null) rstd[rstdOff + r] = s;
                int i = 0;
                for (int upper = S.loopBound(c); i < upper; i += L) {
                    FloatVector.fromArray(S, x, xo + i).mul(s).mul(FloatVector.fromArray(S, weight, i))
                            .intoArray(out, oo + i);
                }
                if (i < c) {
                    VectorMask<Float> mask = S.indexInRange(i, c);
                    FloatVector.fromArray(S, x, xo + i, mask).mul(s).mul(FloatVector.fromArray(S, weight, i, mask))
                            .intoArray(out, oo + i, mask);
                }
            }
        });
    }

    @Override
    public void rope(float[] x, int xOff, int m, int heads, int headDim, int[] pos, int posOff,
                     float[] cos, float[] sin) {
        int half = headDim / 2;
        Checks.matrix("x", x, xOff, m, heads * headDim, heads * headDim);
        if (m > 0 && pos.length - posOff < m) {
            throw new IllegalArgumentException("pos: " + m + " positions from offset " + posOff + ", the array has " + pos.length);
        }
        rows(m, heads * headDim, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int t = pos[posOff + r] * half;
                for (int h = 0; h < heads; h++) {
                    int base = xOff + (r * heads + h) * headDim;
                    for (int i = 0; i < half; i += L) {
                        VectorMask<Float> mask = S.indexInRange(i, half);
                        FloatVector co = FloatVector.fromArray(S, cos, t + i, mask);
                        FloatVector si = FloatVector.fromArray(S, sin, t + i, mask);
                        FloatVector x0 = FloatVector.fromArray(S, x, base + i, mask);
                        FloatVector x1 = FloatVector.fromArray(S, x, base + half + i, mask);
                        x0.mul(co).sub(x1.mul(si)).intoArray(x, base + i, mask);
                        x1.mul(co).add(x0.mul(si)).intoArray(x, base + half + i, mask);
                    }
                }
            }
        });
    }

    @Override
    public void siluMul(float[] out, int outOff, float[] gate, int gateOff, float[] up, int upOff, int n) {
        Checks.matrix("gate", gate, gateOff, 1, n, n);
        Checks.matrix("up", up, upOff, 1, n, n);
        Checks.matrix("out", out, outOff, 1, n, n);
        elements(n, (i0, i1) -> {
            for (int i = i0; i < i1; i += L) {
                VectorMask<Float> m = S.indexInRange(i, i1);
                FloatVector g = FloatVector.fromArray(S, gate, gateOff + i, m);
                FloatVector sig = Exp.exp(g.neg()).add(1f);
                g.div(sig).mul(FloatVector.fromArray(S, up, upOff + i, m)).intoArray(out, outOff + i, m);
            }
        });
    }

    @Override
    public void add(float[] out, int outOff, float[] a, int aOff, float[] b, int bOff, int n) {
        Checks.matrix("a", a, aOff, 1, n, n);
        Checks.matrix("b", b, bOff, 1, n, n);
        Checks.matrix("out", out, outOff, 1, n, n);
        elements(n, (i0, i1) -> {
            for (int i = i0; i < i1; i += L) {
                VectorMask<Float> m = S.indexInRange(i, i1);
                FloatVector.fromArray(S, a, aOff + i, m).add(FloatVector.fromArray(S, b, bOff + i, m))
                        .intoArray(out, outOff + i, m);
            }
        });
    }

    @Override
    public void attention(float[] out, int outOff, float[] att, int attOff,
                          float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                          int tq, int tk, int past, int heads, int kvHeads, int headDim) {
        Checks.attention(tq, tk, past, heads, kvHeads, headDim);
        Checks.matrix("q", q, qOff, tq, heads * headDim, heads * headDim);
        Checks.matrix("k", k, kOff, past + tq, kvHeads * headDim, kvHeads * headDim);
        Checks.matrix("v", v, vOff, past + tq, kvHeads * headDim, kvHeads * headDim);
        Checks.matrix("out", out, outOff, tq, heads * headDim, heads * headDim);
        if (att != null) Checks.matrix("att", att, attOff, heads * tq, tk, tk);
        Attention.forward(out, outOff, att, attOff, q, qOff, k, kOff, v, vOff, tq, tk, past, heads, kvHeads, headDim);
    }

    @Override
    public void softmax(float[] x, int off, int n) {
        Checks.matrix("x", x, off, 1, n, n);
        Vec.softmax(x, off, n);
    }

    /** A range [from, to) of rows or elements. */
    @FunctionalInterface
    private interface Range {
        void run(int from, int to);
    }

    /** Runs {@code task} over rows [0, m) of width c, split across threads when large. */
    private static void rows(int m, int c, Range task) {
        long work = (long) m * c;
        int chunks = work < PARALLEL_MIN_ELEMENTS ? 1 : Math.min(m, 4 * KernelThreads.parallelism());
        if (chunks <= 1) {
            task.run(0, m);
            return;
        }
        int per = (m + chunks - 1) / chunks;
        KernelThreads.run((m + per - 1) / per, ch -> task.run(ch * per, Math.min(m, ch * per + per)));
    }

    /** Runs {@code task} over elements [0, n), in chunks that are multiples of the vector length. */
    private static void elements(int n, Range task) {
        if (n < PARALLEL_MIN_ELEMENTS) {
            task.run(0, n);
            return;
        }
        int chunks = 4 * KernelThreads.parallelism();
        int per = ((n + chunks - 1) / chunks + L - 1) / L * L;
        KernelThreads.run((n + per - 1) / per, ch -> task.run(ch * per, Math.min(n, ch * per + per)));
    }

    @Override
    public void dropout(float[] out, int outOff, float[] x, int xOff, int m, int k, long base, double p) {
        Checks.matrix("x", x, xOff, m, k, k);
        Checks.matrix("out", out, outOff, m, k, k);
        DropoutKernel.apply(out, outOff, x, xOff, m, k, base, p);
    }

    // ------------------------------------------------------------------ backward (training)

    @Override
    public void linearBackward(float[] dx, int dxOff, float[] dy, int dyOff, LinearWeight w, int m, boolean accumulate) {
        int n = w.rows(), k = w.cols();
        Checks.matrix("dy", dy, dyOff, m, n, n);
        Checks.matrix("dx", dx, dxOff, m, k, k);
        LinearBackward.backward(dx, dxOff, dy, dyOff, w, m, accumulate);
    }

    @Override
    public void rmsnormBackward(float[] dx, int dxOff, float[] dweight, float[] dout, int doutOff,
                                float[] x, int xOff, float[] weight, float[] rstd, int rstdOff, int m, int c) {
        Checks.matrix("dout", dout, doutOff, m, c, c);
        Checks.matrix("x", x, xOff, m, c, c);
        if (dx != null) Checks.matrix("dx", dx, dxOff, m, c, c);
        BackwardOps.rmsnormBackward(dx, dxOff, dweight, dout, doutOff, x, xOff, weight, rstd, rstdOff, m, c);
    }

    @Override
    public void ropeBackward(float[] dx, int dxOff, int m, int heads, int headDim, int[] pos, int posOff,
                             float[] cos, float[] sin) {
        BackwardOps.ropeBackward(dx, dxOff, m, heads, headDim, pos, posOff, cos, sin);
    }

    @Override
    public void siluMulBackward(float[] dgate, int dgateOff, float[] dup, int dupOff, float[] dout, int doutOff,
                                float[] gate, int gateOff, float[] up, int upOff, int n) {
        BackwardOps.siluMulBackward(dgate, dgateOff, dup, dupOff, dout, doutOff, gate, gateOff, up, upOff, n);
    }

    @Override
    public void attentionBackward(float[] dq, int dqOff, float[] dk, int dkOff, float[] dv, int dvOff,
                                  float[] dout, int doutOff, float[] q, int qOff, float[] k, int kOff,
                                  float[] v, int vOff, float[] att, int attOff,
                                  int b, int t, int heads, int kvHeads, int headDim) {
        Checks.attention(t, t, 0, heads, kvHeads, headDim);
        int bt = b * t;
        Checks.matrix("dout", dout, doutOff, bt, heads * headDim, heads * headDim);
        Checks.matrix("dq", dq, dqOff, bt, heads * headDim, heads * headDim);
        Checks.matrix("dk", dk, dkOff, bt, kvHeads * headDim, kvHeads * headDim);
        Checks.matrix("dv", dv, dvOff, bt, kvHeads * headDim, kvHeads * headDim);
        if (att != null) Checks.matrix("att", att, attOff, b * heads * t, t, t);
        AttentionBackward.backward(dq, dqOff, dk, dkOff, dv, dvOff, dout, doutOff, q, qOff, k, kOff, v, vOff,
                att, attOff, b, t, heads, kvHeads, headDim);
    }

    @Override
    public LossSum crossEntropy(float[] dlogits, int dlogitsOff, float[] logits, int logitsOff,
                                int[] targets, int targetsOff, int m, int v, float dscale) {
        Checks.matrix("logits", logits, logitsOff, m, v, v);
        if (dlogits != null) Checks.matrix("dlogits", dlogits, dlogitsOff, m, v, v);
        return BackwardOps.crossEntropy(dlogits, dlogitsOff, logits, logitsOff, targets, targetsOff, m, v, dscale);
    }

    @Override
    public void embeddingBackward(float[] dtable, float[] dout, int doutOff, int[] ids, int idsOff, int m, int c) {
        Checks.matrix("dout", dout, doutOff, m, c, c);
        int rows = dtable.length / Math.max(1, c);
        for (int r = 0; r < m; r++) {
            int id = ids[idsOff + r];
            if (id < 0 || id >= rows) {
                throw new IllegalArgumentException("embeddingBackward: id " + id + " of row " + r + " is outside [0, " + rows + ")");
            }
        }
        BackwardOps.embeddingBackward(dtable, dout, doutOff, ids, idsOff, m, c);
    }
}
