package finetune4j.peft;

import finetune4j.engine.kernels.KernelSelector;
import finetune4j.engine.kernels.Kernels;
import finetune4j.engine.kernels.ScalarKernels;
import finetune4j.engine.tensor.DType;
import finetune4j.engine.tensor.NamedParam;
import finetune4j.engine.tensor.Weight;
import finetune4j.testing.Numerics;
import finetune4j.testing.Numerics.Tol;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * One {@link LoraLinear} alone: forward against a naive FP64 statement of PEFT's formula
 * ({@link RefLora}), and every gradient (A, B, DoRA's m, dx) against central finite differences
 * of that FP64 function (llm.c's fake loss {@code L = Σ y ⊙ g}), for LoRA, rsLoRA, DoRA, with and
 * without dropout, bias, a BF16 base and two weighted adapters on one slot. DoRA's norm is held
 * fixed in the differences, as PEFT detaches it.
 */
class LoraLinearTest {
    static final int M = 3, K = 7, N = 5;
    /** FP32 forward vs FP64 reference: products of O(1) values summed over K ≤ 7. */
    static final Tol FWD = Tol.abs(2e-6).rel(1e-5);
    /** FP32 analytic gradients vs FP64 central differences (h = 1e-6, truncation ~1e-12). */
    static final Tol GRAD = Tol.abs(1e-5).rel(1e-4);

    record Adapter(boolean dora, boolean rslora, double p, float weight, int r) {
    }

    record Case(String name, boolean bias, DType dtype, List<Adapter> adapters) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Case> cases() {
        return Stream.of(
                new Case("lora", false, DType.F32, List.of(new Adapter(false, false, 0, 1f, 3))),
                new Case("rslora+bias", true, DType.F32, List.of(new Adapter(false, true, 0, 1f, 4))),
                new Case("dora", false, DType.F32, List.of(new Adapter(true, false, 0, 1f, 2))),
                new Case("dora+bias bf16", true, DType.BF16, List.of(new Adapter(true, true, 0, 1f, 3))),
                new Case("lora+dropout", true, DType.F32, List.of(new Adapter(false, false, 0.3, 1f, 2))),
                new Case("dora+dropout+bias", true, DType.BF16, List.of(new Adapter(true, false, 0.4, 1f, 2))),
                new Case("two adapters 0.5 lora + 0.7 dora(dropout)", true, DType.F32,
                        List.of(new Adapter(false, false, 0, 0.5f, 2), new Adapter(true, false, 0.25, 0.7f, 3))),
                new Case("two dora 0.6 + 1.3", false, DType.F32,
                        List.of(new Adapter(true, false, 0, 0.6f, 2), new Adapter(true, true, 0, 1.3f, 1))));
    }

    static Kernels[] kernels() {
        return new Kernels[]{new ScalarKernels(), KernelSelector.get()};
    }

    static float[] randn(Random rnd, int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (rnd.nextGaussian() * scale);
        return a;
    }

    static Weight weight(String name, float[] w, int rows, int cols, DType dtype) {
        if (dtype == DType.F32) return Weight.ofArray(name, w, rows, cols);
        MemorySegment seg = Arena.ofAuto().allocate((long) rows * cols * 2);
        for (int i = 0; i < w.length; i++) dtype.setFloat(seg, i, w[i]);
        return new Weight(name, dtype, rows, cols, seg);
    }

    /** A slot for the case, with random nonzero A, B and magnitudes. */
    static LoraLinear slot(Case c, Kernels kernels, long seed) {
        Random rnd = new Random(seed);
        Weight w = weight("layer.weight", randn(rnd, N * K, 0.5), N, K, c.dtype);
        float[] bias = c.bias ? randn(rnd, N, 0.3) : null;
        LoraLinear slot = new GemmBase("model.layers.0.self_attn.q_proj", w, bias, kernels).lora();
        for (Adapter ad : c.adapters) {
            LoraWeights lw = LoraWeights.zeros(slot.name(), ad.r, K, N, LoraSpec.scaling(3.0, ad.r, ad.rslora), ad.p, ad.dora);
            System.arraycopy(randn(rnd, ad.r * K, 0.4), 0, lw.aData(), 0, ad.r * K);
            System.arraycopy(randn(rnd, N * ad.r, 0.4), 0, lw.bData(), 0, N * ad.r);
            if (ad.dora) {
                float[] m = lw.magnitude().data();
                for (int j = 0; j < N; j++) m[j] = (float) (1.0 + rnd.nextDouble());
            }
            LoraLinear.Branch b = slot.addBranch(lw, ad.weight, 99);
            b.training = true;
            b.dropoutKey = 5;
        }
        return slot;
    }

    /** The FP64 reference adapters of a slot, norms from its current A, B. */
    static List<RefLora.Br> refBranches(LoraLinear slot, double[] wt, int rowsForMask) {
        List<RefLora.Br> out = new ArrayList<>();
        for (LoraLinear.Branch b : branchesOf(slot)) {
            LoraWeights w = b.w;
            double[] a = RefLora.toDouble(w.aData()), bb = RefLora.toDouble(w.bData());
            boolean[] keep = null;
            if (w.dropout() > 0) {
                keep = new boolean[rowsForMask * K];
                long base = b.dropoutBase();
                for (int e = 0; e < keep.length; e++) keep[e] = Dropout.keep(base, e, w.dropout());
            }
            out.add(new RefLora.Br(a, bb, w.isDora() ? RefLora.toDouble(w.magnitude().data()) : null,
                    w.isDora() ? RefLora.norms(wt, a, bb, w.r(), w.scaling(), N, K) : null,
                    w.r(), w.scaling(), b.weight, keep, w.dropout()));
        }
        return out;
    }

    static List<LoraLinear.Branch> branchesOf(LoraLinear slot) {
        try {
            var f = LoraLinear.class.getDeclaredField("branches");
            f.setAccessible(true);
            return List.of((LoraLinear.Branch[]) f.get(slot));
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    @ParameterizedTest
    @MethodSource("cases")
    void forwardMatchesPeftFormulaAndGradientsMatchFiniteDifferences(Case c) {
        for (Kernels kern : kernels()) {
            LoraLinear slot = slot(c, kern, 11);
            Random rnd = new Random(12);
            float[] x = randn(rnd, M * K, 1.0), g = randn(rnd, M * N, 1.0);
            double[] wt = RefLora.toDouble(((GemmBase) slot.base()).dense.weight().toFloatArray());
            float[] biasF = slot.baseBias();
            double[] bias = biasF == null ? null : RefLora.toDouble(biasF);
            String tag = c + " " + kern.name();

            float[] y = new float[M * N];
            slot.forward(y, 0, x, 0, M);
            List<RefLora.Br> ref = refBranches(slot, wt, M);
            double[] xd = RefLora.toDouble(x), gd = RefLora.toDouble(g);
            Numerics.assertClose(tag + " forward", toF(RefLora.forward(xd, M, K, N, wt, bias, ref)), y, FWD);
            if (c.adapters.stream().anyMatch(a -> a.p > 0)) {
                assertThat(branchesOf(slot).stream().anyMatch(b -> b.w.dropout() > 0 && maskDropsSomething(b))).isTrue();
            }

            for (NamedParam p : slot.trainableParameters()) Arrays.fill(p.grad(), 0f);
            float[] dx = new float[M * K];
            slot.backward(dx, 0, false, g, 0, x, 0, M);

            // d/dx
            Numerics.assertClose(tag + " dx", dx, numeric(xd, v -> RefLora.dot(RefLora.forward(v, M, K, N, wt, bias, ref), gd)), GRAD);
            // d/dA, d/dB, d/dm of every adapter (the others held fixed)
            for (int bi = 0; bi < ref.size(); bi++) {
                RefLora.Br br = ref.get(bi);
                LoraWeights w = branchesOf(slot).get(bi).w;
                int idx = bi;
                Numerics.assertClose(tag + " d" + w.a().name() + "#" + bi, w.a().grad(),
                        numeric(br.a(), v -> loss(xd, wt, bias, gd, ref, idx, with(br, v, br.b(), br.m()))), GRAD);
                Numerics.assertClose(tag + " d" + w.b().name() + "#" + bi, w.b().grad(),
                        numeric(br.b(), v -> loss(xd, wt, bias, gd, ref, idx, with(br, br.a(), v, br.m()))), GRAD);
                if (br.m() != null) {
                    Numerics.assertClose(tag + " d" + w.magnitude().name() + "#" + bi, w.magnitude().grad(),
                            numeric(br.m(), v -> loss(xd, wt, bias, gd, ref, idx, with(br, br.a(), br.b(), v))), GRAD);
                }
            }
        }
    }

    private static boolean maskDropsSomething(LoraLinear.Branch b) {
        long base = b.dropoutBase();
        for (int e = 0; e < M * K; e++) if (!Dropout.keep(base, e, b.w.dropout())) return true;
        return false;
    }

    @ParameterizedTest
    @MethodSource("cases")
    void backwardAccumulatesIntoDxAndGradsAndSkipsNullDx(Case c) {
        Kernels kern = KernelSelector.get();
        LoraLinear slot = slot(c, kern, 21);
        Random rnd = new Random(22);
        float[] x = randn(rnd, M * K, 1.0), g = randn(rnd, M * N, 1.0);
        float[] y = new float[M * N];
        slot.forward(y, 0, x, 0, M);
        for (NamedParam p : slot.trainableParameters()) Arrays.fill(p.grad(), 0f);
        float[] dx1 = new float[M * K];
        slot.backward(dx1, 0, false, g, 0, x, 0, M);
        List<float[]> once = new ArrayList<>();
        for (NamedParam p : slot.trainableParameters()) once.add(p.grad().clone());

        // accumulate = true adds to what is there; grads add up over calls; dx == null still gives grads
        float[] dx2 = new float[M * K + 3];
        Arrays.fill(dx2, 1f);
        slot.backward(dx2, 3, true, g, 0, x, 0, M);
        slot.backward(null, 0, false, g, 0, x, 0, M);
        for (int i = 0; i < M * K; i++) assertThat(dx2[3 + i]).isCloseTo(1f + dx1[i], org.assertj.core.data.Offset.offset(1e-5f));
        List<NamedParam> ps = slot.trainableParameters();
        for (int i = 0; i < ps.size(); i++) {
            float[] want = once.get(i).clone();
            for (int e = 0; e < want.length; e++) want[e] *= 3;
            Numerics.assertClose(c + " 3× " + ps.get(i).name(), ps.get(i).grad(), want, Tol.abs(1e-6).rel(1e-5));
        }
    }

    @Test
    void zeroInitialisedBLeavesOutputBitIdenticalToBase() {
        for (Kernels kern : kernels()) {
            Random rnd = new Random(3);
            int m = 9, k = 37, n = 29;
            GemmBase base = new GemmBase("model.layers.0.mlp.up_proj", Weight.ofArray("w", randn(rnd, n * k, 0.3), n, k), randn(rnd, n, 0.1), kern);
            LoraLinear slot = base.lora();
            LoraWeights w = LoraWeights.zeros(slot.name(), 4, k, n, 2f, 0.0, false);
            LoraAdapter.initialise(w, LoraSpec.InitWeights.KAIMING_UNIFORM, 7);
            assertThat(w.aData()).isNotEqualTo(new float[4 * k]);
            slot.addBranch(w, 1f, 7).training = true;
            float[] x = randn(rnd, m * k, 1.0);
            float[] want = new float[m * n], got = new float[m * n];
            base.forward(want, 0, x, 0, m);
            slot.forward(got, 0, x, 0, m);
            assertThat(got).as(kern.name()).isEqualTo(want);
        }
    }

    @Test
    void dropoutMaskIsReproducibleForTheSameKeyAndChangesWithTheKey() {
        Case c = new Case("lora+dropout", false, DType.F32, List.of(new Adapter(false, false, 0.5, 1f, 2)));
        LoraLinear slot = slot(c, new ScalarKernels(), 5);
        LoraLinear.Branch b = branchesOf(slot).getFirst();
        float[] x = randn(new Random(1), M * K, 1.0);
        float[] y1 = new float[M * N], y2 = new float[M * N], y3 = new float[M * N];
        slot.forward(y1, 0, x, 0, M);
        slot.forward(y2, 0, x, 0, M);      // recomputed forward (gradient checkpointing)
        assertThat(y2).isEqualTo(y1);
        b.dropoutKey = 6;
        slot.forward(y3, 0, x, 0, M);
        assertThat(y3).isNotEqualTo(y1);
        // about p of the elements are dropped, and the kept ones are scaled by 1/(1−p)
        int dropped = 0, total = 200_000;
        long base = Dropout.base(1, 2, "m", 0);
        for (int e = 0; e < total; e++) if (!Dropout.keep(base, e, 0.3)) dropped++;
        assertThat(dropped / (double) total).isBetween(0.295, 0.305);
        float[] out = new float[4];
        Dropout.apply(out, 0, new float[]{1, 1, 1, 1}, 0, 1, 4, Dropout.base(1, 2, "m", 0), 0.2);
        for (float v : out) assertThat(v).isIn(0f, 1.25f);
        // inference mode: no dropout at all
        b.training = false;
        float[] yEval = new float[M * N];
        slot.forward(yEval, 0, x, 0, M);
        LoraLinear plain = slot(new Case("lora", false, DType.F32, List.of(new Adapter(false, false, 0, 1f, 2))), new ScalarKernels(), 5);
        float[] yPlain = new float[M * N];
        plain.forward(yPlain, 0, x, 0, M);
        assertThat(yEval).isEqualTo(yPlain);
    }

    @Test
    void backwardWithoutATrainingForwardOfTheSameRowsIsRefused() {
        Case c = cases().toList().get(2);
        LoraLinear slot = slot(c, new ScalarKernels(), 1);
        float[] x = randn(new Random(2), M * K, 1), g = new float[M * N];
        assertThatThrownBy(() -> slot.backward(new float[M * K], 0, false, g, 0, x, 0, M))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("training mode");
        slot.forward(new float[M * N], 0, x, 0, M);
        assertThatThrownBy(() -> slot.backward(new float[M * K], 0, false, g, 0, x, 0, M - 1))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("saved rows=" + M);
    }

    @Test
    void doraNormIsRecomputedWhenAOrBChange() {
        Case c = cases().toList().get(2);
        LoraLinear slot = slot(c, new ScalarKernels(), 8);
        float[] x = randn(new Random(2), M * K, 1);
        float[] y1 = new float[M * N], y2 = new float[M * N];
        slot.forward(y1, 0, x, 0, M);
        LoraWeights w = branchesOf(slot).getFirst().w;
        w.bData()[0] += 0.5f;   // an optimizer step, in place
        slot.forward(y2, 0, x, 0, M);
        double[] wt = RefLora.toDouble(((GemmBase) slot.base()).dense.weight().toFloatArray());
        Numerics.assertClose("after update", toF(RefLora.forward(RefLora.toDouble(x), M, K, N, wt, null, refBranches(slot, wt, M))), y2, FWD);
    }

    @Test
    void forwardAndBackwardDoNotAllocateAfterTheFirstCall() {
        var mx = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        Case c = cases().toList().get(6); // two adapters, DoRA with dropout
        LoraLinear slot = slot(c, new ScalarKernels(), 4);
        float[] x = randn(new Random(2), M * K, 1), g = randn(new Random(3), M * N, 1);
        float[] y = new float[M * N], dx = new float[M * K];
        for (int i = 0; i < 2000; i++) {   // warm up (JIT, buffers)
            slot.forward(y, 0, x, 0, M);
            slot.backward(dx, 0, false, g, 0, x, 0, M);
        }
        long tid = Thread.currentThread().threadId();
        long before = mx.getThreadAllocatedBytes(tid);
        for (int i = 0; i < 1000; i++) {
            slot.forward(y, 0, x, 0, M);
            slot.backward(dx, 0, false, g, 0, x, 0, M);
        }
        long perCall = (mx.getThreadAllocatedBytes(tid) - before) / 1000;
        assertThat(perCall).as("bytes allocated per forward+backward").isLessThan(64);
    }

    // ------------------------------------------------------------------ helpers

    interface Fn {
        double at(double[] v);
    }

    /** Central differences of f over every element of v (restored afterwards). */
    static float[] numeric(double[] v, Fn f) {
        double h = 1e-6;
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            double keep = v[i];
            v[i] = keep + h;
            double up = f.at(v);
            v[i] = keep - h;
            double down = f.at(v);
            v[i] = keep;
            out[i] = (float) ((up - down) / (2 * h));
        }
        return out;
    }

    static RefLora.Br with(RefLora.Br br, double[] a, double[] b, double[] m) {
        return new RefLora.Br(a, b, m, br.norm(), br.r(), br.s(), br.w(), br.keep(), br.p());
    }

    static double loss(double[] x, double[] wt, double[] bias, double[] g, List<RefLora.Br> ref, int idx, RefLora.Br replaced) {
        List<RefLora.Br> brs = new ArrayList<>(ref);
        brs.set(idx, replaced);
        return RefLora.dot(RefLora.forward(x, M, K, N, wt, bias, brs), g);
    }

    static float[] toF(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        return f;
    }
}
