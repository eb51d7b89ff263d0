package finetune4j.engine.kernels.onednn;

import finetune4j.engine.kernels.KernelProvider;
import finetune4j.engine.kernels.KernelSelector;
import finetune4j.engine.kernels.Kernels;
import finetune4j.engine.kernels.ScalarKernels;
import finetune4j.engine.kernels.vector.VectorKernels;
import finetune4j.engine.tensor.DType;
import finetune4j.engine.tensor.QuantType;
import finetune4j.engine.tensor.QuantizedWeight;
import finetune4j.engine.tensor.Weight;
import finetune4j.quant.Nf4Codec;
import finetune4j.quant.QuantSpec;
import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The native Linear products against the scalar reference, within the error bound of bf16
 * inputs with f32 accumulation, on awkward shapes; the rules for what stays on the Java path;
 * the packed-weight cache.
 *
 * <p>Tolerance, per output element {@code out = Σ_k x_k·w_k} (K terms): bf16 keeps 8 significant
 * bits (unit roundoff u = 2⁻⁸), so rounding x and w changes each product by a relative
 * {@code ≤ 2u + u² = 2⁻⁷ + 2⁻¹⁶}, and summing K f32 terms adds at most {@code K·2⁻²⁴} relative to
 * the sum of magnitudes: {@code |out − ref| ≤ (2⁻⁷ + 2⁻¹⁶ + K·2⁻²⁴)·Σ_k|x_k·w_k|}. The test allows
 * {@code (2⁻⁷ + 2⁻¹⁵ + K·2⁻²³)·Σ_k|x_k·w_k| + 2⁻²³·|ref|} (the last term: the final f32 rounding of
 * an accumulated output). Measured errors reach 95% of the product term on K = 1 (a single
 * product, both factors rounded the worst way); on random data they are far smaller, about
 * {@code 2⁻⁸·sqrt(K)·rms(x·w)}. A wrong element (a transposed weight, a
 * missing accumulate, a stale cache) is off by the order of that sum, far above the bound.
 *
 * <p>The native comparisons are skipped (with the reason printed) where the library cannot load;
 * the other tests run everywhere.
 */
class NativeKernelsTest {
    /** The native kernels taking every product natively (minRows 1), or a skip with the reason. */
    static NativeKernels nativeKernels(int minRows) {
        return nativeKernels(minRows, NativeKernels.WeightLayout.PACKED);
    }

    /** The native kernels with the given weight layout, or a skip with the reason. */
    static NativeKernels nativeKernels(int minRows, NativeKernels.WeightLayout layout) {
        NativeKernelProvider p = new NativeKernelProvider();
        if (!p.isAvailable()) {
            String msg = "SKIPPED: native kernel comparison: " + p.unavailableReason();
            System.err.println(msg);
            org.junit.jupiter.api.Assumptions.abort(msg);
        }
        return new NativeKernels(NativeKernelProvider.runtime(), new VectorKernels(), minRows, layout);
    }

    static final int[][] SHAPES = {      // M, K, N
            {1, 1, 1}, {1, 64, 3}, {3, 5, 7}, {16, 1, 33}, {17, 31, 1}, {33, 63, 65}, {64, 257, 130},
            {100, 576, 192}, {7, 1000, 17}, {128, 96, 2049}};

    @Test
    void theProviderIsFoundAndEitherLoadsOrSaysWhy() {
        KernelProvider p = KernelSelector.providers().stream().filter(q -> q.name().equals("native")).findFirst()
                .orElseThrow(() -> new AssertionFailedError("no 'native' provider in META-INF/services"));
        assertThat(p.priority()).isGreaterThan(100);
        if (p.isAvailable()) {
            Kernels k = KernelSelector.byName("native");
            assertThat(k).isInstanceOf(NativeKernels.class);
            assertThat(((NativeKernels) k).describe()).startsWith("oneDNN 3.11");
            String decline = p.autoDeclineReason();
            boolean amx = OneDnn.includes(NativeKernelProvider.runtime().effectiveIsa(), OneDnn.ISA_AVX512_CORE_AMX);
            assertThat(decline == null).as("declines auto exactly where oneDNN has no AMX: " + decline).isEqualTo(amx);
            assertThat(KernelSelector.byName("auto").name()).isEqualTo(amx ? "native" : "vector");
        } else {
            assertThat(p.unavailableReason()).isNotBlank();
            System.err.println("native kernels unavailable here: " + p.unavailableReason());
        }
    }

    @Test
    void linearMatchesTheReferenceWithinTheBf16Bound() {
        NativeKernels nk = nativeKernels(1);
        ScalarKernels ref = new ScalarKernels();
        SplittableRandom rnd = new SplittableRandom(11);
        try (Arena arena = Arena.ofShared()) {
            for (int[] s : SHAPES) {
                for (DType dt : List.of(DType.F32, DType.BF16, DType.F16)) {
                    int m = s[0], k = s[1], n = s[2], xOff = 3, outOff = 5;
                    Weight w = offHeap(arena, rnd, dt, n, k);
                    float[] x = random(rnd, xOff + m * k);
                    for (boolean acc : new boolean[]{false, true}) {
                        float[] init = random(rnd, outOff + m * n);
                        float[] got = init.clone(), want = init.clone();
                        nk.linear(got, outOff, x, xOff, w, m, acc);
                        ref.linear(want, outOff, x, xOff, w, m, acc);
                        float[] scale = forwardMagnitudes(x, xOff, w, m);
                        assertWithinBf16Bound(String.format(Locale.ROOT, "linear %s %dx%dx%d acc=%s", dt, m, k, n, acc),
                                got, want, outOff, scale, k);
                        assertThat(got[outOff - 1]).as("nothing written before the output").isEqualTo(init[outOff - 1]);
                    }
                }
            }
            assertThat(nk.packedBytes()).as("the products ran natively").isPositive();
        }
    }

    @Test
    void linearBackwardMatchesTheReferenceWithinTheBf16Bound() {
        NativeKernels nk = nativeKernels(1);
        ScalarKernels ref = new ScalarKernels();
        SplittableRandom rnd = new SplittableRandom(12);
        try (Arena arena = Arena.ofShared()) {
            for (int[] s : SHAPES) {
                for (DType dt : List.of(DType.F32, DType.BF16, DType.F16)) {
                    int m = s[0], k = s[1], n = s[2], dyOff = 2, dxOff = 7;
                    Weight w = offHeap(arena, rnd, dt, n, k);
                    float[] dy = random(rnd, dyOff + m * n);
                    for (boolean acc : new boolean[]{false, true}) {
                        float[] init = random(rnd, dxOff + m * k);
                        float[] got = init.clone(), want = init.clone();
                        nk.linearBackward(got, dxOff, dy, dyOff, w, m, acc);
                        ref.linearBackward(want, dxOff, dy, dyOff, w, m, acc);
                        float[] scale = backwardMagnitudes(dy, dyOff, w, m);
                        assertWithinBf16Bound(String.format(Locale.ROOT, "linearBackward %s %dx%dx%d acc=%s", dt, m, k, n, acc),
                                got, want, dxOff, scale, n);
                    }
                }
            }
            assertThat(nk.packedBytes()).isPositive();
        }
    }

    @Test
    void plainWeightsServeBothDirectionsWithoutACopyOfBf16Weights() {
        NativeKernels nk = nativeKernels(1, NativeKernels.WeightLayout.PLAIN);
        ScalarKernels ref = new ScalarKernels();
        SplittableRandom rnd = new SplittableRandom(16);
        try (Arena arena = Arena.ofShared()) {
            long expected = 0;
            for (int[] s : new int[][]{{17, 31, 5}, {64, 257, 130}, {100, 576, 192}}) {
                int m = s[0], k = s[1], n = s[2];
                for (DType dt : List.of(DType.F32, DType.BF16, DType.F16)) {
                    Weight w = offHeap(arena, rnd, dt, n, k);
                    float[] x = random(rnd, m * k), got = new float[m * n], want = new float[m * n];
                    nk.linear(got, 0, x, 0, w, m, false);
                    ref.linear(want, 0, x, 0, w, m, false);
                    float[] dy = random(rnd, m * n), dx = new float[m * k], dxWant = new float[m * k];
                    nk.linearBackward(dx, 0, dy, 0, w, m, false);
                    ref.linearBackward(dxWant, 0, dy, 0, w, m, false);
                    float[] scale = forwardMagnitudes(x, 0, w, m), dscale = backwardMagnitudes(dy, 0, w, m);
                    String what = String.format(Locale.ROOT, "plain %s %dx%dx%d", dt, m, k, n);
                    assertWithinBf16Bound(what + " linear", got, want, 0, scale, k);
                    assertWithinBf16Bound(what + " linearBackward", dx, dxWant, 0, dscale, n);
                    if (dt != DType.BF16) expected += 2L * n * k;            // one bf16 copy for both directions
                    assertThat(nk.packedBytes()).as(what + ": bytes held").isEqualTo(expected);
                }
            }
        }
        assertThat(nk.describe()).contains("weights plain");
    }

    @Test
    void fourBitWeightsAreDequantizedToBf16PerCallAndMatchTheReference() {
        // NF4 and FP4 (double-quantized or not): the reference reads the dequantized FP32 values
        // (QuantizedWeight.get), so the same bf16 bound holds; nothing is cached
        NativeKernels nk = nativeKernels(1);
        ScalarKernels ref = new ScalarKernels();
        SplittableRandom rnd = new SplittableRandom(15);
        int[][] shapes = {{1, 64, 1}, {17, 64, 33}, {64, 192, 130}, {33, 1000, 7}};   // K·N a multiple of 64 or not
        for (QuantSpec spec : List.of(new QuantSpec(QuantType.NF4, 64, true), new QuantSpec(QuantType.FP4, 128, false))) {
            for (int[] s : shapes) {
                int m = s[0], k = s[1], n = s[2];
                QuantizedWeight w = Nf4Codec.quantize("test.weight", random(rnd, n * k), n, k, DType.BF16, spec);
                float[] x = random(rnd, 2 + m * k), dy = random(rnd, m * n);
                for (boolean acc : new boolean[]{false, true}) {
                    float[] init = random(rnd, 1 + m * n), got = init.clone(), want = init.clone();
                    nk.linear(got, 1, x, 2, w, m, acc);
                    ref.linear(want, 1, x, 2, w, m, acc);
                    float[] scale = forwardMagnitudes(x, 2, w, m);
                    String what = String.format(Locale.ROOT, "%s linear %dx%dx%d acc=%s", spec, m, k, n, acc);
                    assertWithinBf16Bound(what, got, want, 1, scale, k);

                    float[] dxInit = random(rnd, m * k), dx = dxInit.clone(), dxWant = dxInit.clone();
                    nk.linearBackward(dx, 0, dy, 0, w, m, acc);
                    ref.linearBackward(dxWant, 0, dy, 0, w, m, acc);
                    float[] dscale = backwardMagnitudes(dy, 0, w, m);
                    assertWithinBf16Bound(what.replace("linear", "linearBackward"), dx, dxWant, 0, dscale, n);
                }
            }
        }
        assertThat(nk.packedBytes()).as("4-bit weights are never kept in bf16").isZero();
        assertThat(nk.stats()).as("the products ran natively, in the plain weight layout")
                .anySatisfy(st -> assertThat(st.m()).isEqualTo(64));
    }

    @Test
    void theBoundIsTightEnoughToCatchAnUnroundedOrWrongProduct() {
        // the check itself: a result off by one part in 2^6 of the magnitude sum must fail
        float[] want = {1f, -2f}, scale = {4f, 4f};
        float[] bad = {1f + 4f / 64, -2f};
        try {
            assertWithinBf16Bound("self-check", bad, want, 0, scale, 16);
        } catch (AssertionFailedError e) {
            assertThat(e.getMessage()).contains("self-check").contains("[0]");
            return;
        }
        throw new AssertionFailedError("an error of 2^-6 of the magnitude sum passed the bf16 bound");
    }

    @Test
    void heapWeightsAndFewRowsStayOnTheJavaPathBitForBit() {
        NativeKernels nk = nativeKernels(NativeKernels.DEFAULT_MIN_ROWS);
        VectorKernels vk = new VectorKernels();
        SplittableRandom rnd = new SplittableRandom(13);
        int k = 96, n = 80;
        try (Arena arena = Arena.ofShared()) {
            Weight mapped = offHeap(arena, rnd, DType.BF16, n, k);
            Weight heap = Weight.ofArray("trainable", random(rnd, n * k), n, k);
            for (int m : new int[]{1, 4, NativeKernels.DEFAULT_MIN_ROWS - 1}) {      // decode-sized: GEMV in Java
                float[] x = random(rnd, m * k), got = new float[m * n], want = new float[m * n];
                nk.linear(got, 0, x, 0, mapped, m, false);
                vk.linear(want, 0, x, 0, mapped, m, false);
                assertThat(got).as("M = " + m).containsExactly(want);
            }
            int m = 64;                                                            // a trainable heap weight: FP32 in Java
            float[] x = random(rnd, m * k), got = new float[m * n], want = new float[m * n];
            nk.linear(got, 0, x, 0, heap, m, false);
            vk.linear(want, 0, x, 0, heap, m, false);
            assertThat(got).containsExactly(want);
            float[] dy = random(rnd, m * n), dx = new float[m * k], dxWant = new float[m * k];
            nk.linearBackward(dx, 0, dy, 0, heap, m, false);
            vk.linearBackward(dxWant, 0, dy, 0, heap, m, false);
            assertThat(dx).containsExactly(dxWant);
            assertThat(nk.packedBytes()).as("nothing packed").isZero();
        }
    }

    @Test
    void aWeightIsPackedOncePerDirectionAndFreedWhenCollected() throws InterruptedException {
        NativeKernels nk = nativeKernels(1);
        SplittableRandom rnd = new SplittableRandom(14);
        int m = 32, k = 64, n = 48;
        float[] x = random(rnd, m * k), out = new float[m * n], dy = random(rnd, m * n), dx = new float[m * k];
        Arena arena = Arena.ofShared();
        Weight w = offHeap(arena, rnd, DType.F32, n, k);
        for (int i = 0; i < 3; i++) nk.linear(out, 0, x, 0, w, m, false);
        long once = nk.packedBytes();
        assertThat(once).as("a bf16 copy of (%d, %d), maybe padded", n, k).isGreaterThanOrEqualTo(2L * n * k);
        nk.linearBackward(dx, 0, dy, 0, w, m, false);
        long both = nk.packedBytes();
        assertThat(both).isGreaterThanOrEqualTo(once + 2L * n * k);
        nk.linearBackward(dx, 0, dy, 0, w, m, false);
        assertThat(nk.packedBytes()).isEqualTo(both);

        // a second weight with the same values is another object: its own copy
        Weight same = new Weight(w.name(), w.dtype(), w.rows(), w.cols(), w.data());
        assertThat(same).isEqualTo(w);
        nk.linear(out, 0, x, 0, same, m, false);
        assertThat(nk.packedBytes()).isEqualTo(both + once);

        w = null;
        same = null;
        arena.close();
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (nk.packedBytes() != 0 && System.nanoTime() < deadline) {
            System.gc();
            Thread.sleep(20);
        }
        assertThat(nk.packedBytes()).as("copies of collected weights are freed").isZero();
    }

    @Test
    void badShapesAreRefusedBeforeAnyNativeCall() {
        NativeKernels nk = nativeKernels(1);
        try (Arena arena = Arena.ofShared()) {
            Weight w = offHeap(arena, new SplittableRandom(1), DType.BF16, 8, 16);
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> nk.linear(new float[32 * 8], 0, new float[32 * 16 - 1], 0, w, 32, false))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("input").hasMessageContaining("(32, 16)");
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> nk.linearBackward(new float[32 * 16], 1, new float[32 * 8], 0, w, 32, false))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("output");
        }
    }

    // ---------------------------------------------------------------------------------------------

    /**
     * {@code |got − want| ≤ (2⁻⁷ + 2⁻¹⁵ + K·2⁻²³)·scale + 2⁻²³·|want|} per element, reporting the
     * worst one ({@code scale} = Σ|x·w| of the element).
     */
    static void assertWithinBf16Bound(String name, float[] got, float[] want, int off, float[] scale, int k) {
        double rel = Math.scalb(1.0, -7) + Math.scalb(1.0, -15) + k * Math.scalb(1.0, -23);
        int worst = -1;
        double worstRatio = 1;
        for (int i = 0; i < scale.length; i++) {
            double d = Math.abs((double) got[off + i] - want[off + i]);
            double lim = rel * scale[i] + Math.scalb(Math.abs((double) want[off + i]), -23);
            double ratio = d / lim;
            if (!(d <= lim) && (worst < 0 || !(ratio <= worstRatio))) {
                worst = i;
                worstRatio = ratio;
            }
        }
        if (worst >= 0) {
            throw new AssertionFailedError(String.format(Locale.ROOT,
                    "%s: |Δ|=%.3g at [%d] got=%.8g want=%.8g, over the bf16 bound %.3g (= %.2g·Σ|x·w| = %.3g)",
                    name, Math.abs(got[off + worst] - want[off + worst]), worst, got[off + worst], want[off + worst],
                    rel * scale[worst], rel, scale[worst]));
        }
    }

    static float[] random(SplittableRandom rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (rnd.nextDouble() * 2 - 1);
        return a;
    }

    /** A weight (rows, cols) of {@code dtype} in native memory, as a mapped model weight is. */
    /** Σ_k |x_ik · w_jk| per output (i, j) of {@code x·Wᵀ}: the scale of the bf16 bound. */
    static float[] forwardMagnitudes(float[] x, int xOff, finetune4j.engine.tensor.LinearWeight w, int m) {
        int n = w.rows(), k = w.cols();
        float[] scale = new float[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double sum = 0;
                for (int p = 0; p < k; p++) sum += Math.abs((double) x[xOff + i * k + p] * w.get(j, p));
                scale[i * n + j] = (float) sum;
            }
        }
        return scale;
    }

    /** Σ_j |dy_ij · w_jp| per output (i, p) of {@code dy·W}. */
    static float[] backwardMagnitudes(float[] dy, int dyOff, finetune4j.engine.tensor.LinearWeight w, int m) {
        int n = w.rows(), k = w.cols();
        float[] scale = new float[m * k];
        for (int i = 0; i < m; i++) {
            for (int p = 0; p < k; p++) {
                double sum = 0;
                for (int j = 0; j < n; j++) sum += Math.abs((double) dy[dyOff + i * n + j] * w.get(j, p));
                scale[i * k + p] = (float) sum;
            }
        }
        return scale;
    }

    static Weight offHeap(Arena arena, SplittableRandom rnd, DType dtype, int rows, int cols) {
        MemorySegment seg = arena.allocate((long) rows * cols * (dtype.bits() / 8), 64);
        for (long i = 0; i < (long) rows * cols; i++) dtype.setFloat(seg, i, (float) (rnd.nextDouble() * 2 - 1));
        return new Weight("test.weight", dtype, rows, cols, seg);
    }
}
