package finetune4j.engine.kernels.vector;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@code exp(x)} of a float vector built only from IEEE add, multiply, fused multiply-add,
 * min/max, compares and integer shifts, so that it gives the same bits whether the loop runs in
 * the interpreter or C2-compiled. {@code lanewise(VectorOperators.EXP)} does not: C2 uses the SVML
 * intrinsic while the interpreter falls back to a per-lane {@code Math.exp}, and the two differ
 * in the last bit for ~2% of inputs — enough to make two runs of the same training step differ
 * depending on when the JIT compiled a loop.
 *
 * <p>The method is Cephes' {@code expf}: {@code n = round(x·log2 e)} (by adding 1.5·2²³),
 * {@code r = x − n·ln 2} in two parts, {@code e^r} by a degree-6 polynomial on
 * [−ln2/2, ln2/2], times {@code 2^n} applied as two powers of two (so n = 128 does not overflow
 * the exponent field). Relative error within 2 ulp of the correctly rounded result
 * (ExpTest). {@code x < −87.336} (including −∞) gives 0, {@code x > 88.7228} gives +∞, NaN
 * stays NaN, {@code exp(0) = 1} exactly.
 */
final class Exp {
    private static final float LOG2E = 1.44269504088896341f;
    private static final float MAGIC = 12582912f;                 // 1.5·2²³: x + MAGIC rounds x to an integer
    private static final int MAGIC_BITS = Float.floatToRawIntBits(MAGIC);
    private static final float C1 = 0.693359375f;                 // ln 2 = C1 + C2, C1 exact in 10 bits
    private static final float C2 = -2.12194440e-4f;
    private static final float LO = -87.33654f;                   // ln(2⁻¹²⁶): below, the result is 0 here
    private static final float HI = 88.72283f;                    // ln(FLT_MAX): above, +∞

    private Exp() {
    }

    private static FloatVector c(VectorSpecies<Float> sp, float v) {
        return FloatVector.broadcast(sp, v);
    }

    static FloatVector exp(FloatVector x) {
        VectorSpecies<Float> sp = x.species();
        FloatVector xc = x.max(LO).min(HI);
        FloatVector t = xc.fma(LOG2E, MAGIC);                      // MAGIC + round(x·log2 e)
        FloatVector n = t.sub(MAGIC);
        IntVector ni = (IntVector) t.reinterpretAsInts().sub(MAGIC_BITS);   // the same integer, as int
        FloatVector r = n.fma(c(sp, -C1), xc);
        r = n.fma(c(sp, -C2), r);                                  // r = x − n·ln 2, |r| ≤ ln2/2
        FloatVector p = r.fma(1.9875691500E-4f, 1.3981999507E-3f);
        p = p.fma(r, c(sp, 8.3334519073E-3f));
        p = p.fma(r, c(sp, 4.1665795894E-2f));
        p = p.fma(r, c(sp, 1.6666665459E-1f));
        p = p.fma(r, c(sp, 5.0000001201E-1f));
        p = p.fma(r.mul(r), r).add(1f);                            // e^r
        IntVector half = ni.lanewise(VectorOperators.ASHR, 1);
        FloatVector s1 = half.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        FloatVector s2 = ni.sub(half).add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        FloatVector y = p.mul(s1).mul(s2);
        y = y.blend(0f, x.compare(VectorOperators.LT, LO));
        return y.blend(Float.POSITIVE_INFINITY, x.compare(VectorOperators.GT, HI));
    }
}
