package finetune4j.engine.kernels;

import finetune4j.engine.tensor.Weight;

/**
 * The readable reference of every kernel: plain loops, {@code double} accumulators, one thread.
 * This class is the definition the fast implementations are tested against; keep it obvious.
 */
public final class ScalarKernels implements Kernels {

    @Override
    public String name() {
        return "scalar";
    }

    @Override
    public void linear(float[] out, int outOff, float[] x, int xOff, Weight w, int m, boolean accumulate) {
        int n = w.rows(), k = w.cols();
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double acc = 0;
                for (int p = 0; p < k; p++) acc += (double) x[xOff + i * k + p] * w.get(j, p);
                int o = outOff + i * n + j;
                out[o] = accumulate ? (float) (out[o] + acc) : (float) acc;
            }
        }
    }

    @Override
    public void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                     float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                     float beta, float[] c, int cOff, int ldc) {
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double acc = 0;
                for (int p = 0; p < k; p++) {
                    float av = transA ? a[aOff + p * lda + i] : a[aOff + i * lda + p];
                    float bv = transB ? b[bOff + j * ldb + p] : b[bOff + p * ldb + j];
                    acc += (double) av * bv;
                }
                int o = cOff + i * ldc + j;
                c[o] = beta == 0f ? (float) (alpha * acc) : (float) (alpha * acc + beta * c[o]);
            }
        }
    }

    @Override
    public void rmsnorm(float[] out, int outOff, float[] rstd, int rstdOff, float[] x, int xOff,
                        float[] weight, int m, int c, float eps) {
        for (int r = 0; r < m; r++) {
            int base = xOff + r * c;
            double ss = 0;
            for (int i = 0; i < c; i++) ss += (double) x[base + i] * x[base + i];
            float s = (float) (1.0 / Math.sqrt(ss / c + eps));
            if (rstd != null) rstd[rstdOff + r] = s;
            for (int i = 0; i < c; i++) out[outOff + r * c + i] = (x[base + i] * s) * weight[i];
        }
    }

    @Override
    public void rope(float[] x, int xOff, int m, int heads, int headDim, int[] pos, int posOff,
                     float[] cos, float[] sin) {
        int half = headDim / 2;
        for (int r = 0; r < m; r++) {
            int t = pos[posOff + r];
            for (int h = 0; h < heads; h++) {
                int base = xOff + (r * heads + h) * headDim;
                for (int i = 0; i < half; i++) {
                    float co = cos[t * half + i], si = sin[t * half + i];
                    float x0 = x[base + i], x1 = x[base + i + half];
                    x[base + i] = x0 * co - x1 * si;
                    x[base + i + half] = x1 * co + x0 * si;
                }
            }
        }
    }

    @Override
    public void siluMul(float[] out, int outOff, float[] gate, int gateOff, float[] up, int upOff, int n) {
        for (int i = 0; i < n; i++) {
            float g = gate[gateOff + i];
            out[outOff + i] = (float) (g / (1.0 + Math.exp(-g))) * up[upOff + i];
        }
    }

    @Override
    public void add(float[] out, int outOff, float[] a, int aOff, float[] b, int bOff, int n) {
        for (int i = 0; i < n; i++) out[outOff + i] = a[aOff + i] + b[bOff + i];
    }

    @Override
    public void attention(float[] out, int outOff, float[] att, int attOff,
                          float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                          int tq, int tk, int past, int heads, int kvHeads, int headDim) {
        int group = heads / kvHeads;
        int qStride = heads * headDim, kvStride = kvHeads * headDim;
        double scale = 1.0 / Math.sqrt(headDim);
        double[] p = new double[tk];
        for (int h = 0; h < heads; h++) {
            int kvh = h / group;
            for (int i = 0; i < tq; i++) {
                int last = past + i; // inclusive
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j <= last; j++) {
                    double s = 0;
                    for (int d = 0; d < headDim; d++) {
                        s += (double) q[qOff + i * qStride + h * headDim + d] * k[kOff + j * kvStride + kvh * headDim + d];
                    }
                    p[j] = s * scale;
                    max = Math.max(max, p[j]);
                }
                double sum = 0;
                for (int j = 0; j <= last; j++) {
                    p[j] = Math.exp(p[j] - max);
                    sum += p[j];
                }
                for (int j = 0; j <= last; j++) p[j] /= sum;
                if (att != null) {
                    int a = attOff + (h * tq + i) * tk;
                    for (int j = 0; j < tk; j++) att[a + j] = j <= last ? (float) p[j] : 0f;
                }
                for (int d = 0; d < headDim; d++) {
                    double acc = 0;
                    for (int j = 0; j <= last; j++) acc += p[j] * v[vOff + j * kvStride + kvh * headDim + d];
                    out[outOff + i * qStride + h * headDim + d] = (float) acc;
                }
            }
        }
    }

    @Override
    public void softmax(float[] x, int off, int n) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, x[off + i]);
        double sum = 0;
        for (int i = 0; i < n; i++) sum += Math.exp(x[off + i] - max);
        for (int i = 0; i < n; i++) x[off + i] = (float) (Math.exp(x[off + i] - max) / sum);
    }
}
