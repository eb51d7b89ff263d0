package finetune4j.engine.kernels.vector;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link Exp}: within 2 ulp of the correctly rounded exp over the whole useful range, the special
 * values, and — its reason to exist — the same bits as the same operations done lane by lane in
 * scalar Java (which is what the Vector API runs before C2 compiles a loop).
 */
class ExpTest {
    static final int L = Vec.L;

    static float[] exp(float[] x) {
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i += L) Exp.exp(FloatVector.fromArray(Vec.S, x, i)).intoArray(out, i);
        return out;
    }

    static float[] inputs() {
        SplittableRandom rnd = new SplittableRandom(11);
        float[] x = new float[L * 4096];
        for (int i = 0; i < x.length; i++) x[i] = (float) (rnd.nextDouble() * 180 - 90);
        for (int i = 0; i < 64; i++) x[i] = (float) (rnd.nextDouble() * 2 - 1) * 1e-3f;   // near 0
        return x;
    }

    @Test
    void withinTwoUlpOfTheCorrectlyRoundedResult() {
        float[] x = inputs(), y = exp(x);
        for (int i = 0; i < x.length; i++) {
            double want = Math.exp(x[i]);
            if (x[i] < -87.33654f || want > Float.MAX_VALUE) continue;      // flushed / overflow: see specials
            float w = (float) want;
            assertThat(Math.abs(y[i] - w)).as("exp(%s) = %s, want %s", x[i], y[i], w).isLessThanOrEqualTo(2 * Math.ulp(w));
        }
    }

    @Test
    void specialValues() {
        float[] x = new float[L];
        float[] special = {0f, -0f, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, Float.NaN, -100f, 100f, 88.7f,
                -87.3f, 1f, -1f};
        System.arraycopy(special, 0, x, 0, Math.min(L, special.length));
        float[] y = exp(x);
        assertThat(y[0]).isEqualTo(1f);
        if (L >= 8) {
            assertThat(y[1]).isEqualTo(1f);
            assertThat(y[2]).isZero();
            assertThat(y[3]).isEqualTo(Float.POSITIVE_INFINITY);
            assertThat(y[4]).isNaN();
            assertThat(y[5]).isZero();
            assertThat(y[6]).isEqualTo(Float.POSITIVE_INFINITY);
            assertThat(y[7]).isCloseTo((float) Math.exp(88.7f), org.assertj.core.data.Percentage.withPercentage(1e-4));
        }
    }

    @Test
    void sameBitsAsTheScalarSequenceOfOperations() {
        float[] x = inputs(), y = exp(x);
        for (int i = 0; i < x.length; i++) {
            assertThat(Float.floatToRawIntBits(y[i])).as("exp(%s)", x[i]).isEqualTo(Float.floatToRawIntBits(scalar(x[i])));
        }
    }

    /** Exp.exp written lane by lane with the scalar operations the Vector API defines its lanes by. */
    static float scalar(float x) {
        float xc = Math.min(Math.max(x, -87.33654f), 88.72283f);
        float t = Math.fma(xc, 1.44269504088896341f, 12582912f);
        float n = t - 12582912f;
        int ni = Float.floatToRawIntBits(t) - Float.floatToRawIntBits(12582912f);
        float r = Math.fma(n, -0.693359375f, xc);
        r = Math.fma(n, 2.12194440e-4f, r);
        float p = Math.fma(r, 1.9875691500E-4f, 1.3981999507E-3f);
        p = Math.fma(p, r, 8.3334519073E-3f);
        p = Math.fma(p, r, 4.1665795894E-2f);
        p = Math.fma(p, r, 1.6666665459E-1f);
        p = Math.fma(p, r, 5.0000001201E-1f);
        p = Math.fma(p, r * r, r) + 1f;
        int half = ni >> 1;
        float y = p * Float.intBitsToFloat((half + 127) << 23) * Float.intBitsToFloat((ni - half + 127) << 23);
        if (x < -87.33654f) y = 0f;
        if (x > 88.72283f) y = Float.POSITIVE_INFINITY;
        return y;
    }
}
