package finetune4j.engine.kernels.vector;

import finetune4j.engine.kernels.KernelThreads;
import finetune4j.engine.kernels.Kernels;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;

/**
 * The row and elementwise backward kernels of {@link VectorKernels} (contracts and reference
 * definitions: {@link Kernels} and {@link finetune4j.engine.kernels.ScalarKernels}): RMSNorm,
 * RoPE, SwiGLU, softmax cross-entropy and the embedding scatter-add. SIMD over the contiguous
 * dimension; large calls split over {@link KernelThreads} into chunks fixed by the shape alone, so
 * results do not depend on which thread ran what; exponentials through {@link Exp}, so they do not
 * depend on whether the JIT has compiled the loop yet either.
 *
 * <p>Reductions over rows (the norm weight's gradient, the embedding table's) are cut by
 * <em>columns</em> instead: each chunk owns a column range and walks every row, so there are no
 * per-thread partial buffers and the sum order is the row order.
 */
final class BackwardOps {
    private static final VectorSpecies<Float> S = Vec.S;
    private static final int L = Vec.L;
    /** Work below this many elements stays on the calling thread. */
    private static final int PARALLEL_MIN_ELEMENTS = 1 << 15;

    /** Per-chunk loss sums of {@link #crossEntropy}, owned by the calling thread. */
    private static final ThreadLocal<double[]> PARTIALS = ThreadLocal.withInitial(() -> new double[0]);

    private BackwardOps() {
    }

    /** A range [from, to) of rows, elements or columns. */
    @FunctionalInterface
    private interface Range {
        void run(int from, int to);
    }

    /** Splits [0, n) into at most {@code 4·threads} chunks (multiples of {@code align}) when {@code work} is large. */
    private static void split(int n, long work, int align, Range task) {
        int chunks = work < PARALLEL_MIN_ELEMENTS ? 1 : Math.min((n + align - 1) / align, 4 * KernelThreads.parallelism());
        if (chunks <= 1) {
            task.run(0, n);
            return;
        }
        int per = ((n + chunks - 1) / chunks + align - 1) / align * align;
        KernelThreads.run((n + per - 1) / per, c -> task.run(c * per, Math.min(n, c * per + per)));
    }

    static void rmsnormBackward(float[] dx, int dxOff, float[] dweight, float[] dout, int doutOff,
                                float[] x, int xOff, float[] weight, float[] rstd, int rstdOff, int m, int c) {
        if (dx != null) {
            split(m, (long) m * c, 1, (r0, r1) -> {
                for (int r = r0; r < r1; r++) {
                    int xo = xOff + r * c, go = doutOff + r * c, o = dxOff + r * c;
                    // dot = Σ_j dout_j · w_j · x_j
                    FloatVector acc = FloatVector.zero(S);
                    for (int i = 0; i < c; i += L) {
                        VectorMask<Float> mk = S.indexInRange(i, c);
                        acc = FloatVector.fromArray(S, dout, go + i, mk).mul(FloatVector.fromArray(S, weight, i, mk))
                                .fma(FloatVector.fromArray(S, x, xo + i, mk), acc);
                    }
                    float s = rstd[rstdOff + r];
                    float coeff = s * s * s * Vec.sumLanes(acc) / c;
                    for (int i = 0; i < c; i += L) {
                        VectorMask<Float> mk = S.indexInRange(i, c);
                        FloatVector g = FloatVector.fromArray(S, dout, go + i, mk).mul(FloatVector.fromArray(S, weight, i, mk));
                        FloatVector xv = FloatVector.fromArray(S, x, xo + i, mk);
                        FloatVector.fromArray(S, dx, o + i, mk).add(g.mul(s)).sub(xv.mul(coeff)).intoArray(dx, o + i, mk);
                    }
                }
            });
        }
        if (dweight != null) {
            split(c, (long) m * c, L, (i0, i1) -> {
                for (int i = i0; i < i1; i += L) {
                    VectorMask<Float> mk = S.indexInRange(i, i1);
                    FloatVector acc = FloatVector.zero(S);
                    for (int r = 0; r < m; r++) {
                        acc = FloatVector.fromArray(S, dout, doutOff + r * c + i, mk)
                                .mul(FloatVector.fromArray(S, x, xOff + r * c + i, mk))
                                .fma(FloatVector.broadcast(S, rstd[rstdOff + r]), acc);
                    }
                    FloatVector.fromArray(S, dweight, i, mk).add(acc).intoArray(dweight, i, mk);
                }
            });
        }
    }

    static void ropeBackward(float[] dx, int dxOff, int m, int heads, int headDim, int[] pos, int posOff,
                             float[] cos, float[] sin) {
        int half = headDim / 2;
        split(m, (long) m * heads * headDim, 1, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int t = pos[posOff + r] * half;
                for (int h = 0; h < heads; h++) {
                    int base = dxOff + (r * heads + h) * headDim;
                    for (int i = 0; i < half; i += L) {
                        VectorMask<Float> mk = S.indexInRange(i, half);
                        FloatVector co = FloatVector.fromArray(S, cos, t + i, mk);
                        FloatVector si = FloatVector.fromArray(S, sin, t + i, mk);
                        FloatVector d0 = FloatVector.fromArray(S, dx, base + i, mk);
                        FloatVector d1 = FloatVector.fromArray(S, dx, base + half + i, mk);
                        d0.mul(co).add(d1.mul(si)).intoArray(dx, base + i, mk);
                        d1.mul(co).sub(d0.mul(si)).intoArray(dx, base + half + i, mk);
                    }
                }
            }
        });
    }

    static void siluMulBackward(float[] dgate, int dgateOff, float[] dup, int dupOff, float[] dout, int doutOff,
                                float[] gate, int gateOff, float[] up, int upOff, int n) {
        split(n, n, L, (i0, i1) -> {
            for (int i = i0; i < i1; i += L) {
                VectorMask<Float> mk = S.indexInRange(i, i1);
                FloatVector g = FloatVector.fromArray(S, gate, gateOff + i, mk);
                FloatVector u = FloatVector.fromArray(S, up, upOff + i, mk);
                FloatVector d = FloatVector.fromArray(S, dout, doutOff + i, mk);
                FloatVector sig = FloatVector.broadcast(S, 1f).div(Exp.exp(g.neg()).add(1f));
                FloatVector silu = g.mul(sig);
                // silu'(g) = σ·(1 + g·(1 − σ))
                FloatVector dsilu = sig.mul(g.mul(sig.neg().add(1f)).add(1f));
                d.mul(silu).intoArray(dup, dupOff + i, mk);
                d.mul(u).mul(dsilu).intoArray(dgate, dgateOff + i, mk);
            }
        });
    }

    static Kernels.LossSum crossEntropy(float[] dlogits, int dlogitsOff, float[] logits, int logitsOff,
                                        int[] targets, int targetsOff, int m, int v, float dscale) {
        if (m == 0) return new Kernels.LossSum(0, 0);
        int count = 0;
        for (int r = 0; r < m; r++) {
            int target = targets[targetsOff + r];
            if (target == Kernels.IGNORE_INDEX) continue;
            if (target < 0 || target >= v) {
                throw new IllegalArgumentException("crossEntropy: target " + target + " of row " + r
                        + " is outside [0, " + v + ") and is not the ignore index " + Kernels.IGNORE_INDEX);
            }
            count++;
        }
        // fixed chunks of rows (independent of thread timing), their sums added in chunk order
        int chunks = (long) m * v < PARALLEL_MIN_ELEMENTS ? 1 : Math.min(m, 4 * KernelThreads.parallelism());
        int per = (m + chunks - 1) / chunks;
        int used = (m + per - 1) / per;
        double[] partial = PARTIALS.get();
        if (partial.length < used) {
            partial = new double[used];
            PARTIALS.set(partial);
        }
        double[] sums = partial;
        KernelThreads.run(used, c -> {
            double sum = 0;
            for (int r = c * per, end = Math.min(m, r + per); r < end; r++) {
                sum += crossEntropyRow(dlogits, dlogitsOff + r * v, logits, logitsOff + r * v,
                        targets[targetsOff + r], v, dscale);
            }
            sums[c] = sum;
        });
        double total = 0;
        for (int c = 0; c < used; c++) total += sums[c];
        return new Kernels.LossSum(total, count);
    }

    /**
     * One row's loss (0 for an ignored row); writes its dlogits when dlogits is not null. Each
     * pass over the row is its own small method and no vector crosses a call: a method this size
     * with the exponential inlined three times hit C2's inlining node cutoff, and every vector
     * passed to or returned from a call that is not inlined is boxed on the heap (measured on
     * smollm-135m: ~10 MB of garbage per step from this row loop).
     */
    private static double crossEntropyRow(float[] dlogits, int dOff, float[] logits, int lo, int target, int v,
                                          float dscale) {
        if (target == Kernels.IGNORE_INDEX) {
            if (dlogits != null) Arrays.fill(dlogits, dOff, dOff + v, 0f);
            return 0;
        }
        float picked = logits[lo + target];                      // read before an in-place dlogits overwrites it
        float max = rowMax(logits, lo, v);
        double sum = dlogits != null ? expShiftedInto(dlogits, dOff, logits, lo, v, max) : expShiftedSum(logits, lo, v, max);
        if (dlogits != null) {
            scaleRow(dlogits, dOff, v, (float) (dscale / sum));
            dlogits[dOff + target] -= dscale;
        }
        return Math.log(sum) + max - picked;
    }

    /** max of x[off .. off+n), n ≥ 1. */
    private static float rowMax(float[] x, int off, int n) {
        FloatVector vmax = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        int j = 0;
        for (int upper = S.loopBound(n); j < upper; j += L) vmax = vmax.max(FloatVector.fromArray(S, x, off + j));
        if (j < n) {
            VectorMask<Float> mk = S.indexInRange(j, n);
            vmax = vmax.max(FloatVector.fromArray(S, x, off + j, mk).blend(Float.NEGATIVE_INFINITY, mk.not()));
        }
        return vmax.reduceLanes(VectorOperators.MAX);
    }

    /** dst[i] = exp(x[i] − max) for i &lt; n (dst may be x at the same offset); returns their sum. */
    private static double expShiftedInto(float[] dst, int dOff, float[] x, int off, int n, float max) {
        FloatVector vm = FloatVector.broadcast(S, max), vsum = FloatVector.zero(S);
        int j = 0;
        for (int upper = S.loopBound(n); j < upper; j += L) {
            FloatVector e = Exp.exp(FloatVector.fromArray(S, x, off + j).sub(vm));
            e.intoArray(dst, dOff + j);
            vsum = vsum.add(e);
        }
        if (j < n) {
            VectorMask<Float> mk = S.indexInRange(j, n);
            FloatVector e = Exp.exp(FloatVector.fromArray(S, x, off + j, mk).sub(vm));
            e.intoArray(dst, dOff + j, mk);
            vsum = vsum.add(e, mk);
        }
        return Vec.sumLanes(vsum);
    }

    /** Σ exp(x[i] − max) for i &lt; n. */
    private static double expShiftedSum(float[] x, int off, int n, float max) {
        FloatVector vm = FloatVector.broadcast(S, max), vsum = FloatVector.zero(S);
        int j = 0;
        for (int upper = S.loopBound(n); j < upper; j += L) vsum = vsum.add(Exp.exp(FloatVector.fromArray(S, x, off + j).sub(vm)));
        if (j < n) {
            VectorMask<Float> mk = S.indexInRange(j, n);
            vsum = vsum.add(Exp.exp(FloatVector.fromArray(S, x, off + j, mk).sub(vm)), mk);
        }
        return Vec.sumLanes(vsum);
    }

    /** x[off .. off+n) *= f. */
    private static void scaleRow(float[] x, int off, int n, float f) {
        int j = 0;
        for (int upper = S.loopBound(n); j < upper; j += L) FloatVector.fromArray(S, x, off + j).mul(f).intoArray(x, off + j);
        for (; j < n; j++) x[off + j] *= f;
    }

    static void embeddingBackward(float[] dtable, float[] dout, int doutOff, int[] ids, int idsOff, int m, int c) {
        split(c, (long) m * c, L, (i0, i1) -> {
            for (int r = 0; r < m; r++) {
                int row = ids[idsOff + r] * c, go = doutOff + r * c;
                for (int i = i0; i < i1; i += L) {
                    VectorMask<Float> mk = S.indexInRange(i, i1);
                    FloatVector.fromArray(S, dtable, row + i, mk).add(FloatVector.fromArray(S, dout, go + i, mk))
                            .intoArray(dtable, row + i, mk);
                }
            }
        });
    }
}
