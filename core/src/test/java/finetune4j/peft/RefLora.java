package finetune4j.peft;

import java.util.List;

/**
 * A naive FP64 re-statement of PEFT's {@code lora.Linear} forward (the formula as PEFT writes it,
 * not as {@link LoraLinear} computes it), used as the function that finite differences are taken
 * of:
 * <pre>
 * y = x·Wᵀ + bias
 * per branch: xd = x ⊙ keep / (1 − p);  lora = (xd·Aᵀ)·Bᵀ
 *   LoRA: y += w·s·lora
 *   DoRA: y += w·((f − 1)·(xd·Wᵀ) + f·s·lora),  f = m / norm,  norm = ‖W + s·B·A‖_row held fixed
 * </pre>
 */
final class RefLora {
    /** One adapter; {@code keep} null = no dropout; {@code m} null = plain LoRA; {@code norm} fixed (detached). */
    record Br(double[] a, double[] b, double[] m, double[] norm, int r, double s, double w, boolean[] keep, double p) {
    }

    private RefLora() {
    }

    static double[] forward(double[] x, int rows, int k, int n, double[] wt, double[] bias, List<Br> brs) {
        double[] y = new double[rows * n];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < n; j++) {
                double acc = bias == null ? 0 : bias[j];
                for (int c = 0; c < k; c++) acc += x[i * k + c] * wt[j * k + c];
                y[i * n + j] = acc;
            }
        }
        for (Br br : brs) {
            double[] xd = new double[rows * k];
            for (int e = 0; e < xd.length; e++) xd[e] = br.keep == null ? x[e] : (br.keep[e] ? x[e] / (1 - br.p) : 0);
            for (int i = 0; i < rows; i++) {
                double[] u = new double[br.r];
                for (int p = 0; p < br.r; p++) {
                    for (int c = 0; c < k; c++) u[p] += xd[i * k + c] * br.a[p * k + c];
                }
                for (int j = 0; j < n; j++) {
                    double lora = 0;
                    for (int p = 0; p < br.r; p++) lora += u[p] * br.b[j * br.r + p];
                    if (br.m == null) {
                        y[i * n + j] += br.w * br.s * lora;
                    } else {
                        double wx = 0;
                        for (int c = 0; c < k; c++) wx += xd[i * k + c] * wt[j * k + c];
                        double f = br.m[j] / br.norm[j];
                        y[i * n + j] += br.w * ((f - 1) * wx + f * br.s * lora);
                    }
                }
            }
        }
        return y;
    }

    /** ‖W + s·B·A‖ per row in FP64. */
    static double[] norms(double[] wt, double[] a, double[] b, int r, double s, int n, int k) {
        double[] out = new double[n];
        for (int j = 0; j < n; j++) {
            double ss = 0;
            for (int c = 0; c < k; c++) {
                double ba = 0;
                for (int p = 0; p < r; p++) ba += b[j * r + p] * a[p * k + c];
                double v = wt[j * k + c] + s * ba;
                ss += v * v;
            }
            out[j] = Math.sqrt(ss);
        }
        return out;
    }

    static double dot(double[] y, double[] g) {
        double s = 0;
        for (int i = 0; i < y.length; i++) s += y[i] * g[i];
        return s;
    }

    static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }
}
