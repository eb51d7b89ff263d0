package finetune4j.engine.kernels.vector;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector primitives over rows of float arrays, shared by the kernels: dot product, sum of
 * squares, {@code y += a·x}, one key or value row against the heads of a GQA group, softmax. Every loop is head/body/tail: full vectors, then one masked
 * vector for the rest (AVX-512 masks make that as cheap as a full vector).
 */
final class Vec {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();

    /** Butterfly shuffles of {@link #sumLanes}: lane i with lane {@code i ^ d} for d = 8, 4, 2, 1 (when L has them). */
    private static final VectorShuffle<Float> X8 = xor(8), X4 = xor(4), X2 = xor(2), X1 = xor(1);
    /** The wider steps (d = L/2 .. 16) of species longer than 16 lanes. */
    @SuppressWarnings("unchecked")
    private static final VectorShuffle<Float>[] WIDE = new VectorShuffle[Math.max(0, Integer.numberOfTrailingZeros(L) - 4)];

    static {
        for (int k = 0; k < WIDE.length; k++) WIDE[k] = xor(L >> (k + 1));
    }

    private static VectorShuffle<Float> xor(int d) {
        return d < L ? VectorShuffle.fromOp(S, i -> i ^ d) : null;
    }

    private Vec() {
    }

    /**
     * The sum of the lanes in a fixed order (a butterfly of exact lane moves and IEEE adds), so the
     * result has the same bits interpreted or C2-compiled. {@code reduceLanes(ADD)} leaves the order
     * to the implementation, and the interpreter and the C2 intrinsic do differ in the last bit —
     * enough to make a resumed training run drift from an uninterrupted one.
     */
    static float sumLanes(FloatVector v) {
        // steps written out with constant shuffles (the branches on the constant L fold away): a loop
        // over a shuffle array kept C2 from intrinsifying the rearranges in some callers (measured: a
        // masked 8-wide dot took 70 ns instead of 14)
        for (VectorShuffle<Float> sh : WIDE) v = v.add(v.rearrange(sh));
        if (L >= 16) v = v.add(v.rearrange(X8));
        if (L >= 8) v = v.add(v.rearrange(X4));
        if (L >= 4) v = v.add(v.rearrange(X2));
        if (L >= 2) v = v.add(v.rearrange(X1));
        return v.lane(0);
    }

    /** {@link #sumLanes} of the lanes set in {@code m} (the others count as 0). */
    static float sumLanes(FloatVector v, VectorMask<Float> m) {
        return sumLanes(v.blend(0f, m.not()));
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
        return sumLanes(s0.add(s1).add(s2.add(s3)));
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

    /**
     * One key against several queries (the heads of one GQA group):
     * {@code p[po + h·ps] = scale · Σ_t q[qo + h·qs + t]·k[ko + t]} for h &lt; count, t &lt; d.
     * With d ≤ 4L the key is loaded once into four registers for all the heads.
     */
    static void dots(float[] q, int qo, int qs, int count, float[] k, int ko, int d, float scale, float[] p, int po, int ps) {
        if (d > 4 * L) {
            for (int h = 0; h < count; h++) p[po + h * ps] = scale * dot(q, qo + h * qs, k, ko, d);
            return;
        }
        VectorMask<Float> m0 = S.indexInRange(0, d), m1 = S.indexInRange(L, d);
        VectorMask<Float> m2 = S.indexInRange(2 * L, d), m3 = S.indexInRange(3 * L, d);
        FloatVector k0 = FloatVector.fromArray(S, k, ko, m0), k1 = FloatVector.fromArray(S, k, ko + L, m1);
        FloatVector k2 = FloatVector.fromArray(S, k, ko + 2 * L, m2), k3 = FloatVector.fromArray(S, k, ko + 3 * L, m3);
        for (int h = 0; h < count; h++) {
            int r = qo + h * qs;
            FloatVector acc = FloatVector.fromArray(S, q, r, m0).mul(k0);
            acc = FloatVector.fromArray(S, q, r + L, m1).fma(k1, acc);
            acc = FloatVector.fromArray(S, q, r + 2 * L, m2).fma(k2, acc);
            acc = FloatVector.fromArray(S, q, r + 3 * L, m3).fma(k3, acc);
            p[po + h * ps] = scale * sumLanes(acc);
        }
    }

    /**
     * One value row into several outputs (the heads of one GQA group):
     * {@code out[oo + h·os + t] += p[po + h·ps] · v[vo + t]} for h &lt; count, t &lt; d.
     * With d ≤ 4L the value row is loaded once into four registers for all the heads.
     */
    static void axpys(float[] p, int po, int ps, int count, float[] v, int vo, int d, float[] out, int oo, int os) {
        if (d > 4 * L) {
            for (int h = 0; h < count; h++) axpy(p[po + h * ps], v, vo, out, oo + h * os, d);
            return;
        }
        VectorMask<Float> m0 = S.indexInRange(0, d), m1 = S.indexInRange(L, d);
        VectorMask<Float> m2 = S.indexInRange(2 * L, d), m3 = S.indexInRange(3 * L, d);
        FloatVector v0 = FloatVector.fromArray(S, v, vo, m0), v1 = FloatVector.fromArray(S, v, vo + L, m1);
        FloatVector v2 = FloatVector.fromArray(S, v, vo + 2 * L, m2), v3 = FloatVector.fromArray(S, v, vo + 3 * L, m3);
        for (int h = 0; h < count; h++) {
            FloatVector ph = FloatVector.broadcast(S, p[po + h * ps]);
            int r = oo + h * os;
            v0.fma(ph, FloatVector.fromArray(S, out, r, m0)).intoArray(out, r, m0);
            v1.fma(ph, FloatVector.fromArray(S, out, r + L, m1)).intoArray(out, r + L, m1);
            v2.fma(ph, FloatVector.fromArray(S, out, r + 2 * L, m2)).intoArray(out, r + 2 * L, m2);
            v3.fma(ph, FloatVector.fromArray(S, out, r + 3 * L, m3)).intoArray(out, r + 3 * L, m3);
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
        float sum = sumLanes(vsum);
        if (upper < n) {
            FloatVector e = Exp.exp(FloatVector.fromArray(S, x, off + upper, tail).sub(vm));
            e.intoArray(x, off + upper, tail);
            sum += sumLanes(e, tail);
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
