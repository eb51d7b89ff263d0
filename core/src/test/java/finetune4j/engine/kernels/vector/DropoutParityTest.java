package finetune4j.engine.kernels.vector;

import finetune4j.engine.kernels.Kernels;
import finetune4j.engine.kernels.ScalarKernels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.Arguments;

import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link VectorKernels#dropout} (SIMD counter hash, multi-threaded rows) against the scalar
 * definition, bit for bit: row lengths around the vector width, a length with a tail, sizes on the
 * multi-threaded path, odd offsets, in place, p = 0 (keeps everything) and p near 1.
 */
class DropoutParityTest {
    static final int L = Vec.L;

    final Kernels ref = new ScalarKernels();
    final Kernels vec = new VectorKernels();

    static Stream<Arguments> shapes() {
        return Stream.of(Arguments.of(1, 1), Arguments.of(3, L - 1), Arguments.of(2, L), Arguments.of(5, L + 1),
                Arguments.of(7, 2 * L + 3), Arguments.of(1, 4097), Arguments.of(97, 576), Arguments.of(64, 1537));
    }

    @ParameterizedTest(name = "m={0} k={1}")
    @MethodSource("shapes")
    void matchesScalarBitForBit(int m, int k) {
        for (double p : new double[]{0.05, 0.25, 0.5, 0.97}) {
            long base = 0x1234_5678_9ABCL * (m + 31L * k) + (long) (p * 1000);
            SplittableRandom rnd = new SplittableRandom(m * 1000L + k);
            float[] x = new float[m * k + 3];
            for (int i = 0; i < x.length; i++) x[i] = (float) (rnd.nextDouble(-4, 4));
            float[] want = new float[m * k + 1], got = new float[m * k + 1];
            ref.dropout(want, 1, x, 3, m, k, base, p);
            vec.dropout(got, 1, x, 3, m, k, base, p);
            assertThat(got).as("p=%s", p).containsExactly(want);
            float[] inPlace = x.clone();
            vec.dropout(inPlace, 3, inPlace, 3, m, k, base, p);
            for (int i = 0; i < m * k; i++) {
                if (Float.floatToRawIntBits(inPlace[3 + i]) != Float.floatToRawIntBits(want[1 + i])) {
                    throw new AssertionError("in place, p=" + p + ": element " + i + " is " + inPlace[3 + i]
                            + ", the reference " + want[1 + i]);
                }
            }
        }
    }

    @Test
    void keepsTheExpectedFractionAndScalesKeptElements() {
        int m = 300, k = 700;
        float[] x = new float[m * k];
        java.util.Arrays.fill(x, 1f);
        float[] out = new float[m * k];
        vec.dropout(out, 0, x, 0, m, k, 42, 0.3);
        int dropped = 0;
        for (float v : out) {
            if (v == 0f) dropped++;
            else assertThat(v).isEqualTo((float) (1 / 0.7));
        }
        assertThat(dropped / (double) (m * k)).isBetween(0.29, 0.31);
        vec.dropout(out, 0, x, 0, m, k, 42, 0.0);
        assertThat(out).containsOnly(1f);                   // p = 0 keeps everything, scale 1
    }

    @Test
    void theMaskFollowsTheCounterDefinition() {
        // element i·K + j of base b is kept iff (mix64(b + (i·K + j + 1)·φ) >>> 11)·2⁻⁵³ ≥ p, written out here once more
        long base = -77;
        int m = 4, k = L + 5;
        float[] x = new float[m * k];
        java.util.Arrays.fill(x, 2f);
        float[] out = new float[m * k];
        vec.dropout(out, 0, x, 0, m, k, base, 0.5);
        for (int e = 0; e < m * k; e++) {
            long z = base + (e + 1L) * 0x9E3779B97F4A7C15L;
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            z ^= z >>> 31;
            boolean keep = (z >>> 11) * 0x1.0p-53 >= 0.5;
            assertThat(out[e]).as("element %d", e).isEqualTo(keep ? 4f : 0f);
        }
    }

    @Test
    void badArgumentsNameTheBuffer() {
        assertThatThrownBy(() -> vec.dropout(new float[10], 0, new float[5], 0, 2, 5, 1, 0.1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("x:");
    }
}
