package finetune4j.engine.kernels.vector;

import finetune4j.engine.kernels.Kernels;
import finetune4j.engine.kernels.ScalarKernels;
import finetune4j.engine.tensor.Weight;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Java Vector API kernels, the default fast path. Operations not yet vectorised fall back to the
 * scalar reference.
 */
public final class VectorKernels implements Kernels {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private final ScalarKernels ref = new ScalarKernels();

    @Override
    public String name() {
        return "vector";
    }

    @Override
    public void linear(float[] out, int outOff, float[] x, int xOff, Weight w, int m, boolean accumulate) {
        float[] wa = w.heapArray();
        if (wa == null) {
            ref.linear(out, outOff, x, xOff, w, m, accumulate);
            return;
        }
        int n = w.rows(), k = w.cols();
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                float d = dot(x, xOff + i * k, wa, j * k, k);
                int o = outOff + i * n + j;
                out[o] = accumulate ? out[o] + d : d;
            }
        }
    }

    static float dot(float[] a, int ao, float[] b, int bo, int n) {
        int i = 0, upper = S.loopBound(n);
        FloatVector acc = FloatVector.zero(S);
        for (; i < upper; i += S.length()) {
            acc = FloatVector.fromArray(S, a, ao + i).fma(FloatVector.fromArray(S, b, bo + i), acc);
        }
        float sum = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) sum += a[ao + i] * b[bo + i];
        return sum;
    }

    @Override
    public void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha, float[] a, int aOff, int lda,
                     float[] b, int bOff, int ldb, float beta, float[] c, int cOff, int ldc) {
        ref.gemm(transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
    }

    @Override
    public void rmsnorm(float[] out, int outOff, float[] rstd, int rstdOff, float[] x, int xOff, float[] weight,
                        int m, int c, float eps) {
        ref.rmsnorm(out, outOff, rstd, rstdOff, x, xOff, weight, m, c, eps);
    }

    @Override
    public void rope(float[] x, int xOff, int m, int heads, int headDim, int[] pos, int posOff, float[] cos, float[] sin) {
        ref.rope(x, xOff, m, heads, headDim, pos, posOff, cos, sin);
    }

    @Override
    public void siluMul(float[] out, int outOff, float[] gate, int gateOff, float[] up, int upOff, int n) {
        ref.siluMul(out, outOff, gate, gateOff, up, upOff, n);
    }

    @Override
    public void add(float[] out, int outOff, float[] a, int aOff, float[] b, int bOff, int n) {
        ref.add(out, outOff, a, aOff, b, bOff, n);
    }

    @Override
    public void attention(float[] out, int outOff, float[] att, int attOff, float[] q, int qOff, float[] k, int kOff,
                          float[] v, int vOff, int tq, int tk, int past, int heads, int kvHeads, int headDim) {
        ref.attention(out, outOff, att, attOff, q, qOff, k, kOff, v, vOff, tq, tk, past, heads, kvHeads, headDim);
    }

    @Override
    public void softmax(float[] x, int off, int n) {
        ref.softmax(x, off, n);
    }
}
