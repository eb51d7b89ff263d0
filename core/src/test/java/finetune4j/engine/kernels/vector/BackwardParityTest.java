package finetune4j.engine.kernels.vector;

import finetune4j.engine.kernels.Kernels;
import finetune4j.engine.kernels.ScalarKernels;
import finetune4j.engine.tensor.DType;
import finetune4j.engine.tensor.Weight;
import finetune4j.testing.Numerics;
import finetune4j.testing.Numerics.Tol;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The backward kernels of {@link VectorKernels} against the scalar reference on awkward shapes:
 * widths around the vector length, weights of more than one conversion slab
 * ({@link LinearBackward#SLAB}) in every stored dtype, attention with more than one query block
 * ({@link Attention#QB}) and every GQA grouping, sizes that take the multi-threaded paths, odd
 * offsets. Products are compared with the GEMM tolerance {@link GemmParityTest#tol}.
 */
class BackwardParityTest {
    static final int L = Vec.L;
    final Kernels ref = new ScalarKernels();
    final Kernels vec = new VectorKernels();

    static float[] random(SplittableRandom rnd, int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) ((rnd.nextDouble() * 2 - 1) * scale);
        return a;
    }

    static Stream<Arguments> linearCases() {
        return Stream.of(Arguments.of(1, 1, 1), Arguments.of(5, L - 1, L + 1), Arguments.of(3, 2 * LinearBackward.SLAB + 3, 33),
                Arguments.of(40, 300, 70), Arguments.of(97, 129, 2 * L + 5),
                Arguments.of(LinearBackward.ROWS_SPLIT_MIN + 45, 150, 2 * Gemm.NR + 5),     // threads split rows
                Arguments.of(60, 2 * LinearBackward.SLAB + 3, 3 * Gemm.NR + 7));            // threads split columns
    }

    @ParameterizedTest(name = "M={0} N={1} K={2}")
    @MethodSource("linearCases")
    void linearBackwardMatchesReferenceInEveryDtype(int m, int n, int k) {
        SplittableRandom rnd = new SplittableRandom(m * 1000L + n * 10L + k);
        float[] values = random(rnd, n * k, 1);
        float[] dy = random(rnd, m * n + 3, 1);
        Arena arena = Arena.ofAuto();
        for (DType dtype : new DType[]{DType.F32, DType.BF16, DType.F16}) {
            MemorySegment seg = arena.allocate((long) n * k * (dtype.bits() / 8));
            for (int i = 0; i < values.length; i++) dtype.setFloat(seg, i, values[i]);
            Weight[] weights = dtype == DType.F32
                    ? new Weight[]{new Weight("w", dtype, n, k, seg), Weight.ofArray("w", values, n, k)}
                    : new Weight[]{new Weight("w", dtype, n, k, seg)};
            for (Weight w : weights) {
                String what = dtype + (w.heapArray() != null ? " heap" : " native") + " M=" + m + " N=" + n + " K=" + k;
                float[] want = random(new SplittableRandom(7), m * k + 1, 1), got = want.clone();
                ref.linearBackward(want, 1, dy, 3, w, m, false);
                vec.linearBackward(got, 1, dy, 3, w, m, false);
                Numerics.assertClose(what + " dx", got, want, GemmParityTest.tol(n));
                ref.linearBackward(want, 1, dy, 3, w, m, true);
                vec.linearBackward(got, 1, dy, 3, w, m, true);
                Numerics.assertClose(what + " dx accumulated", got, want, GemmParityTest.tol(n));
            }
        }
    }

    @Test
    void linearBackwardRejectsBuffersTooSmall() {
        Weight w = Weight.ofArray("w", new float[6], 2, 3);
        assertThatThrownBy(() -> vec.linearBackward(new float[5], 0, new float[4], 0, w, 2, false))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("dx");
    }

    @ParameterizedTest(name = "M={0} C={1}")
    @MethodSource("rowShapes")
    void rmsnormBackwardMatchesReference(int m, int c) {
        SplittableRandom rnd = new SplittableRandom(m * 31L + c);
        float[] x = random(rnd, m * c + 2, 3), w = random(rnd, c, 1), g = random(rnd, m * c + 1, 1);
        float[] rstd = new float[m + 1], out = new float[m * c];
        ref.rmsnorm(out, 0, rstd, 1, x, 2, w, m, c, 1e-6f);
        float[] dxWant = random(rnd, m * c, 1), dxGot = dxWant.clone();
        float[] dwWant = random(rnd, c, 1), dwGot = dwWant.clone();
        ref.rmsnormBackward(dxWant, 0, dwWant, g, 1, x, 2, w, rstd, 1, m, c);
        vec.rmsnormBackward(dxGot, 0, dwGot, g, 1, x, 2, w, rstd, 1, m, c);
        Numerics.assertClose("rmsnorm dx", dxGot, dxWant, Tol.abs(1e-5).rel(1e-4));
        Numerics.assertClose("rmsnorm dweight", dwGot, dwWant, GemmParityTest.tol(m));
    }

    static Stream<Arguments> rowShapes() {
        return Stream.of(Arguments.of(1, 1), Arguments.of(3, L - 1), Arguments.of(2, L), Arguments.of(5, L + 1),
                Arguments.of(257, 576), Arguments.of(40, 4097));
    }

    @ParameterizedTest(name = "M={0} D={1}")
    @MethodSource("ropeShapes")
    void ropeBackwardMatchesReference(int m, int d) {
        SplittableRandom rnd = new SplittableRandom(m + d);
        int heads = 3, half = d / 2, positions = m + 5;
        float[] cos = random(rnd, positions * half, 1), sin = random(rnd, positions * half, 1);
        int[] pos = new int[m + 1];
        for (int i = 0; i < pos.length; i++) pos[i] = rnd.nextInt(positions);
        float[] want = random(rnd, m * heads * d + 1, 2), got = want.clone();
        ref.ropeBackward(want, 1, m, heads, d, pos, 1, cos, sin);
        vec.ropeBackward(got, 1, m, heads, d, pos, 1, cos, sin);
        Numerics.assertClose("rope backward", got, want, Tol.abs(1e-6).rel(1e-6));
    }

    static Stream<Arguments> ropeShapes() {
        return Stream.of(Arguments.of(1, 2), Arguments.of(4, 2 * (L - 1)), Arguments.of(3, 2 * L + 2), Arguments.of(600, 64));
    }

    @ParameterizedTest(name = "n={0}")
    @MethodSource("lengths")
    void siluMulBackwardMatchesReference(int n) {
        SplittableRandom rnd = new SplittableRandom(n);
        float[] gate = random(rnd, n + 1, 12), up = random(rnd, n + 2, 3), g = random(rnd, n, 1);
        gate[1] = -100f;
        if (n > 1) gate[2] = 100f;
        float[] dgW = new float[n], duW = new float[n], dgG = new float[n + 3], duG = new float[n];
        ref.siluMulBackward(dgW, 0, duW, 0, g, 0, gate, 1, up, 2, n);
        vec.siluMulBackward(dgG, 3, duG, 0, g, 0, gate, 1, up, 2, n);
        Numerics.assertClose("dgate", dgG, 3, dgW, 0, n, Tol.abs(1e-6).rel(1e-5));
        Numerics.assertClose("dup", duG, duW, Tol.abs(1e-6).rel(1e-5));
    }

    static Stream<Integer> lengths() {
        return Stream.of(1, L - 1, L, L + 1, 2 * L + 3, 4097, 1 << 17);
    }

    static Stream<Arguments> attentionCases() {
        return Stream.of(Arguments.of(1, 1, 4, 4, 8), Arguments.of(2, 7, 4, 2, L + 2), Arguments.of(1, Attention.QB + 5, 8, 2, 17),
                Arguments.of(3, 33, 9, 3, 64), Arguments.of(1, 2 * Attention.QB + 1, 4, 1, 8));
    }

    @ParameterizedTest(name = "B={0} T={1} H={2} KVH={3} D={4}")
    @MethodSource("attentionCases")
    void attentionBackwardMatchesReference(int b, int t, int h, int kvh, int d) {
        SplittableRandom rnd = new SplittableRandom(b * 7L + t * 13L + h);
        int bt = b * t;
        float[] q = random(rnd, bt * h * d + 1, 2), k = random(rnd, bt * kvh * d + 2, 2), v = random(rnd, bt * kvh * d, 1);
        float[] dout = random(rnd, bt * h * d + 3, 1), out = new float[bt * h * d], att = new float[1 + b * h * t * t];
        for (int s = 0; s < b; s++) {
            ref.attention(out, s * t * h * d, att, 1 + s * h * t * t, q, 1 + s * t * h * d, k, 2 + s * t * kvh * d,
                    v, s * t * kvh * d, t, t, 0, h, kvh, d);
        }
        float[][] want = {random(rnd, bt * h * d, 5), random(rnd, bt * kvh * d + 1, 5), random(rnd, bt * kvh * d, 5)};
        float[][] got = {want[0].clone(), want[1].clone(), want[2].clone()};
        ref.attentionBackward(want[0], 0, want[1], 1, want[2], 0, dout, 3, q, 1, k, 2, v, 0, att, 1, b, t, h, kvh, d);
        vec.attentionBackward(got[0], 0, got[1], 1, got[2], 0, dout, 3, q, 1, k, 2, v, 0, att, 1, b, t, h, kvh, d);
        Tol tol = Tol.abs(2e-5).rel(1e-4);
        Numerics.assertClose("dq", got[0], want[0], tol);
        Numerics.assertClose("dk", got[1], want[1], tol);
        Numerics.assertClose("dv", got[2], want[2], tol);

        // without the probabilities: recomputed per block, as the forward computes them; the same
        // result as from the vector forward's saved P, and close to the reference
        float[] vecAtt = new float[1 + b * h * t * t];
        for (int s = 0; s < b; s++) {
            vec.attention(out, s * t * h * d, vecAtt, 1 + s * h * t * t, q, 1 + s * t * h * d, k, 2 + s * t * kvh * d,
                    v, s * t * kvh * d, t, t, 0, h, kvh, d);
        }
        // (clones of the results: what lies outside the outputs must stay, what is inside is overwritten)
        float[][] saved = {want[0].clone(), want[1].clone(), want[2].clone()};
        float[][] recomputed = {want[0].clone(), want[1].clone(), want[2].clone()};
        vec.attentionBackward(saved[0], 0, saved[1], 1, saved[2], 0, dout, 3, q, 1, k, 2, v, 0, vecAtt, 1, b, t, h, kvh, d);
        vec.attentionBackward(recomputed[0], 0, recomputed[1], 1, recomputed[2], 0, dout, 3, q, 1, k, 2, v, 0, null, 0,
                b, t, h, kvh, d);
        for (int i = 0; i < 3; i++) {
            String name = new String[]{"dq", "dk", "dv"}[i];
            Numerics.assertClose(name + " recomputed P vs saved P", recomputed[i], saved[i], Tol.abs(1e-6).rel(1e-5));
            Numerics.assertClose(name + " recomputed P vs reference", recomputed[i], want[i], tol);
        }
        float[][] refNull = {got[0].clone(), got[1].clone(), got[2].clone()};
        ref.attentionBackward(refNull[0], 0, refNull[1], 1, refNull[2], 0, dout, 3, q, 1, k, 2, v, 0, null, 0, b, t, h, kvh, d);
        for (int i = 0; i < 3; i++) {
            Numerics.assertClose("reference without P, " + i, refNull[i], want[i], Tol.abs(1e-6).rel(1e-5));
        }
    }

    @ParameterizedTest(name = "M={0} V={1}")
    @MethodSource("ceShapes")
    void crossEntropyMatchesReference(int m, int v) {
        SplittableRandom rnd = new SplittableRandom(m * 3L + v);
        float[] logits = random(rnd, m * v + 2, 8);
        int[] targets = new int[m + 1];
        for (int r = 0; r < targets.length; r++) targets[r] = rnd.nextInt(4) == 0 ? Kernels.IGNORE_INDEX : rnd.nextInt(v);
        float[] dWant = new float[m * v], dGot = random(rnd, m * v, 1);
        Kernels.LossSum want = ref.crossEntropy(dWant, 0, logits, 2, targets, 1, m, v, 0.01f);
        Kernels.LossSum got = vec.crossEntropy(dGot, 0, logits, 2, targets, 1, m, v, 0.01f);
        assertThat(got.targets()).isEqualTo(want.targets());
        assertThat(got.loss()).isCloseTo(want.loss(), org.assertj.core.data.Offset.offset(1e-5 * (1 + Math.abs(want.loss()))));
        Numerics.assertClose("dlogits", dGot, dWant, Tol.abs(1e-8).rel(1e-5));
        // in place gives the same bits as out of place
        float[] inPlace = Arrays.copyOf(logits, logits.length);
        Kernels.LossSum again = vec.crossEntropy(inPlace, 2, inPlace, 2, targets, 1, m, v, 0.01f);
        assertThat(again).isEqualTo(got);
        Numerics.assertClose("dlogits in place", inPlace, 2, dGot, 0, m * v, Tol.abs(0));
    }

    static Stream<Arguments> ceShapes() {
        return Stream.of(Arguments.of(1, 1), Arguments.of(3, L - 1), Arguments.of(2, L + 1), Arguments.of(70, 1000),
                Arguments.of(5, 32001));
    }

    @Test
    void crossEntropyRejectsATargetOutsideTheVocabulary() {
        assertThatThrownBy(() -> vec.crossEntropy(null, 0, new float[6], 0, new int[]{1, 3}, 0, 2, 3, 1f))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("target 3 of row 1");
    }

    @ParameterizedTest(name = "C={0}")
    @MethodSource("lengths")
    void embeddingBackwardMatchesReference(int c) {
        if (c > 5000) return;
        SplittableRandom rnd = new SplittableRandom(c);
        int vocab = 11, m = 40;
        int[] ids = new int[m + 2];
        for (int i = 0; i < ids.length; i++) ids[i] = rnd.nextInt(4) * 3;    // many repeats
        float[] dout = random(rnd, m * c + 1, 1);
        float[] want = random(rnd, vocab * c, 1), got = want.clone();
        ref.embeddingBackward(want, dout, 1, ids, 2, m, c);
        vec.embeddingBackward(got, dout, 1, ids, 2, m, c);
        Numerics.assertClose("dtable", got, want, Tol.abs(1e-5).rel(1e-6));
    }
}
