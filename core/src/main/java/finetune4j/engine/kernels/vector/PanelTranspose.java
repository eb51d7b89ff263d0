package finetune4j.engine.kernels.vector;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Packs rows of a row-major matrix as the columns of a GEMM B panel: the transpose that a
 * Linear product {@code x · wᵀ} needs, since w (N, K) stores each output column's weights as a
 * contiguous row while the micro-kernel wants the N values of one k contiguous.
 *
 * <pre>
 *   src[so + j·ld + k]   (rows, kc)   rows of w (or of any B stored transposed)
 *   bp [o  + k·NR + j]   (kc, NR)     the panel (row stride NR); only columns j &lt; rows are written
 * </pre>
 *
 * <p>With 16-lane vectors (AVX-512) full 16 × 16 blocks are transposed in registers: 16 row
 * loads, four rounds of 16 two-source permutes, 16 stores. Each round maps vector pair
 * {@code (r_i, r_{i+8})} to {@code (zipLow, zipHigh)}, which rotates the 8-bit address
 * (vector, lane) of every element left by one bit; four rotations swap vector and lane, which is
 * the transpose. Edges, and other vector widths, take the scalar loop.
 */
final class PanelTranspose {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int NR = MicroKernel.NR;
    /** True when the in-register 16 × 16 transpose applies (16 float lanes). */
    static final boolean BLOCKED = S.length() == 16;
    private static final FloatVector ZIP_LO = BLOCKED ? zipIndices(0) : null;
    private static final FloatVector ZIP_HI = BLOCKED ? zipIndices(8) : null;

    private PanelTranspose() {
    }

    /** {@code bp[o + k·NR + j] = src[so + j·ld + k]} for j &lt; rows, k &lt; kc. */
    static void pack(float[] src, int so, int ld, int rows, int kc, float[] bp, int o) {
        int j = 0;
        if (BLOCKED) {
            for (; j + 16 <= rows; j += 16) {
                int k = 0;
                for (; k + 16 <= kc; k += 16) block16(src, so + j * ld + k, ld, bp, o + k * NR + j);
                for (; k < kc; k++) {
                    for (int jj = 0; jj < 16; jj++) bp[o + k * NR + j + jj] = src[so + (j + jj) * ld + k];
                }
            }
        }
        for (; j < rows; j++) {
            int s = so + j * ld;
            for (int k = 0; k < kc; k++) bp[o + k * NR + j] = src[s + k];
        }
    }

    /** Transposes src rows s, s+ld, .. (16 × 16) into bp rows d, d+NR, ... */
    private static void block16(float[] src, int s, int ld, float[] bp, int d) {
        FloatVector r0 = FloatVector.fromArray(S, src, s), r1 = FloatVector.fromArray(S, src, s + ld);
        FloatVector r2 = FloatVector.fromArray(S, src, s + 2 * ld), r3 = FloatVector.fromArray(S, src, s + 3 * ld);
        FloatVector r4 = FloatVector.fromArray(S, src, s + 4 * ld), r5 = FloatVector.fromArray(S, src, s + 5 * ld);
        FloatVector r6 = FloatVector.fromArray(S, src, s + 6 * ld), r7 = FloatVector.fromArray(S, src, s + 7 * ld);
        FloatVector r8 = FloatVector.fromArray(S, src, s + 8 * ld), r9 = FloatVector.fromArray(S, src, s + 9 * ld);
        FloatVector r10 = FloatVector.fromArray(S, src, s + 10 * ld), r11 = FloatVector.fromArray(S, src, s + 11 * ld);
        FloatVector r12 = FloatVector.fromArray(S, src, s + 12 * ld), r13 = FloatVector.fromArray(S, src, s + 13 * ld);
        FloatVector r14 = FloatVector.fromArray(S, src, s + 14 * ld), r15 = FloatVector.fromArray(S, src, s + 15 * ld);
        FloatVector lo = ZIP_LO, hi = ZIP_HI;
        for (int round = 0; round < 4; round++) {
            FloatVector n0 = lo.selectFrom(r0, r8), n1 = hi.selectFrom(r0, r8);
            FloatVector n2 = lo.selectFrom(r1, r9), n3 = hi.selectFrom(r1, r9);
            FloatVector n4 = lo.selectFrom(r2, r10), n5 = hi.selectFrom(r2, r10);
            FloatVector n6 = lo.selectFrom(r3, r11), n7 = hi.selectFrom(r3, r11);
            FloatVector n8 = lo.selectFrom(r4, r12), n9 = hi.selectFrom(r4, r12);
            FloatVector n10 = lo.selectFrom(r5, r13), n11 = hi.selectFrom(r5, r13);
            FloatVector n12 = lo.selectFrom(r6, r14), n13 = hi.selectFrom(r6, r14);
            FloatVector n14 = lo.selectFrom(r7, r15), n15 = hi.selectFrom(r7, r15);
            r0 = n0; r1 = n1; r2 = n2; r3 = n3; r4 = n4; r5 = n5; r6 = n6; r7 = n7;
            r8 = n8; r9 = n9; r10 = n10; r11 = n11; r12 = n12; r13 = n13; r14 = n14; r15 = n15;
        }
        r0.intoArray(bp, d); r1.intoArray(bp, d + NR); r2.intoArray(bp, d + 2 * NR); r3.intoArray(bp, d + 3 * NR);
        r4.intoArray(bp, d + 4 * NR); r5.intoArray(bp, d + 5 * NR); r6.intoArray(bp, d + 6 * NR);
        r7.intoArray(bp, d + 7 * NR); r8.intoArray(bp, d + 8 * NR); r9.intoArray(bp, d + 9 * NR);
        r10.intoArray(bp, d + 10 * NR); r11.intoArray(bp, d + 11 * NR); r12.intoArray(bp, d + 12 * NR);
        r13.intoArray(bp, d + 13 * NR); r14.intoArray(bp, d + 14 * NR); r15.intoArray(bp, d + 15 * NR);
    }

    /**
     * The two-source index vector {@code [h, 16+h, h+1, 17+h, ...]}: with {@code selectFrom(a, b)}
     * it interleaves lanes h .. h+7 of a and b (h = 0: zip of the low halves, h = 8: high halves).
     */
    private static FloatVector zipIndices(int h) {
        float[] idx = new float[16];
        for (int i = 0; i < 8; i++) {
            idx[2 * i] = h + i;
            idx[2 * i + 1] = 16 + h + i;
        }
        return FloatVector.fromArray(S, idx, 0);
    }
}
