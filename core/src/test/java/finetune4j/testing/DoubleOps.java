package finetune4j.testing;

/**
 * The forward operations of the model in {@code double}, test-only: the definitions the
 * finite-difference checks differentiate. Each mirrors the reference kernel of
 * {@code ScalarKernels} (same formula, same layout), so a central difference of a loss built from
 * them has an error near 1e-10 and measures the float backward kernels, not float rounding.
 *
 * <p>Layouts: row-major, llm.c order (outputs returned, inputs, then dimensions).
 */
public final class DoubleOps {
    private DoubleOps() {
    }

    public static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }

    public static float[] toFloat(double[] a) {
        float[] f = new float[a.length];
        for (int i = 0; i < a.length; i++) f[i] = (float) a[i];
        return f;
    }

    /** Σ a ⊙ g: llm.c's fake loss, which makes g the gradient flowing into a. */
    public static double dot(double[] a, double[] g) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * g[i];
        return s;
    }

    /** out(M, N) = x(M, K) · w(N, K)ᵀ + bias(N) (bias may be null). */
    public static double[] linear(double[] x, double[] w, double[] bias, int m, int n, int k) {
        double[] out = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double acc = bias == null ? 0 : bias[j];
                for (int p = 0; p < k; p++) acc += x[i * k + p] * w[j * k + p];
                out[i * n + j] = acc;
            }
        }
        return out;
    }

    /** out = x / sqrt(mean(x²) + eps) · w per row of C. */
    public static double[] rmsnorm(double[] x, double[] w, int m, int c, double eps) {
        double[] out = new double[m * c];
        for (int r = 0; r < m; r++) {
            double ss = 0;
            for (int i = 0; i < c; i++) ss += x[r * c + i] * x[r * c + i];
            double s = 1.0 / Math.sqrt(ss / c + eps);
            for (int i = 0; i < c; i++) out[r * c + i] = x[r * c + i] * s * w[i];
        }
        return out;
    }

    /** Rotate-half RoPE of x (M, heads·D), row r at position pos[r]; cos/sin (positions, D/2). */
    public static double[] rope(double[] x, int m, int heads, int d, int[] pos, float[] cos, float[] sin) {
        double[] out = x.clone();
        int half = d / 2;
        for (int r = 0; r < m; r++) {
            for (int h = 0; h < heads; h++) {
                int base = (r * heads + h) * d;
                for (int i = 0; i < half; i++) {
                    double co = cos[pos[r] * half + i], si = sin[pos[r] * half + i];
                    double x0 = x[base + i], x1 = x[base + i + half];
                    out[base + i] = x0 * co - x1 * si;
                    out[base + i + half] = x1 * co + x0 * si;
                }
            }
        }
        return out;
    }

    /** silu(gate) · up, elementwise. */
    public static double[] siluMul(double[] gate, double[] up) {
        double[] out = new double[gate.length];
        for (int i = 0; i < gate.length; i++) out[i] = gate[i] / (1 + Math.exp(-gate[i])) * up[i];
        return out;
    }

    /**
     * Causal GQA attention for B sequences of T: q (B·T, H·D), k/v (B·T, KVH·D) → (B·T, H·D);
     * scores scaled by 1/√D, head h reads KV head h / (H/KVH).
     */
    public static double[] attention(double[] q, double[] k, double[] v, int b, int t, int heads, int kvHeads, int d) {
        int group = heads / kvHeads, qs = heads * d, kvs = kvHeads * d;
        double scale = 1.0 / Math.sqrt(d);
        double[] out = new double[b * t * qs];
        double[] p = new double[t];
        for (int s = 0; s < b; s++) {
            for (int h = 0; h < heads; h++) {
                int kc = (h / group) * d;
                for (int i = 0; i < t; i++) {
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j <= i; j++) {
                        double acc = 0;
                        for (int e = 0; e < d; e++) acc += q[(s * t + i) * qs + h * d + e] * k[(s * t + j) * kvs + kc + e];
                        p[j] = acc * scale;
                        max = Math.max(max, p[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j <= i; j++) sum += (p[j] = Math.exp(p[j] - max));
                    for (int e = 0; e < d; e++) {
                        double acc = 0;
                        for (int j = 0; j <= i; j++) acc += p[j] / sum * v[(s * t + j) * kvs + kc + e];
                        out[(s * t + i) * qs + h * d + e] = acc;
                    }
                }
            }
        }
        return out;
    }

    /** Σ over rows with target ≠ −100 of logsumexp(logits_r) − logits_r[target]. */
    public static double crossEntropySum(double[] logits, int[] targets, int m, int v) {
        double total = 0;
        for (int r = 0; r < m; r++) {
            if (targets[r] == -100) continue;
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < v; j++) max = Math.max(max, logits[r * v + j]);
            double sum = 0;
            for (int j = 0; j < v; j++) sum += Math.exp(logits[r * v + j] - max);
            total += Math.log(sum) + max - logits[r * v + targets[r]];
        }
        return total;
    }

    /** Rows ids[r] of table (V, C). */
    public static double[] embedding(double[] table, int[] ids, int c) {
        double[] out = new double[ids.length * c];
        for (int r = 0; r < ids.length; r++) System.arraycopy(table, ids[r] * c, out, r * c, c);
        return out;
    }

    /** a + b elementwise (a new array). */
    public static double[] add(double[] a, double[] b) {
        double[] out = new double[a.length];
        for (int i = 0; i < a.length; i++) out[i] = a[i] + b[i];
        return out;
    }
}
