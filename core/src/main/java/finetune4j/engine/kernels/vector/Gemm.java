package finetune4j.engine.kernels.vector;

import finetune4j.engine.kernels.KernelThreads;
import finetune4j.engine.tensor.DType;
import finetune4j.engine.tensor.QuantizedWeight;
import finetune4j.engine.tensor.Weight;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Packed, cache-blocked FP32 GEMM {@code C(M, N) = alpha · op(A)(M, K) · op(B)(K, N) + beta · C}
 * in the Goto/BLIS style, with {@link MicroKernel} at the centre.
 *
 * <pre>
 *   for jc in N step NC            B slab of NC columns
 *     for pc in K step KC          pack B[pc:pc+KC, jc:jc+NC] into NR-column panels   (~1 MiB, L2)
 *       for ic in M step MC        pack A[ic:ic+MC, pc:pc+KC] into MR-row panels      (48 KiB)
 *         for ir in MC step MR     one A micro-panel (3 KiB, L1) ...
 *           for jr in NC step NR   ... against every B panel: MicroKernel.tile
 * </pre>
 *
 * KC = 128, MC = 96, NC = 2048 and the ic → ir → jr order are the prototype's measured best on
 * this machine (2 MiB L2 per core); KC = 256 measured the same, KC = 384 and 2816-wide column
 * slabs (an overfull L2) slower. Packing is where the operand's storage is absorbed: A or B
 * transposed or not, B as a {@link Weight} in F32/BF16/F16 converted to FP32 panel by panel, and
 * B as a 4-bit {@link QuantizedWeight} dequantized panel by panel ({@link QuantB}): the FP32
 * matrix never exists as a whole. Edge tiles (M not a multiple of MR, N of NR) are
 * computed into a scratch tile from zero-padded panels and merged.
 *
 * <p>Parallelism: C is cut into a grid of independent blocks. Columns are split first (each
 * block then packs only its own B columns: B is usually the weight, the operand that costs a
 * conversion), into a multiple of the thread count so the threads get equal shares; rows are
 * split only when there are too few column panels — or when C has more rows than columns (a
 * training step's products, M = B·T), where rows alone are split. Scratch buffers are per thread.
 */
final class Gemm {
    static final int MR = MicroKernel.MR;
    static final int NR = MicroKernel.NR;
    static final int KC = 128;
    static final int MC = 16 * MR;
    static final int NC = 2048;
    /** Below this many multiply-adds a call stays on the calling thread. */
    static final long PARALLEL_MIN_MACS = 1L << 20;

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private Gemm() {
    }

    /** Per-thread packing buffers. */
    private static final class Scratch {
        final float[] ap = new float[MC * KC];     // (MC/MR) panels of (KC, MR)
        final float[] bp = new float[KC * NC];     // (NC/NR) panels of (KC, NR)
        final float[] tile = new float[MR * NR];   // (MR, NR) edge tile
        final float[] rows = new float[16 * KC];   // (16, KC) weight row pieces converted to FP32
    }

    /**
     * The left operand {@code alpha · op(A)} of shape (M, K), stored in a float array with row
     * stride {@code ld}; alpha is applied while packing (one multiply per element of A instead of
     * one per element of C per K block, and none in the micro-kernel).
     */
    record MatrixA(float[] a, int off, int ld, boolean trans, float alpha) {
        MatrixA(float[] a, int off, int ld, boolean trans) {
            this(a, off, ld, trans, 1f);
        }

        /** Packs rows [i0, i0+mc) × cols [pc, pc+kc) of alpha·op(A) into MR-row panels, k-major. */
        void pack(int i0, int mc, int pc, int kc, float[] ap) {
            int o = 0;
            for (int ir = 0; ir < mc; ir += MR, o += MR * kc) {
                int mr = Math.min(MR, mc - ir);
                if (trans) {                        // op(A)(i, k) = a[(pc+k)·ld + i]: rows are contiguous
                    for (int k = 0; k < kc; k++) {
                        int src = off + (pc + k) * ld + i0 + ir, dst = o + k * MR;
                        for (int i = 0; i < mr; i++) ap[dst + i] = alpha * a[src + i];
                        for (int i = mr; i < MR; i++) ap[dst + i] = 0f;
                    }
                } else {                            // op(A)(i, k) = a[i·ld + k]: write with stride MR
                    for (int i = 0; i < MR; i++) {
                        if (i < mr) {
                            int src = off + (i0 + ir + i) * ld + pc;
                            for (int k = 0; k < kc; k++) ap[o + k * MR + i] = alpha * a[src + k];
                        } else {
                            for (int k = 0; k < kc; k++) ap[o + k * MR + i] = 0f;
                        }
                    }
                }
            }
        }
    }

    /** The right operand op(B) of shape (K, N), packed into NR-column panels. */
    sealed interface MatrixB permits ArrayB, WeightB, QuantB {
        /**
         * Packs rows [pc, pc+kc) × cols [j0, j0+nc) of op(B) into {@code bp}: panel p holds columns
         * {@code j0 + p·NR ..} as {@code bp[p·NR·kc + k·NR + j]}, zero-padded to NR columns.
         */
        void pack(int pc, int kc, int j0, int nc, float[] bp, float[] rows);
    }

    /** op(B) from a float array with row stride {@code ld}; {@code trans}: B is stored (N, K). */
    record ArrayB(float[] b, int off, int ld, boolean trans) implements MatrixB {
        @Override
        public void pack(int pc, int kc, int j0, int nc, float[] bp, float[] rows) {
            int o = 0;
            for (int jr = 0; jr < nc; jr += NR, o += NR * kc) {
                int nr = Math.min(NR, nc - jr);
                if (trans) {
                    PanelTranspose.pack(b, off + (j0 + jr) * ld + pc, ld, nr, kc, bp, o);
                    zeroColumns(bp, o, nr, kc);
                } else {                            // rows of B are contiguous: copy nr per k
                    for (int k = 0; k < kc; k++) {
                        int src = off + (pc + k) * ld + j0 + jr, dst = o + k * NR;
                        System.arraycopy(b, src, bp, dst, nr);
                        if (nr < NR) Arrays.fill(bp, dst + nr, dst + NR, 0f);
                    }
                }
            }
        }
    }

    /**
     * op(B) = wᵀ for a Linear weight w (N, K): column j of B is row j of w. A heap FP32 weight is
     * transposed into the panel directly; other storage is converted to FP32 16 rows × KC
     * elements at a time into scratch, then transposed from there.
     */
    static final class WeightB implements MatrixB {
        private final DType dtype;
        private final MemorySegment data;
        private final long cols;
        private final float[] heap;     // the weight's float[] when it is a heap F32 weight, else null

        WeightB(Weight w) {
            this.dtype = w.dtype();
            this.data = w.data();
            this.cols = w.cols();
            this.heap = w.heapArray();
        }

        @Override
        public void pack(int pc, int kc, int j0, int nc, float[] bp, float[] rows) {
            int o = 0;
            for (int jr = 0; jr < nc; jr += NR, o += NR * kc) {
                int nr = Math.min(NR, nc - jr);
                if (heap != null) {
                    PanelTranspose.pack(heap, (int) ((j0 + jr) * cols + pc), (int) cols, nr, kc, bp, o);
                } else {
                    for (int g = 0; g < nr; g += 16) {
                        int gr = Math.min(16, nr - g);
                        for (int j = 0; j < gr; j++) {
                            Convert.toFloat(dtype, data, (j0 + jr + g + j) * cols + pc, rows, j * kc, kc);
                        }
                        PanelTranspose.pack(rows, 0, kc, gr, kc, bp, o + g);
                    }
                }
                zeroColumns(bp, o, nr, kc);
            }
        }
    }

    /**
     * op(B) = wᵀ for a 4-bit weight w (N, K): each weight row's KC-element piece is dequantized
     * ({@link Dequant4}) into scratch, 16 rows at a time, then transposed into the panel like a
     * converted BF16 row. Every element of w is dequantized once per K block of a call.
     */
    static final class QuantB implements MatrixB {
        private final QuantizedWeight w;
        private final long cols;

        QuantB(QuantizedWeight w) {
            this.w = w;
            this.cols = w.cols();
        }

        @Override
        public void pack(int pc, int kc, int j0, int nc, float[] bp, float[] rows) {
            int o = 0;
            for (int jr = 0; jr < nc; jr += NR, o += NR * kc) {
                int nr = Math.min(NR, nc - jr);
                for (int g = 0; g < nr; g += 16) {
                    int gr = Math.min(16, nr - g);
                    for (int j = 0; j < gr; j++) {
                        Dequant4.toFloat(w, (j0 + jr + g + j) * cols + pc, kc, rows, j * kc);
                    }
                    PanelTranspose.pack(rows, 0, kc, gr, kc, bp, o + g);
                }
                zeroColumns(bp, o, nr, kc);
            }
        }
    }

    private static void zeroColumns(float[] bp, int o, int nr, int kc) {
        if (nr == NR) return;
        for (int k = 0; k < kc; k++) Arrays.fill(bp, o + k * NR + nr, o + k * NR + NR, 0f);
    }

    /**
     * C = op(A)·op(B) + beta·C (alpha is in {@code a}), on the kernel thread pool when the product
     * is large enough. beta = 0 writes C without reading it.
     */
    static void multiply(MatrixA a, MatrixB b, int m, int n, int k, float beta, float[] c, int cOff, int ldc) {
        multiply(a, b, m, n, k, beta, c, cOff, ldc, true);
    }

    /** Same as {@link #multiply}, on the calling thread only (for callers already inside a chunk). */
    static void multiplySequential(MatrixA a, MatrixB b, int m, int n, int k, float beta, float[] c, int cOff, int ldc) {
        multiply(a, b, m, n, k, beta, c, cOff, ldc, false);
    }

    private static void multiply(MatrixA a, MatrixB b, int m, int n, int k, float beta, float[] c, int cOff, int ldc,
                                 boolean parallel) {
        if (m == 0 || n == 0) return;
        if (k == 0 || (beta != 0f && beta != 1f)) scale(c, cOff, ldc, m, n, beta);
        if (k == 0) return;
        boolean accumulate = beta != 0f;
        int threads = KernelThreads.parallelism();
        if (!parallel || threads == 1 || (long) m * n * k < PARALLEL_MIN_MACS) {
            block(a, b, 0, m, 0, n, k, accumulate, c, cOff, ldc);
            return;
        }
        int nPanels = (n + NR - 1) / NR, mPanels = (m + MR - 1) / MR;
        int nChunks = (n + NC - 1) / NC;
        if (m > n && mPanels >= threads) {
            // more rows than columns (training, M = B·T): split rows only. A column split has every
            // thread pack all of A (M·K each) to save packing B (K·N); with M > N that is the worse
            // trade, and few column panels (N = 192: 3) do not divide evenly over the threads.
            nChunks = 1;
        } else if (nPanels >= threads) {
            nChunks = Math.min(nPanels, roundUp(nChunks, threads));
        }
        int panelsPerN = (nPanels + nChunks - 1) / nChunks;
        nChunks = (nPanels + panelsPerN - 1) / panelsPerN;
        int mChunks = nChunks >= threads ? 1 : Math.min(mPanels, roundUp(threads, nChunks) / nChunks);
        int panelsPerM = (mPanels + mChunks - 1) / mChunks;
        mChunks = (mPanels + panelsPerM - 1) / panelsPerM;
        int colsPer = panelsPerN * NR, rowsPer = panelsPerM * MR, nc = nChunks;
        KernelThreads.run(mChunks * nChunks, chunk -> {
            int i0 = (chunk / nc) * rowsPer, j0 = (chunk % nc) * colsPer;
            block(a, b, i0, Math.min(m, i0 + rowsPer), j0, Math.min(n, j0 + colsPer), k, accumulate, c, cOff, ldc);
        });
    }

    /** The blocked loop nest over C rows [i0, i1) × columns [j0, j1), all of K; C += or C = the product. */
    private static void block(MatrixA a, MatrixB b, int i0, int i1, int j0, int j1, int k,
                              boolean accumulate, float[] c, int cOff, int ldc) {
        Scratch s = SCRATCH.get();
        float[] ap = s.ap, bp = s.bp;
        for (int jc = j0; jc < j1; jc += NC) {
            int nc = Math.min(NC, j1 - jc);
            for (int pc = 0; pc < k; pc += KC) {
                int kc = Math.min(KC, k - pc);
                b.pack(pc, kc, jc, nc, bp, s.rows);
                boolean acc = accumulate || pc > 0;       // later K blocks accumulate onto C
                for (int ic = i0; ic < i1; ic += MC) {
                    int mc = Math.min(MC, i1 - ic);
                    a.pack(ic, mc, pc, kc, ap);
                    for (int ir = 0; ir < mc; ir += MR) {
                        int mr = Math.min(MR, mc - ir);
                        for (int jr = 0; jr < nc; jr += NR) {
                            int nr = Math.min(NR, nc - jr);
                            int co = cOff + (ic + ir) * ldc + jc + jr;
                            if (mr == MR && nr == NR) {
                                MicroKernel.tile(ap, ir * kc, bp, jr * kc, kc, c, co, ldc, acc);
                            } else {
                                edgeTile(ap, ir * kc, bp, jr * kc, kc, s.tile, mr, nr, c, co, ldc, acc);
                            }
                        }
                    }
                }
            }
        }
    }

    /** A partial tile: computed whole into scratch from the zero-padded panels, then merged. */
    private static void edgeTile(float[] ap, int ao, float[] bp, int bo, int kc, float[] tile, int mr, int nr,
                                 float[] c, int co, int ldc, boolean accumulate) {
        MicroKernel.tile(ap, ao, bp, bo, kc, tile, 0, NR, false);
        for (int i = 0; i < mr; i++) {
            int r = co + i * ldc;
            for (int j = 0; j < nr; j++) c[r + j] = accumulate ? c[r + j] + tile[i * NR + j] : tile[i * NR + j];
        }
    }

    /** C = beta·C; beta 0 writes zeros without reading C. */
    private static void scale(float[] c, int cOff, int ldc, int m, int n, float beta) {
        for (int i = 0; i < m; i++) {
            int r = cOff + i * ldc;
            if (beta == 0f) Arrays.fill(c, r, r + n, 0f);
            else for (int j = 0; j < n; j++) c[r + j] *= beta;
        }
    }

    private static int roundUp(int x, int multiple) {
        return (x + multiple - 1) / multiple * multiple;
    }
}
