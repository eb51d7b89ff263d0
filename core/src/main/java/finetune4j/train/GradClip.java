package finetune4j.train;

import finetune4j.ConfigException;
import finetune4j.engine.tensor.NamedParam;

import java.util.List;

/**
 * Gradient clipping by global L2 norm, as {@code torch.nn.utils.clip_grad_norm_}
 * ({@code torch/nn/utils/clip_grad.py}) with Hugging Face Trainer's "0 disables" convention:
 * <pre>
 *   n_i   = (float) ‖g_i‖₂                      per-parameter norm, float32 result
 *   total = (float) ‖(n_1 … n_k)‖₂              norm of the per-parameter norms
 *   coef  = min(1, (1 / (total + 1e-6f)) · maxNorm)   float32, as torch's max_norm / tensor
 *   g_i  ← g_i · coef                            (every gradient, as torch does)
 * </pre>
 * Sums are accumulated in double, so each norm is the correctly rounded float32 value; torch
 * accumulates in float32 lanes and may differ by a few ulp (≈1e-7 relative).
 *
 * <p>With {@code maxNorm = 0} nothing is scaled but the norm is still computed and reported
 * (torch would zero the gradients). When a gradient holds NaN or ±Inf, nothing is scaled and the
 * result names the first parameter that does, so the trainer can stop with a clear message.
 *
 * @param maxNorm the largest allowed global norm; 0 disables clipping
 */
public record GradClip(double maxNorm) {
    public GradClip {
        if (!(maxNorm >= 0) || Double.isInfinite(maxNorm)) throw new ConfigException("grad-clip", maxNorm, "a finite number >= 0 (0 disables clipping)");
    }

    /** Clipping disabled: only measures. */
    public static final GradClip DISABLED = new GradClip(0);

    /**
     * The outcome of one {@link #apply}.
     *
     * @param totalNorm     the global L2 norm before clipping (NaN or Inf when a gradient is not finite)
     * @param scale         the factor the gradients were multiplied by (1 when not clipped or disabled)
     * @param nonFiniteParam the first parameter whose gradient holds NaN or Inf, or {@code null}
     */
    public record Result(float totalNorm, float scale, String nonFiniteParam) {
        /** True when every gradient was finite. */
        public boolean finite() {
            return nonFiniteParam == null;
        }

        /** True when the gradients were scaled down. */
        public boolean clipped() {
            return scale != 1f;
        }
    }

    /** Measures the global norm and clips the gradients of {@code params} in place. */
    public Result apply(List<NamedParam> params) {
        double sumSq = 0;
        String nonFinite = null;
        for (int i = 0, n = params.size(); i < n; i++) {
            NamedParam p = params.get(i);
            float norm = norm(p.grad());
            if (nonFinite == null && !Float.isFinite(norm)) nonFinite = nonFiniteOrOverflow(p);
            sumSq += (double) norm * norm;
        }
        float total = (float) Math.sqrt(sumSq);
        if (nonFinite != null || maxNorm == 0) return new Result(total, 1f, nonFinite);
        float coef = (1f / (total + 1e-6f)) * (float) maxNorm;
        if (!(coef < 1f)) return new Result(total, 1f, null);   // torch multiplies by 1.0: a no-op
        for (int i = 0, n = params.size(); i < n; i++) {
            float[] g = params.get(i).grad();
            for (int j = 0; j < g.length; j++) g[j] *= coef;
        }
        return new Result(total, coef, null);
    }

    /** The L2 norm of {@code g}, accumulated in double, rounded to float. */
    static float norm(float[] g) {
        double s = 0;
        for (float x : g) s += (double) x * x;
        return (float) Math.sqrt(s);
    }

    /** Name of a parameter with a non-finite norm; notes when the values are finite but their norm overflows float. */
    private static String nonFiniteOrOverflow(NamedParam p) {
        for (float x : p.grad()) if (!Float.isFinite(x)) return p.name();
        return p.name() + " (finite values, norm overflows float32)";
    }
}
