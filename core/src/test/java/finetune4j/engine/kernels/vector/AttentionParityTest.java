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

import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link VectorKernels#attention} against the scalar reference: decode (Tq = 1, with a long
 * cache), short prompts (the dot-product path), long ones (the GEMM-blocked path, several query
 * blocks), a cache already holding {@code past} positions, spare cache capacity beyond the last
 * key (Tk &gt; past + Tq), GQA groups of 1, 2 and 4, head dims below, at and above the vector
 * width; with and without the probabilities {@code att}.
 */
class AttentionParityTest {
    final Kernels ref = new ScalarKernels();
    final Kernels vec = new VectorKernels();

    static Stream<Arguments> cases() {
        int[][] qkv = {{4, 4}, {4, 2}, {4, 1}, {8, 2}};           // heads, kvHeads: groups 1, 2, 4, 4
        int[][] tqPast = {{1, 0}, {1, 37}, {1, 1500}, {3, 0}, {5, 11}, {Attention.GEMM_MIN_TQ - 1, 2},
                {Attention.GEMM_MIN_TQ, 0}, {Attention.GEMM_MIN_TQ + 1, 9}, {Attention.QB + 7, 0}, {2 * Attention.QB + 1, 5}};
        int[] dims = {8, 17, Vec.L + 2, 64};
        List<Arguments> out = new ArrayList<>();
        int i = 0;
        for (int[] h : qkv) {
            for (int[] tp : tqPast) {
                for (int d : dims) {
                    // spare cache capacity on every other case; att kept on every third
                    out.add(Arguments.of(tp[0], tp[1], h[0], h[1], d, (i % 2) * 4, i % 3 == 0));
                    i++;
                }
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "tq={0} past={1} H={2} KVH={3} D={4} spare={5} att={6}")
    @MethodSource("cases")
    void matchesReference(int tq, int past, int heads, int kvHeads, int d, int spare, boolean keepAtt) {
        int tk = past + tq + spare;
        SplittableRandom rnd = new SplittableRandom(tq * 7919L + past * 31L + heads * 7L + kvHeads + d);
        int qOff = 3, kOff = 1, vOff = 2, outOff = 5, attOff = 1;
        float[] q = ElementwiseParityTest.random(rnd, qOff + tq * heads * d, 2);
        float[] k = ElementwiseParityTest.random(rnd, kOff + tk * kvHeads * d, 2);
        float[] v = ElementwiseParityTest.random(rnd, vOff + tk * kvHeads * d, 1);
        float[] want = new float[outOff + tq * heads * d], got = new float[want.length];
        Arrays.fill(got, Float.NaN);
        System.arraycopy(want, 0, got, 0, outOff);
        float[] attWant = keepAtt ? new float[attOff + heads * tq * tk] : null;
        float[] attGot = keepAtt ? new float[attWant.length] : null;
        if (keepAtt) Arrays.fill(attGot, attOff, attGot.length, Float.NaN);   // every entry must be written
        ref.attention(want, outOff, attWant, attOff, q, qOff, k, kOff, v, vOff, tq, tk, past, heads, kvHeads, d);
        vec.attention(got, outOff, attGot, attOff, q, qOff, k, kOff, v, vOff, tq, tk, past, heads, kvHeads, d);
        Numerics.assertClose("attention out", got, want, Tol.abs(2e-6).rel(1e-4));
        if (keepAtt) Numerics.assertClose("attention probabilities", attGot, attWant, Tol.abs(1e-7).rel(1e-4));
    }

    @Test
    void rejectsInconsistentShapes() {
        float[] z = new float[64];
        assertThatThrownBy(() -> vec.attention(z, 0, null, 0, z, 0, z, 0, z, 0, 2, 2, 1, 4, 2, 4))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("tk=2 keys cannot hold past=1 + tq=2");
        assertThatThrownBy(() -> vec.attention(z, 0, null, 0, z, 0, z, 0, z, 0, 1, 1, 0, 3, 2, 4))
                .hasMessageContaining("heads must be a multiple of kvHeads");
    }
}
