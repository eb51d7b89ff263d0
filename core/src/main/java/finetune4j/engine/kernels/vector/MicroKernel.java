package finetune4j.engine.kernels.vector;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The register-blocked inner product of the GEMM: one {@code MR × NR} tile of C from a packed A
 * micro-panel and a packed B micro-panel, {@code C_tile (+)= Ap · Bp}.
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
     * Computes one full tile: {@code C_tile = Ap · Bp}, or {@code C_tile += Ap · Bp} when
     * {@code accumulate}. Without {@code accumulate} C is written without being read (so NaN or
     * garbage in C does not propagate). Scaling by alpha and beta is done by the caller (alpha
     * while packing A, beta on C beforehand): every extra operation here counts against C2's
     * node budget for this method, and an inlining failure boxes vectors on the heap.
     */
    static void tile(float[] ap, int ao, float[] bp, int bo, int kc,
                     float[] c, int co, int ldc, boolean accumulate) {
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
        int r0 = co, r1 = r0 + ldc, r2 = r1 + ldc, r3 = r2 + ldc, r4 = r3 + ldc, r5 = r4 + ldc;
        if (accumulate) {
            c00 = c00.add(FloatVector.fromArray(S, c, r0)); c01 = c01.add(FloatVector.fromArray(S, c, r0 + L));
            c02 = c02.add(FloatVector.fromArray(S, c, r0 + 2 * L)); c03 = c03.add(FloatVector.fromArray(S, c, r0 + 3 * L));
            c10 = c10.add(FloatVector.fromArray(S, c, r1)); c11 = c11.add(FloatVector.fromArray(S, c, r1 + L));
            c12 = c12.add(FloatVector.fromArray(S, c, r1 + 2 * L)); c13 = c13.add(FloatVector.fromArray(S, c, r1 + 3 * L));
            c20 = c20.add(FloatVector.fromArray(S, c, r2)); c21 = c21.add(FloatVector.fromArray(S, c, r2 + L));
            c22 = c22.add(FloatVector.fromArray(S, c, r2 + 2 * L)); c23 = c23.add(FloatVector.fromArray(S, c, r2 + 3 * L));
            c30 = c30.add(FloatVector.fromArray(S, c, r3)); c31 = c31.add(FloatVector.fromArray(S, c, r3 + L));
            c32 = c32.add(FloatVector.fromArray(S, c, r3 + 2 * L)); c33 = c33.add(FloatVector.fromArray(S, c, r3 + 3 * L));
            c40 = c40.add(FloatVector.fromArray(S, c, r4)); c41 = c41.add(FloatVector.fromArray(S, c, r4 + L));
            c42 = c42.add(FloatVector.fromArray(S, c, r4 + 2 * L)); c43 = c43.add(FloatVector.fromArray(S, c, r4 + 3 * L));
            c50 = c50.add(FloatVector.fromArray(S, c, r5)); c51 = c51.add(FloatVector.fromArray(S, c, r5 + L));
            c52 = c52.add(FloatVector.fromArray(S, c, r5 + 2 * L)); c53 = c53.add(FloatVector.fromArray(S, c, r5 + 3 * L));
        }
        c00.intoArray(c, r0); c01.intoArray(c, r0 + L); c02.intoArray(c, r0 + 2 * L); c03.intoArray(c, r0 + 3 * L);
        c10.intoArray(c, r1); c11.intoArray(c, r1 + L); c12.intoArray(c, r1 + 2 * L); c13.intoArray(c, r1 + 3 * L);
        c20.intoArray(c, r2); c21.intoArray(c, r2 + L); c22.intoArray(c, r2 + 2 * L); c23.intoArray(c, r2 + 3 * L);
        c30.intoArray(c, r3); c31.intoArray(c, r3 + L); c32.intoArray(c, r3 + 2 * L); c33.intoArray(c, r3 + 3 * L);
        c40.intoArray(c, r4); c41.intoArray(c, r4 + L); c42.intoArray(c, r4 + 2 * L); c43.intoArray(c, r4 + 3 * L);
        c50.intoArray(c, r5); c51.intoArray(c, r5 + L); c52.intoArray(c, r5 + 2 * L); c53.intoArray(c, r5 + 3 * L);
    }
}
