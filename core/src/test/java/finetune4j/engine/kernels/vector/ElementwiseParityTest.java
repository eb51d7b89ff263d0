package finetune4j.engine.kernels.vector;

import finetune4j.engine.kernels.Kernels;
import finetune4j.engine.kernels.ScalarKernels;
import finetune4j.testing.Numerics;
import finetune4j.testing.Numerics.Tol;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.SplittableRandom;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The row and elementwise kernels of {@link VectorKernels} (rmsnorm, rope, siluMul, add, softmax)
 * against the scalar reference, for lengths around the vector width (1, L−1, L, L+1), 4097, and
 * sizes that take the multi-threaded path; inputs at odd offsets, mixed signs, large magnitudes.
 */
class ElementwiseParityTest {
    static final int L = Vec.L;

    final Kernels ref = new ScalarKernels();
    final Kernels vec = new VectorKernels();

    static IntStream lengths() {
        return IntStream.of(1, L - 1, L, L + 1, 2 * L + 3, 4097, 1 << 17);
    }

    @ParameterizedTest(name = "n={0}")
    @MethodSource("lengths")
    void addMatchesExactly(int n) {
        SplittableRandom rnd = new SplittableRandom(n);
        float[] a = random(rnd, n + 3, 10), b = random(rnd, n + 1, 10);
        float[] want = new float[n + 2], got = new float[n + 2];
        ref.add(want, 2, a, 3, b, 1, n);
        vec.add(got, 2, a, 3, b, 1, n);
        assertThat(got).containsExactly(want);
        vec.add(a, 3, a, 3, b, 1, n);                       // out aliases a (the residual add)
        Numerics.assertClose("a += b in place", a, 3, want, 2, n, Tol.abs(0));
    }

    @ParameterizedTest(name = "n={0}")
    @MethodSource("lengths")
    void siluMulMatchesReference(int n) {
        SplittableRandom rnd = new SplittableRandom(n);
        float[] gate = random(rnd, n + 1, 12), up = random(rnd, n + 2, 3);
        gate[1] = -100f;                                     // exp(-g) overflows: silu → -0
        if (n > 1) gate[2] = 100f;
        float[] want = new float[n], got = new float[n];
        ref.siluMul(want, 0, gate, 1, up, 2, n);
        vec.siluMul(got, 0, gate, 1, up, 2, n);
        Numerics.assertClose("silu(gate)·up", got, want, Tol.abs(1e-6).rel(2e-6));
        vec.siluMul(gate, 1, gate, 1, up, 2, n);            // out aliases gate
        Numerics.assertClose("silu(gate)·up in place", gate, 1, want, 0, n, Tol.abs(1e-6).rel(2e-6));
    }

    @ParameterizedTest(name = "c={0}")
    @MethodSource("lengths")
    void rmsnormMatchesReference(int c) {
        int m = c >= 4097 ? 3 : 5;
        if ((long) m * c > 1 << 18) m = 2;
        SplittableRandom rnd = new SplittableRandom(c);
        float[] x = random(rnd, 1 + m * c, 4), w = random(rnd, c, 2);
        float[] want = new float[2 + m * c], got = new float[2 + m * c];
        float[] rWant = new float[m + 1], rGot = new float[m + 1];
        ref.rmsnorm(want, 2, rWant, 1, x, 1, w, m, c, 1e-5f);
        vec.rmsnorm(got, 2, rGot, 1, x, 1, w, m, c, 1e-5f);
        Numerics.assertClose("rstd", rGot, rWant, Tol.abs(0).rel(2e-6));
        Numerics.assertClose("rmsnorm", got, want, Tol.abs(1e-6).rel(4e-6));
        float[] again = new float[2 + m * c];
        vec.rmsnorm(again, 2, null, 0, x, 1, w, m, c, 1e-5f);   // rstd is optional
        Numerics.assertClose("rmsnorm without rstd", again, got, Tol.abs(0));
    }

    @Test
    void ropeMatchesReferenceForEveryHeadDim() {
        for (int d : new int[]{2, 8, 2 * L, 2 * L + 2, 64, 128}) {
            for (int heads : new int[]{1, 3}) {
                int m = 7, half = d / 2, maxPos = 50;
                SplittableRandom rnd = new SplittableRandom(d * 10L + heads);
                float[] cos = new float[maxPos * half], sin = new float[maxPos * half];
                for (int t = 0; t < maxPos; t++) {
                    for (int i = 0; i < half; i++) {
                        double ang = t * Math.pow(10000, -2.0 * i / d);
                        cos[t * half + i] = (float) Math.cos(ang);
                        sin[t * half + i] = (float) Math.sin(ang);
                    }
                }
                int[] pos = new int[m + 1];
                for (int r = 0; r < m; r++) pos[r + 1] = rnd.nextInt(maxPos);
                float[] x = random(rnd, 3 + m * heads * d, 3);
                float[] want = x.clone(), got = x.clone();
                ref.rope(want, 3, m, heads, d, pos, 1, cos, sin);
                vec.rope(got, 3, m, heads, d, pos, 1, cos, sin);
                // Same products and sums in the same order: bit-identical.
                Numerics.assertClose("rope d=" + d + " heads=" + heads, got, want, Tol.abs(0));
            }
        }
    }

    @ParameterizedTest(name = "n={0}")
    @MethodSource("lengths")
    void softmaxMatchesReference(int n) {
        SplittableRandom rnd = new SplittableRandom(n);
        float[] x = random(rnd, n + 2, 30);
        if (n > 2) x[3] = Float.NEGATIVE_INFINITY;           // a masked logit
        float[] want = x.clone(), got = x.clone();
        ref.softmax(want, 2, n);
        vec.softmax(got, 2, n);
        Numerics.assertClose("softmax", got, want, Tol.abs(1e-7).rel(1e-5));
        double sum = 0;
        for (int i = 2; i < n + 2; i++) sum += got[i];
        assertThat(sum).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-4));
    }

    @Test
    void misuseIsReportedWithTheValues() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> vec.add(new float[10], 0, new float[10], 3, new float[10], 0, 8))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("a: (1, 8) with row stride 8 at offset 3 needs 11 elements, the array has 10");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> vec.rmsnorm(new float[8], 0, null, 0, new float[8], 0,
                        new float[3], 2, 4, 1e-5f))
                .hasMessageContaining("weight: (1, 4)");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> vec.rope(new float[8], 0, 2, 1, 4, new int[1], 0,
                        new float[8], new float[8]))
                .hasMessage("pos: 2 positions from offset 0, the array has 1");
    }

    static float[] random(SplittableRandom rnd, int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) ((rnd.nextDouble() * 2 - 1) * scale);
        return a;
    }
}
