package finetune4j.engine.kernels.vector;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The register-blocked inner product of the GEMM: one {@code MR × NR} tile of C from a packed A
 * micro-panel and a packed B micro-panel, {@code C_tile = alpha · Ap · Bp + beta · C_tile}.
 *
 * <pre>
 *   ap[ao + k·MR + i]   (kc, MR)  A panel, k-major: the MR values of column k of A's rows
 *   bp[bo + k·NR + j]   (kc, NR)  B panel, k-major: the NR values of row k of B's columns
 *   c [co + i·ldc + j]  (MR, NR)  the tile of C
 * </pre>
 *
 * <p>MR = 6 rows × NR = 4 vectors: 24 accumulators, which with 4 B vectors and one broadcast
 * fill 29 of AVX-512's 32 registers (the best of the shapes measured by the prototype in
 * {@code shared/prototypes/gemm-and-ffm}: 6×4 beat 8×3, 12×2, 14×2, 4×6, 7×3 and 5×5). Each k
 * step is 4 loads, 6 broadcasts and 24 FMAs. Per tile the accumulators are written once.
 *
 * <p>Why it is written out by hand: C2 keeps vectors in registers only when they are plain
 * locals, so the 24 accumulators cannot be an array. The loop form
 * {@code for (int k = 0; k < kc; k++)} with indices {@code ao + k·MR + i} is the one for which
 * C2 was seen to remove the bounds checks from the loop body.
 */
final class MicroKernel {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();
    /** Rows of a tile. */
    static final int MR = 6;
    /** Columns of a tile: four vectors. */
    static final int NR = 4 * L;

    private MicroKernel() {
    }

    /**
     * Computes one full tile. {@code beta == 0} writes C without reading it (so NaN or garbage in
     * C does not propagate); otherwise {@code C = alpha·acc + beta·C}.
     */
    static void tile(float[] ap, int ao, float[] bp, int bo, int kc,
                     float[] c, int co, int ldc, float alpha, float beta) {
        FloatVector z = FloatVector.zero(S);
        FloatVector c00 = z, c01 = z, c02 = z, c03 = z;
        FloatVector c10 = z, c11 = z, c12 = z, c13 = z;
        FloatVector c20 = z, c21 = z, c22 = z, c23 = z;
        FloatVector c30 = z, c31 = z, c32 = z, c33 = z;
        FloatVector c40 = z, c41 = z, c42 = z, c43 = z;
        FloatVector c50 = z, c51 = z, c52 = z, c53 = z;
        for (int k = 0; k < kc; k++) {
            int a = ao + k * MR, b = bo + k * NR;
            FloatVector b0 = FloatVector.fromArray(S, bp, b);
            FloatVector b1 = FloatVector.fromArray(S, bp, b + L);
            FloatVector b2 = FloatVector.fromArray(S, bp, b + 2 * L);
            FloatVector b3 = FloatVector.fromArray(S, bp, b + 3 * L);
            FloatVector x = FloatVector.broadcast(S, ap[a]);
            c00 = b0.fma(x, c00); c01 = b1.fma(x, c01); c02 = b2.fma(x, c02); c03 = b3.fma(x, c03);
            x = FloatVector.broadcast(S, ap[a + 1]);
            c10 = b0.fma(x, c10); c11 = b1.fma(x, c11); c12 = b2.fma(x, c12); c13 = b3.fma(x, c13);
            x = FloatVector.broadcast(S, ap[a + 2]);
            c20 = b0.fma(x, c20); c21 = b1.fma(x, c21); c22 = b2.fma(x, c22); c23 = b3.fma(x, c23);
            x = FloatVector.broadcast(S, ap[a + 3]);
            c30 = b0.fma(x, c30); c31 = b1.fma(x, c31); c32 = b2.fma(x, c32); c33 = b3.fma(x, c33);
            x = FloatVector.broadcast(S, ap[a + 4]);
            c40 = b0.fma(x, c40); c41 = b1.fma(x, c41); c42 = b2.fma(x, c42); c43 = b3.fma(x, c43);
            x = FloatVector.broadcast(S, ap[a + 5]);
            c50 = b0.fma(x, c50); c51 = b1.fma(x, c51); c52 = b2.fma(x, c52); c53 = b3.fma(x, c53);
        }
        if (beta == 0f) {
            int r = co;
            c00.mul(alpha).intoArray(c, r); c01.mul(alpha).intoArray(c, r + L);
            c02.mul(alpha).intoArray(c, r + 2 * L); c03.mul(alpha).intoArray(c, r + 3 * L);
            r += ldc;
            c10.mul(alpha).intoArray(c, r); c11.mul(alpha).intoArray(c, r + L);
            c12.mul(alpha).intoArray(c, r + 2 * L); c13.mul(alpha).intoArray(c, r + 3 * L);
            r += ldc;
            c20.mul(alpha).intoArray(c, r); c21.mul(alpha).intoArray(c, r + L);
            c22.mul(alpha).intoArray(c, r + 2 * L); c23.mul(alpha).intoArray(c, r + 3 * L);
            r += ldc;
            c30.mul(alpha).intoArray(c, r); c31.mul(alpha).intoArray(c, r + L);
            c32.mul(alpha).intoArray(c, r + 2 * L); c33.mul(alpha).intoArray(c, r + 3 * L);
            r += ldc;
            c40.mul(alpha).intoArray(c, r); c41.mul(alpha).intoArray(c, r + L);
            c42.mul(alpha).intoArray(c, r + 2 * L); c43.mul(alpha).intoArray(c, r + 3 * L);
            r += ldc;
            c50.mul(alpha).intoArray(c, r); c51.mul(alpha).intoArray(c, r + L);
            c52.mul(alpha).intoArray(c, r + 2 * L); c53.mul(alpha).intoArray(c, r + 3 * L);
        } else {
            int r = co;
            update(c00, c, r, alpha, beta); update(c01, c, r + L, alpha, beta);
            update(c02, c, r + 2 * L, alpha, beta); update(c03, c, r + 3 * L, alpha, beta);
            r += ldc;
            update(c10, c, r, alpha, beta); update(c11, c, r + L, alpha, beta);
            update(c12, c, r + 2 * L, alpha, beta); update(c13, c, r + 3 * L, alpha, beta);
            r += ldc;
            update(c20, c, r, alpha, beta); update(c21, c, r + L, alpha, beta);
            update(c22, c, r + 2 * L, alpha, beta); update(c23, c, r + 3 * L, alpha, beta);
            r += ldc;
            update(c30, c, r, alpha, beta); update(c31, c, r + L, alpha, beta);
            update(c32, c, r + 2 * L, alpha, beta); update(c33, c, r + 3 * L, alpha, beta);
            r += ldc;
            update(c40, c, r, alpha, beta); update(c41, c, r + L, alpha, beta);
            update(c42, c, r + 2 * L, alpha, beta); update(c43, c, r + 3 * L, alpha, beta);
            r += ldc;
            update(c50, c, r, alpha, beta); update(c51, c, r + L, alpha, beta);
            update(c52, c, r + 2 * L, alpha, beta); update(c53, c, r + 3 * L, alpha, beta);
        }
    }

    /** {@code c[o..o+L) = alpha·acc + beta·c[o..o+L)}. */
    private static void update(FloatVector acc, float[] c, int o, float alpha, float beta) {
        FloatVector old = FloatVector.fromArray(S, c, o);
        old.mul(beta).add(acc.mul(alpha)).intoArray(c, o);
    }
}
