package finetune4j.engine.kernels;

import finetune4j.engine.kernels.vector.VectorKernels;
import finetune4j.engine.tensor.DType;
import finetune4j.engine.tensor.Weight;
import finetune4j.testing.DoubleOps;
import finetune4j.testing.FiniteDiff;
import finetune4j.testing.Numerics;
import finetune4j.testing.Numerics.Tol;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every backward kernel of both implementations against central finite differences of the
 * forward operation evaluated in {@code double} ({@link DoubleOps}), llm.c's fake-loss trick:
 * {@code L = Σ out ⊙ g} with random g, so the gradient the kernel receives is g.
 *
 * <p>Tolerance {@code 1e-6 + 1e-4·|num|}: the numeric gradient is exact to ~1e-10 (see
 * {@link FiniteDiff}); the kernels compute in float on float inputs (relative error ~1e-6 on
 * O(1) values), and the 1e-6 floor covers entries where terms of O(1) cancel.
 */
class BackwardFiniteDiffTest {
    static final Tol FD = Tol.abs(1e-6).rel(1e-4);

    static Stream<Kernels> kernels() {
        return Stream.of(new ScalarKernels(), new VectorKernels());
    }

    static float[] random(SplittableRandom rnd, int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) ((rnd.nextDouble() * 2 - 1) * scale);
        return a;
    }

    static void assertGrad(String name, float[] got, int gotOff, double[] num) {
        Numerics.assertClose(name, got, gotOff, DoubleOps.toFloat(num), 0, num.length, FD);
    }

    /** A (rows, cols) weight in {@code dtype}: F32 on the heap, or F32/BF16/F16 in native memory (the mapped-file path). */
    static Weight weight(float[] values, int rows, int cols, DType dtype, boolean heap) {
        if (heap) return Weight.ofArray("w", values, rows, cols);
        MemorySegment seg = Arena.ofAuto().allocate((long) rows * cols * (dtype.bits() / 8));
        for (int i = 0; i < values.length; i++) dtype.setFloat(seg, i, values[i]);
        return new Weight("w", dtype, rows, cols, seg);
    }

    @ParameterizedTest
    @MethodSource("kernels")
    void linearBackwardGivesInputAndWeightGradients(Kernels k) {
        SplittableRandom rnd = new SplittableRandom(1);
        int m = 3, n = 5, kk = 7;
        for (DType dtype : new DType[]{DType.F32, DType.BF16, DType.F16}) {
            for (boolean heap : dtype == DType.F32 ? new boolean[]{true, false} : new boolean[]{false}) {
                String what = k.name() + " " + dtype + (heap ? " heap" : " native");
                Weight w = weight(random(rnd, n * kk, 1), n, kk, dtype, heap);
                double[] wd = DoubleOps.toDouble(w.toFloatArray());      // the values the kernel reads
                float[] x = random(rnd, m * kk, 1), g = random(rnd, m * n, 1);
                double[] gd = DoubleOps.toDouble(g), xd = DoubleOps.toDouble(x);

                float[] dx = random(rnd, m * kk + 2, 5);                  // garbage: overwritten
                k.linearBackward(dx, 2, g, 0, w, m, false);
                double[] num = FiniteDiff.gradient(xd, xs -> DoubleOps.dot(DoubleOps.linear(xs, wd, null, m, n, kk), gd));
                assertGrad(what + " dx", dx, 2, num);

                float[] acc = new float[m * kk];
                java.util.Arrays.fill(acc, 0.5f);
                k.linearBackward(acc, 0, g, 0, w, m, true);              // accumulate: 0.5 + dx
                for (int i = 0; i < acc.length; i++) acc[i] -= 0.5f;
                assertGrad(what + " dx accumulated", acc, 0, num);

                // the weight gradient is a gemm: dW(N, K) += dyᵀ(N, M) · x(M, K)
                float[] dw = new float[n * kk];
                k.gemm(true, false, n, kk, m, 1f, g, 0, n, x, 0, kk, 1f, dw, 0, kk);
                double[] numW = FiniteDiff.gradient(wd.clone(), ws -> DoubleOps.dot(DoubleOps.linear(xd, ws, null, m, n, kk), gd));
                assertGrad(what + " dW", dw, 0, numW);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("kernels")
    void rmsnormBackwardGivesInputAndWeightGradients(Kernels k) {
        SplittableRandom rnd = new SplittableRandom(2);
        int m = 3, c = 19;
        float eps = 1e-5f;
        float[] x = random(rnd, m * c, 2), w = random(rnd, c, 1.5), g = random(rnd, m * c, 1);
        x[5] = 0;
        float[] out = new float[m * c], rstd = new float[m];
        k.rmsnorm(out, 0, rstd, 0, x, 0, w, m, c, eps);
        double[] xd = DoubleOps.toDouble(x), wd = DoubleOps.toDouble(w), gd = DoubleOps.toDouble(g);

        float[] dx = new float[m * c + 1], dw = new float[c];
        java.util.Arrays.fill(dx, 0.25f);                              // both accumulate
        java.util.Arrays.fill(dw, -1f);
        k.rmsnormBackward(dx, 1, dw, g, 0, x, 0, w, rstd, 0, m, c);
        for (int i = 1; i < dx.length; i++) dx[i] -= 0.25f;
        for (int i = 0; i < c; i++) dw[i] += 1f;
        assertGrad(k.name() + " rmsnorm dx", dx, 1,
                FiniteDiff.gradient(xd, xs -> DoubleOps.dot(DoubleOps.rmsnorm(xs, wd, m, c, eps), gd)));
        assertGrad(k.name() + " rmsnorm dweight", dw, 0,
                FiniteDiff.gradient(wd.clone(), ws -> DoubleOps.dot(DoubleOps.rmsnorm(xd, ws, m, c, eps), gd)));

        float[] onlyW = new float[c];                                  // dx null: weight gradient only
        k.rmsnormBackward(null, 0, onlyW, g, 0, x, 0, w, rstd, 0, m, c);
        Numerics.assertClose(k.name() + " dweight without dx", onlyW, dw, Tol.abs(1e-6).rel(1e-6));
    }

    @ParameterizedTest
    @MethodSource("kernels")
    void ropeBackwardIsTheInverseRotation(Kernels k) {
        SplittableRandom rnd = new SplittableRandom(3);
        int m = 3, heads = 2, d = 6, half = d / 2, positions = 7;
        float[] cos = new float[positions * half], sin = new float[positions * half];
        for (int i = 0; i < cos.length; i++) {
            double a = rnd.nextDouble() * 6;
            cos[i] = (float) Math.cos(a);
            sin[i] = (float) Math.sin(a);
        }
        int[] pos = {0, 3, 6};
        float[] x = random(rnd, m * heads * d, 1), g = random(rnd, m * heads * d, 1);
        double[] xd = DoubleOps.toDouble(x), gd = DoubleOps.toDouble(g);
        float[] dx = new float[1 + g.length];
        System.arraycopy(g, 0, dx, 1, g.length);
        k.ropeBackward(dx, 1, m, heads, d, pos, 0, cos, sin);
        assertGrad(k.name() + " rope dx", dx, 1,
                FiniteDiff.gradient(xd, xs -> DoubleOps.dot(DoubleOps.rope(xs, m, heads, d, pos, cos, sin), gd)));
    }

    @ParameterizedTest
    @MethodSource("kernels")
    void siluMulBackwardGivesGateAndUpGradients(Kernels k) {
        SplittableRandom rnd = new SplittableRandom(4);
        int n = 37;
        float[] gate = random(rnd, n, 5), up = random(rnd, n, 2), g = random(rnd, n, 1);
        double[] gd = DoubleOps.toDouble(gate), ud = DoubleOps.toDouble(up), dd = DoubleOps.toDouble(g);
        float[] dgate = new float[n], dup = new float[n];
        k.siluMulBackward(dgate, 0, dup, 0, g, 0, gate, 0, up, 0, n);
        assertGrad(k.name() + " dgate", dgate, 0, FiniteDiff.gradient(gd, gs -> DoubleOps.dot(DoubleOps.siluMul(gs, ud), dd)));
        assertGrad(k.name() + " dup", dup, 0, FiniteDiff.gradient(ud, us -> DoubleOps.dot(DoubleOps.siluMul(gd, us), dd)));

        float[] inPlace = g.clone();                                   // dgate over dout, as the model uses it
        k.siluMulBackward(inPlace, 0, dup, 0, inPlace, 0, gate, 0, up, 0, n);
        Numerics.assertClose(k.name() + " dgate in place", inPlace, dgate, Tol.abs(0));
    }

    @ParameterizedTest
    @MethodSource("kernels")
    void attentionBackwardGivesQkvGradients(Kernels k) {
        int[][] shapes = {{2, 5, 4, 2, 4}, {1, 6, 3, 3, 2}, {1, 4, 3, 1, 6}};   // B, T, H, KVH, D
        for (int[] sh : shapes) {
            int b = sh[0], t = sh[1], h = sh[2], kvh = sh[3], d = sh[4];
            String what = k.name() + " B=" + b + " T=" + t + " H=" + h + " KVH=" + kvh + " D=" + d;
            SplittableRandom rnd = new SplittableRandom(t * 31 + h);
            float[] q = random(rnd, b * t * h * d, 1.5), kk = random(rnd, b * t * kvh * d, 1.5);
            float[] v = random(rnd, b * t * kvh * d, 1), g = random(rnd, b * t * h * d, 1);
            float[] out = new float[q.length], att = new float[b * h * t * t];
            for (int s = 0; s < b; s++) {
                k.attention(out, s * t * h * d, att, s * h * t * t, q, s * t * h * d, kk, s * t * kvh * d, v, s * t * kvh * d,
                        t, t, 0, h, kvh, d);
            }
            double[] qd = DoubleOps.toDouble(q), kd = DoubleOps.toDouble(kk), vd = DoubleOps.toDouble(v), gd = DoubleOps.toDouble(g);
            double[] fdq = FiniteDiff.gradient(qd, x -> DoubleOps.dot(DoubleOps.attention(x, kd, vd, b, t, h, kvh, d), gd));
            double[] fdk = FiniteDiff.gradient(kd, x -> DoubleOps.dot(DoubleOps.attention(qd, x, vd, b, t, h, kvh, d), gd));
            double[] fdv = FiniteDiff.gradient(vd, x -> DoubleOps.dot(DoubleOps.attention(qd, kd, x, b, t, h, kvh, d), gd));
            for (float[] saved : new float[][]{att, null}) {          // from the saved probabilities, then recomputing them
                String how = what + (saved == null ? " (P recomputed)" : "");
                float[] dq = random(rnd, q.length, 9), dk = random(rnd, kk.length, 9), dv = random(rnd, v.length, 9);
                k.attentionBackward(dq, 0, dk, 0, dv, 0, g, 0, q, 0, kk, 0, v, 0, saved, 0, b, t, h, kvh, d);
                assertGrad(how + " dq", dq, 0, fdq);
                assertGrad(how + " dk", dk, 0, fdk);
                assertGrad(how + " dv", dv, 0, fdv);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("kernels")
    void crossEntropyGivesSummedLossAndScaledLogitGradients(Kernels k) {
        SplittableRandom rnd = new SplittableRandom(5);
        int m = 5, v = 23;
        int[] targets = {3, Kernels.IGNORE_INDEX, 0, 22, 7};
        float[] logits = random(rnd, m * v, 4);
        float dscale = 0.375f;
        double[] ld = DoubleOps.toDouble(logits);
        float[] dlogits = random(rnd, m * v + 3, 1);                   // garbage: overwritten, ignored row zeroed
        Kernels.LossSum r = k.crossEntropy(dlogits, 3, logits, 0, targets, 0, m, v, dscale);
        assertThat(r.targets()).isEqualTo(4);
        assertThat(r.loss()).isCloseTo(DoubleOps.crossEntropySum(ld, targets, m, v), org.assertj.core.data.Offset.offset(1e-5));
        double[] num = FiniteDiff.gradient(ld, x -> dscale * DoubleOps.crossEntropySum(x, targets, m, v));
        assertGrad(k.name() + " dlogits", dlogits, 3, num);
        for (int j = 0; j < v; j++) assertThat(dlogits[3 + v + j]).isZero();

        float[] inPlace = logits.clone();                              // dlogits over logits
        Kernels.LossSum r2 = k.crossEntropy(inPlace, 0, inPlace, 0, targets, 0, m, v, dscale);
        assertThat(r2).isEqualTo(r);
        Numerics.assertClose(k.name() + " in place", inPlace, 0, dlogits, 3, m * v, Tol.abs(0));
        assertThat(k.crossEntropy(null, 0, logits, 0, targets, 0, m, v, 1f)).isEqualTo(r);   // loss only
    }

    @ParameterizedTest
    @MethodSource("kernels")
    void embeddingBackwardScatterAddsRepeatedIds(Kernels k) {
        SplittableRandom rnd = new SplittableRandom(6);
        int vocab = 5, c = 19;
        int[] ids = {1, 4, 1, 0, 1};
        float[] table = random(rnd, vocab * c, 1), g = random(rnd, ids.length * c, 1);
        double[] td = DoubleOps.toDouble(table), gd = DoubleOps.toDouble(g);
        float[] dtable = new float[vocab * c];
        java.util.Arrays.fill(dtable, 2f);
        k.embeddingBackward(dtable, g, 0, ids, 0, ids.length, c);
        for (int i = 0; i < dtable.length; i++) dtable[i] -= 2f;
        assertGrad(k.name() + " dtable", dtable, 0, FiniteDiff.gradient(td, x -> DoubleOps.dot(DoubleOps.embedding(x, ids, c), gd)));
    }
}
