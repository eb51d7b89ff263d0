package finetune4j.testing;

import java.util.function.ToDoubleFunction;

/**
 * Central finite differences of a scalar function of a {@code double[]}, the oracle of the
 * gradient checks: {@code (f(x + h·e_i) − f(x − h·e_i)) / 2h}. With f evaluated in double
 * ({@link DoubleOps}) and h = 1e-5 relative to |x_i| + 1, truncation (O(h²)) and rounding
 * (O(1e-16/h)) errors both stay near 1e-10, far below the float backward's own error.
 */
public final class FiniteDiff {
    private FiniteDiff() {
    }

    /** The step for coordinate value x. */
    public static double step(double x) {
        return 1e-5 * (Math.abs(x) + 1);
    }

    /** d f / d x_i for the given indices (x is restored afterwards). */
    public static double[] gradient(double[] x, int[] indices, ToDoubleFunction<double[]> f) {
        double[] g = new double[indices.length];
        for (int n = 0; n < indices.length; n++) {
            int i = indices[n];
            double saved = x[i], h = step(saved);
            x[i] = saved + h;
            double plus = f.applyAsDouble(x);
            x[i] = saved - h;
            double minus = f.applyAsDouble(x);
            x[i] = saved;
            g[n] = (plus - minus) / (2 * h);
        }
        return g;
    }

    /** d f / d x_i for every i. */
    public static double[] gradient(double[] x, ToDoubleFunction<double[]> f) {
        int[] all = new int[x.length];
        for (int i = 0; i < all.length; i++) all[i] = i;
        return gradient(x, all, f);
    }
}
