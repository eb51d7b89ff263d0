package finetune4j.testing;

import org.opentest4j.AssertionFailedError;

/**
 * Named, mixed-tolerance comparisons that report the worst element:
 * {@code |got − want| ≤ atol + rtol·|want|} for every element.
 */
public final class Numerics {
    private Numerics() {
    }

    /** Tolerance {@code atol + rtol·|want|}. */
    public record Tol(double atol, double rtol) {
        public static Tol abs(double atol) {
            return new Tol(atol, 0);
        }

        public Tol rel(double rtol) {
            return new Tol(atol, rtol);
        }
    }

    public static void assertClose(String name, float[] got, float[] want, Tol tol) {
        assertClose(name, got, 0, want, 0, want.length, tol);
    }

    public static void assertClose(String name, float[] got, int gotOff, float[] want, int wantOff, int n, Tol tol) {
        if (got.length - gotOff < n || want.length - wantOff < n) {
            throw new AssertionFailedError(name + ": length mismatch, got " + (got.length - gotOff) + " want " + n);
        }
        double worstExcess = 0;
        int worst = -1;
        for (int i = 0; i < n; i++) {
            double g = got[gotOff + i], w = want[wantOff + i];
            double lim = tol.atol() + tol.rtol() * Math.abs(w);
            double d = Math.abs(g - w);
            if (!(d <= lim)) { // NaN fails too
                double excess = Double.isNaN(d) ? Double.POSITIVE_INFINITY : d - lim;
                if (worst < 0 || excess > worstExcess) {
                    worstExcess = excess;
                    worst = i;
                }
            }
        }
        if (worst >= 0) {
            double g = got[gotOff + worst], w = want[wantOff + worst];
            throw new AssertionFailedError(String.format(
                    "%s: max|Δ|=%.3g at [%d] got=%.8g want=%.8g (tol %.3g = atol %.1g + rtol %.1g·|want|)",
                    name, Math.abs(g - w), worst, g, w, tol.atol() + tol.rtol() * Math.abs(w), tol.atol(), tol.rtol()));
        }
    }

    public static void assertClose(String name, double[] got, double[] want, Tol tol) {
        float[] g = new float[got.length], w = new float[want.length];
        for (int i = 0; i < got.length; i++) g[i] = (float) got[i];
        for (int i = 0; i < want.length; i++) w[i] = (float) want[i];
        assertClose(name, g, w, tol);
    }
}
