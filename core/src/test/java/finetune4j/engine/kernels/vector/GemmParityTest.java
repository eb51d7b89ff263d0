package finetune4j.engine.kernels.vector;

import finetune4j.engine.kernels.Kernels;
import finetune4j.engine.kernels.ScalarKernels;
import finetune4j.testing.Numerics;
import finetune4j.testing.Numerics.Tol;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link VectorKernels#gemm} against the scalar reference on shapes chosen to hit every edge of
 * the blocking: M around MR and MC, N around NR and NC, K around KC, all four transpose
 * combinations, offsets and row strides that are not multiples of anything, alpha/beta
 * combinations, and C pre-filled with NaN where beta = 0 must not read it. Shapes large enough
 * to take the multi-threaded path (split over N, or over M when N is one panel) are included.
 */
class GemmParityTest {
    static final int MR = Gemm.MR, NR = Gemm.NR, KC = Gemm.KC, MC = Gemm.MC, NC = Gemm.NC;

    final Kernels ref = new ScalarKernels();
    final Kernels vec = new VectorKernels();

    static Stream<Arguments> shapes() {
        int[][] mnk = {
                {1, 1, 1}, {1, NR, KC}, {MR - 1, NR - 1, 7}, {MR, NR, KC}, {MR + 1, NR + 1, KC + 1},
                {13, 2 * NR + 3, 2 * KC + 5}, {MC + 1, 70, 33}, {2 * MR, 5, KC - 1},
                {7, NC + NR + 5, 33},            // N beyond one NC slab
                {20, 2100, 40},                  // parallel, split over N
                {300, 20, 200},                  // parallel, N is one panel: split over M
                {150, 300, 260},                 // parallel, both edges ragged
                {301, 4 * NR - 3, 70},           // parallel, more rows than columns: split over M only
        };
        List<Arguments> out = new ArrayList<>();
        for (int[] s : mnk) {
            for (boolean ta : new boolean[]{false, true}) {
                for (boolean tb : new boolean[]{false, true}) out.add(Arguments.of(s[0], s[1], s[2], ta, tb));
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "m={0} n={1} k={2} transA={3} transB={4}")
    @MethodSource("shapes")
    void matchesReferenceOnAwkwardShapes(int m, int n, int k, boolean transA, boolean transB) {
        SplittableRandom rnd = new SplittableRandom(31L * m + 17L * n + k);
        // Strides wider than the rows and odd offsets, so no index lines up by accident.
        int lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 1, ldc = n + 2;
        int aOff = 5, bOff = 3, cOff = 7;
        float[] a = random(rnd, aOff + (transA ? k : m) * lda);
        float[] b = random(rnd, bOff + (transB ? n : k) * ldb);
        float[] c0 = random(rnd, cOff + m * ldc);
        float[][] ab = {{1f, 0f}, {0.5f, 1f}, {-1.25f, 0.75f}};
        for (float[] p : ab) {
            float alpha = p[0], beta = p[1];
            float[] want = c0.clone(), got = c0.clone();
            if (beta == 0f) {
                Arrays.fill(got, cOff, got.length, Float.NaN);   // must be overwritten, never read
                Arrays.fill(want, cOff, want.length, Float.NaN);
                fillGaps(got, want, c0, cOff, m, n, ldc);
            }
            ref.gemm(transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, want, cOff, ldc);
            vec.gemm(transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, got, cOff, ldc);
            Numerics.assertClose("C alpha=" + alpha + " beta=" + beta, got, want, tol(k));
        }
    }

    @Test
    void zeroKScalesCByBeta() {
        float[] c = {Float.NaN, Float.NaN, 3f, 4f};
        vec.gemm(false, false, 2, 1, 0, 1f, new float[0], 0, 1, new float[0], 0, 1, 0f, c, 0, 2);
        assertThat(c).containsExactly(0f, Float.NaN, 0f, 4f);
        float[] d = {1f, 2f};
        vec.gemm(true, true, 1, 2, 0, 1f, new float[0], 0, 1, new float[0], 0, 1, 2f, d, 0, 2);
        assertThat(d).containsExactly(2f, 4f);
    }

    @Test
    void rejectsOperandsThatDoNotFit() {
        assertThatThrownBy(() -> vec.gemm(false, false, 4, 4, 4, 1f, new float[15], 0, 4, new float[16], 0, 4,
                0f, new float[16], 0, 4))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("a: (4, 4) with row stride 4 at offset 0 needs 16 elements, the array has 15");
        assertThatThrownBy(() -> vec.gemm(false, false, 2, 4, 4, 1f, new float[16], 0, 4, new float[16], 0, 4,
                0f, new float[16], 0, 3))
                .hasMessageContaining("row stride 3 is smaller than the row length 4");
    }

    /** FP32 accumulation of k mixed-sign products in a different order than the double reference. */
    static Tol tol(int k) {
        return Tol.abs(2e-6 * Math.sqrt(k) + 1e-6).rel(1e-5);
    }

    static float[] random(SplittableRandom rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (rnd.nextDouble() * 2 - 1);
        return a;
    }

    /** Restores the elements of C outside the (m, n) window (the row-stride gaps) from c0. */
    private static void fillGaps(float[] got, float[] want, float[] c0, int cOff, int m, int n, int ldc) {
        for (int i = cOff; i < got.length; i++) {
            int r = (i - cOff) % ldc;
            if (r >= n || (i - cOff) / ldc >= m) {
                got[i] = c0[i];
                want[i] = c0[i];
            }
        }
    }
}
