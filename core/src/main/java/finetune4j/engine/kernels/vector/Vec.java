package finetune4j.engine.kernels.vector;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector primitives over one row of a float array, shared by the kernels: dot product, sum of
 * squares, {@code y += a·x}, softmax, and the lane sum {@link #sum} every kernel uses in place of
 * {@code reduceLanes(ADD)}. Every loop is head/body/tail: full vectors, then one masked vector for
 * the rest (AVX-512 masks make that as cheap as a full vector).
 */
final class Vec {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();
    /** {@code HALVES[j]} moves lane {@code i + L/2^(j+1)} to lane i (upper lanes: don't care). */
    private static final VectorShuffle<Float>[] HALVES = halves();
    /** The last four of those as constants: lane i + 8, + 4, + 2, + 1 to lane i. */
    private static final VectorShuffle<Float> BY8 = shift(8), BY4 = shift(4), BY2 = shift(2), BY1 = shift(1);

    private Vec() {
    }

    @SuppressWarnings("unchecked")
    private static VectorShuffle<Float>[] halves() {
        int steps = Integer.numberOfTrailingZeros(L);
        VectorShuffle<Float>[] out = new VectorShuffle[steps];
        for (int j = 0; j < steps; j++) out[j] = shift(L >> (j + 1));
        return out;
    }

    private static VectorShuffle<Float> shift(int h) {
        return VectorShuffle.fromOp(S, i -> (i + h) & (L - 1));
    }

    /**
     * The sum of the lanes of {@code v} by a fixed pairwise tree (lane i + lane i+L/2, then
     * i + L/4, ...), so that it gives the same bits interpreted or C2-compiled.
     * {@code reduceLanes(VectorOperators.ADD)} does not: C2's intrinsic adds the lanes in a tree
     * while the interpreter's fallback adds them one after the other, and the two round
     * differently for most inputs (measured: 69% of random 16-lane sums) — so a training step gave
     * different bits depending on when the JIT had compiled a kernel, and a run resumed in a new JVM
     * could drift from an uninterrupted one. The steps are written out with constant shuffles
     * (branches on the constant L fold away): a loop over the shuffle array kept C2 from
     * intrinsifying the rearranges in some callers (measured: a masked 8-wide dot product took 70 ns
     * instead of 14); so written, it runs as fast as the intrinsic (6.5 vs 6.3 ns for a dot of 64).
     */
    static float sum(FloatVector v) {
        for (int j = 0; j < HALVES.length - 4; j++) v = v.add(v.rearrange(HALVES[j]));   // lanes beyond 16
        if (L >= 16) v = v.add(v.rearrange(BY8));
        if (L >= 8) v = v.add(v.rearrange(BY4));
        if (L >= 4) v = v.add(v.rearrange(BY2));
        v = v.add(v.rearrange(BY1));
        return v.lane(0);
    }

    /** {@link #sum} of the lanes of {@code v} set in {@code m} (the others count as 0). */
    static float sum(FloatVector v, VectorMask<Float> m) {
        return sum(FloatVector.zero(S).blend(v, m));
    }

    /** {@code Σ a[ao+i]·b[bo+i]} for i &lt; n, FP32 with four partial sums. */
    static float dot(float[] a, int ao, float[] b, int bo, int n) {
        FloatVector s0 = FloatVector.zero(S), s1 = s0, s2 = s0, s3 = s0;
        int i = 0;
        for (int upper = n - 4 * L; i <= upper; i += 4 * L) {
            s0 = FloatVector.fromArray(S, a, ao + i).fma(FloatVector.fromArray(S, b, bo + i), s0);
            s1 = FloatVector.fromArray(S, a, ao + i + L).fma(FloatVector.fromArray(S, b, bo + i + L), s1);
            s2 = FloatVector.fromArray(S, a, ao + i + 2 * L).fma(FloatVector.fromArray(S, b, bo + i + 2 * L), s2);
            s3 = FloatVector.fromArray(S, a, ao + i + 3 * L).fma(FloatVector.fromArray(S, b, bo + i + 3 * L), s3);
        }
        for (int upper = S.loopBound(n); i < upper; i += L) {
            s0 = FloatVector.fromArray(S, a, ao + i).fma(FloatVector.fromArray(S, b, bo + i), s0);
        }
        if (i < n) {
            VectorMask<Float> m = S.indexInRange(i, n);
            s1 = FloatVector.fromArray(S, a, ao + i, m).fma(FloatVector.fromArray(S, b, bo + i, m), s1);
        }
        return sum(s0.add(s1).add(s2.add(s3)));
    }

    /** {@code Σ x[xo+i]²} for i &lt; n. */
    static float sumSquares(float[] x, int xo, int n) {
        return dot(x, xo, x, xo, n);
    }

    /** {@code y[yo+i] += a·x[xo+i]} for i &lt; n. */
    static void axpy(float a, float[] x, int xo, float[] y, int yo, int n) {
        FloatVector va = FloatVector.broadcast(S, a);
        int i = 0;
        for (int upper = S.loopBound(n); i < upper; i += L) {
            FloatVector.fromArray(S, x, xo + i).fma(va, FloatVector.fromArray(S, y, yo + i)).intoArray(y, yo + i);
        }
        if (i < n) {
            VectorMask<Float> m = S.indexInRange(i, n);
            FloatVector.fromArray(S, x, xo + i, m).fma(va, FloatVector.fromArray(S, y, yo + i, m)).intoArray(y, yo + i, m);
        }
    }

    /** In-place softmax of {@code x[off .. off+n)}: subtract the max, exponentiate, normalise. */
    static void softmax(float[] x, int off, int n) {
        if (n <= 0) return;
        int upper = S.loopBound(n);
        VectorMask<Float> tail = S.indexInRange(upper, n);
        FloatVector vmax = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        for (int i = 0; i < upper; i += L) vmax = vmax.max(FloatVector.fromArray(S, x, off + i));
        float max = vmax.reduceLanes(VectorOperators.MAX);
        if (upper < n) max = Math.max(max, FloatVector.fromArray(S, x, off + upper, tail).reduceLanes(VectorOperators.MAX, tail));

        FloatVector vm = FloatVector.broadcast(S, max), vsum = FloatVector.zero(S);
        for (int i = 0; i < upper; i += L) {
            FloatVector e = Exp.exp(FloatVector.fromArray(S, x, off + i).sub(vm));
            e.intoArray(x, off + i);
            vsum = vsum.add(e);
        }
        float sum = sum(vsum);
        if (upper < n) {
            FloatVector e = Exp.exp(FloatVector.fromArray(S, x, off + upper, tail).sub(vm));
            e.intoArray(x, off + upper, tail);
            sum += sum(e, tail);
        }
        scale(x, off, n, 1f / sum);
    }

    /** {@code x[off+i] *= s} for i &lt; n. */
    static void scale(float[] x, int off, int n, float s) {
        int i = 0;
        for (int upper = S.loopBound(n); i < upper; i += L) {
            FloatVector.fromArray(S, x, off + i).mul(s).intoArray(x, off + i);
        }
        if (i < n) {
            VectorMask<Float> m = S.indexInRange(i, n);
            FloatVector.fromArray(S, x, off + i, m).mul(s).intoArray(x, off + i, m);
        }
    }
}
