package finetune4j.engine.kernels;

import finetune4j.engine.tensor.LinearWeight;

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
    public void linear(float[] out, int outOff, float[] x, int xOff, LinearWeight w, int m, boolean accumulate) {
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

    // ------------------------------------------------------------------ backward (training)

    @Override
    public void dropout(float[] out, int outOff, float[] x, int xOff, int m, int k, long base, double p) {
        float scale = (float) (1.0 / (1.0 - p));
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < k; j++) {
                long index = (long) i * k + j;
                out[outOff + i * k + j] = dropoutKeep(base, index, p) ? x[xOff + i * k + j] * scale : 0f;
            }
        }
    }

    /** Whether {@link #dropout} keeps element {@code index} (= i·K + j) of the call with {@code base}. */
    public static boolean dropoutKeep(long base, long index, double p) {
        long z = mix64(base + (index + 1) * 0x9E3779B97F4A7C15L);
        return (z >>> 11) * 0x1.0p-53 >= p;
    }

    /** SplitMix64's finalizer (Steele, Lea &amp; Flood 2014; {@code java.util.SplittableRandom}'s mixer). */
    public static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    @Override
    public void linearBackward(float[] dx, int dxOff, float[] dy, int dyOff, LinearWeight w, int m, boolean accumulate) {
        int n = w.rows(), k = w.cols();
        for (int i = 0; i < m; i++) {
            for (int p = 0; p < k; p++) {
                double acc = 0;
                for (int j = 0; j < n; j++) acc += (double) dy[dyOff + i * n + j] * w.get(j, p);
                int o = dxOff + i * k + p;
                dx[o] = accumulate ? (float) (dx[o] + acc) : (float) acc;
            }
        }
    }

    @Override
    public void rmsnormBackward(float[] dx, int dxOff, float[] dweight, float[] dout, int doutOff,
                                float[] x, int xOff, float[] weight, float[] rstd, int rstdOff, int m, int c) {
        for (int r = 0; r < m; r++) {
            int xo = xOff + r * c, go = doutOff + r * c;
            double s = rstd[rstdOff + r];
            if (dx != null) {
                double dot = 0;                                   // Σ_j (dout_j · w_j) · x_j
                for (int i = 0; i < c; i++) dot += (double) dout[go + i] * weight[i] * x[xo + i];
                double coeff = s * s * s * dot / c;
                for (int i = 0; i < c; i++) {
                    int o = dxOff + r * c + i;
                    dx[o] = (float) (dx[o] + s * dout[go + i] * weight[i] - coeff * x[xo + i]);
                }
            }
        }
        if (dweight != null) {
            for (int i = 0; i < c; i++) {
                double acc = 0;
                for (int r = 0; r < m; r++) acc += (double) dout[doutOff + r * c + i] * x[xOff + r * c + i] * rstd[rstdOff + r];
                dweight[i] = (float) (dweight[i] + acc);
            }
        }
    }

    @Override
    public void ropeBackward(float[] dx, int dxOff, int m, int heads, int headDim, int[] pos, int posOff,
                             float[] cos, float[] sin) {
        int half = headDim / 2;
        for (int r = 0; r < m; r++) {
            int t = pos[posOff + r];
            for (int h = 0; h < heads; h++) {
                int base = dxOff + (r * heads + h) * headDim;
                for (int i = 0; i < half; i++) {
                    float co = cos[t * half + i], si = sin[t * half + i];
                    float d0 = dx[base + i], d1 = dx[base + i + half];
                    dx[base + i] = d0 * co + d1 * si;
                    dx[base + i + half] = d1 * co - d0 * si;
                }
            }
        }
    }

    @Override
    public void siluMulBackward(float[] dgate, int dgateOff, float[] dup, int dupOff, float[] dout, int doutOff,
                                float[] gate, int gateOff, float[] up, int upOff, int n) {
        for (int i = 0; i < n; i++) {
            double g = gate[gateOff + i], u = up[upOff + i], d = dout[doutOff + i];
            double sig = 1.0 / (1.0 + Math.exp(-g));
            dup[dupOff + i] = (float) (d * g * sig);
            dgate[dgateOff + i] = (float) (d * u * sig * (1.0 + g * (1.0 - sig)));
        }
    }

    @Override
    public void attentionBackward(float[] dq, int dqOff, float[] dk, int dkOff, float[] dv, int dvOff,
                                  float[] dout, int doutOff, float[] q, int qOff, float[] k, int kOff,
                                  float[] v, int vOff, float[] att, int attOff,
                                  int b, int t, int heads, int kvHeads, int headDim) {
        int group = heads / kvHeads, d = headDim;
        int qStride = heads * d, kvStride = kvHeads * d;
        double scale = 1.0 / Math.sqrt(d);
        double[] dkAcc = new double[b * t * kvStride], dvAcc = new double[b * t * kvStride];
        double[] dp = new double[t], prow = new double[t];
        for (int s = 0; s < b; s++) {
            for (int h = 0; h < heads; h++) {
                int kvCol = (h / group) * d;
                for (int i = 0; i < t; i++) {
                    int qi = qOff + (s * t + i) * qStride + h * d, oi = doutOff + (s * t + i) * qStride + h * d;
                    if (att != null) {                                     // P_i· as saved
                        int pi = attOff + ((s * heads + h) * t + i) * t;
                        for (int j = 0; j <= i; j++) prow[j] = att[pi + j];
                    } else {                                               // P_i· recomputed: softmax_j(scale · q_i · k_j)
                        double max = Double.NEGATIVE_INFINITY, sum = 0;
                        for (int j = 0; j <= i; j++) {
                            int kj = kOff + (s * t + j) * kvStride + kvCol;
                            double acc = 0;
                            for (int e = 0; e < d; e++) acc += (double) q[qi + e] * k[kj + e];
                            prow[j] = acc * scale;
                            max = Math.max(max, prow[j]);
                        }
                        for (int j = 0; j <= i; j++) sum += prow[j] = Math.exp(prow[j] - max);
                        for (int j = 0; j <= i; j++) prow[j] /= sum;
                    }
                    double rowDot = 0;                                     // Σ_j P_ij · dP_ij
                    for (int j = 0; j <= i; j++) {
                        int vj = vOff + (s * t + j) * kvStride + kvCol;
                        double acc = 0;
                        for (int e = 0; e < d; e++) acc += (double) dout[oi + e] * v[vj + e];
                        dp[j] = acc;
                        rowDot += prow[j] * acc;
                    }
                    double[] dqi = new double[d];
                    for (int j = 0; j <= i; j++) {
                        double p = prow[j];
                        double ds = p * (dp[j] - rowDot) * scale;          // dS_ij, with the score scale
                        int kj = kOff + (s * t + j) * kvStride + kvCol, acc = (s * t + j) * kvStride + kvCol;
                        for (int e = 0; e < d; e++) {
                            dqi[e] += ds * k[kj + e];
                            dkAcc[acc + e] += ds * q[qi + e];
                            dvAcc[acc + e] += p * dout[oi + e];
                        }
                    }
                    for (int e = 0; e < d; e++) dq[dqOff + (s * t + i) * qStride + h * d + e] = (float) dqi[e];
                }
            }
        }
        for (int i = 0; i < dkAcc.length; i++) {
            dk[dkOff + i] = (float) dkAcc[i];
            dv[dvOff + i] = (float) dvAcc[i];
        }
    }

    @Override
    public LossSum crossEntropy(float[] dlogits, int dlogitsOff, float[] logits, int logitsOff,
                                int[] targets, int targetsOff, int m, int v, float dscale) {
        double total = 0;
        int count = 0;
        for (int r = 0; r < m; r++) {
            int target = targets[targetsOff + r], lo = logitsOff + r * v;
            if (target == IGNORE_INDEX) {
                if (dlogits != null) java.util.Arrays.fill(dlogits, dlogitsOff + r * v, dlogitsOff + (r + 1) * v, 0f);
                continue;
            }
            if (target < 0 || target >= v) {
                throw new IllegalArgumentException("crossEntropy: target " + target + " of row " + r
                        + " is outside [0, " + v + ") and is not the ignore index " + IGNORE_INDEX);
            }
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < v; j++) max = Math.max(max, logits[lo + j]);
            double sum = 0;
            for (int j = 0; j < v; j++) sum += Math.exp(logits[lo + j] - max);
            total += Math.log(sum) + max - logits[lo + target];
            count++;
            if (dlogits != null) {
                int dOff = dlogitsOff + r * v;
                for (int j = 0; j < v; j++) {
                    double p = Math.exp(logits[lo + j] - max) / sum;
                    dlogits[dOff + j] = (float) (dscale * (j == target ? p - 1.0 : p));
                }
            }
        }
        return new LossSum(total, count);
    }

    @Override
    public void embeddingBackward(float[] dtable, float[] dout, int doutOff, int[] ids, int idsOff, int m, int c) {
        for (int r = 0; r < m; r++) {
            int row = ids[idsOff + r] * c;
            for (int i = 0; i < c; i++) dtable[row + i] += dout[doutOff + r * c + i];
        }
    }
}
