package finetune4j.peft;

import finetune4j.Finetune4jException;
import finetune4j.engine.kernels.Kernels;
import finetune4j.engine.tensor.LinearWeight;

import java.util.List;

/**
 * Pure functions on adapter weights, all in FP32 with FP64 accumulation, each output checked
 * for NaN/Inf before it is returned (PEFT {@code tuners/lora/layer.py get_delta_weight}, {@code merge};
 * {@code variants.py DoraLinearVariant.merge_safe}; {@code dora.py get_weight_norm}):
 *
 * <pre>
 * delta      ΔW = s·B·A                                  (N, K)
 * rowNorms   ‖W + s·B·A‖ per output row j                 (N)    (torch.linalg.norm(weight, dim=1))
 * merged     LoRA: W + ΔW;   DoRA: (m / ‖W + ΔW‖) ⊙ (W + ΔW)   (N, K)
 * </pre>
 *
 * Merging is never a side effect of a forward pass: export code calls these and writes the result.
 */
public final class LoraMath {
    /** Rows of {@code s·B·A} computed per block in {@link #rowNorms}. */
    static final int NORM_BLOCK = 16;

    private LoraMath() {
    }

    /**
     * {@code ΔW (N, K) = s·B(N, R)·A(R, K)}.
     *
     * @throws Finetune4jException when the adapter holds NaN/Inf (or the product overflows)
     */
    public static float[] delta(LoraWeights w) {
        int n = w.out(), k = w.in(), r = w.r();
        float[] a = w.aData(), b = w.bData();
        float s = w.scaling();
        float[] d = new float[n * k];
        double[] acc = new double[k];
        for (int j = 0; j < n; j++) {
            java.util.Arrays.fill(acc, 0);
            for (int p = 0; p < r; p++) {
                double bjp = b[j * r + p];
                int ao = p * k;
                for (int c = 0; c < k; c++) acc[c] += bjp * a[ao + c];
            }
            for (int c = 0; c < k; c++) d[j * k + c] = s * (float) acc[c];
        }
        checkFinite(w.module(), "delta s·B·A", d, k);
        return d;
    }

    /**
     * The merged weight {@code W'} of one adapter with multiplier 1: LoRA {@code W + ΔW}; DoRA
     * {@code (m/‖W + ΔW‖_row) ⊙ (W + ΔW)}, exactly PEFT's {@code merge} (FP32 elementwise).
     *
     * @param base the frozen weight (N, K) as stored (dense, or 4-bit: dequantized)
     * @throws Finetune4jException when a value is not finite
     */
    public static float[] merged(LinearWeight base, LoraWeights w) {
        checkShape(base, w);
        float[] d = delta(w);
        float[] out = base.toFloatArray();
        int n = w.out(), k = w.in();
        for (int i = 0; i < out.length; i++) out[i] += d[i];
        if (w.isDora()) {
            float[] m = w.magnitude().data();
            for (int j = 0; j < n; j++) {
                double ss = 0;
                for (int c = 0; c < k; c++) ss += (double) out[j * k + c] * out[j * k + c];
                float f = m[j] / (float) Math.sqrt(ss);
                for (int c = 0; c < k; c++) out[j * k + c] *= f;
            }
        }
        checkFinite(w.module(), "merged weight", out, k);
        return out;
    }

    /**
     * The merged weight of several adapters with multipliers: {@code W + Σₐ wₐ·(W'ₐ − W)}
     * (see {@link WeightedLora}); with one adapter of multiplier 1 it equals {@link #merged(LinearWeight, LoraWeights)}.
     */
    public static float[] merged(LinearWeight base, List<WeightedLora> adapters) {
        if (adapters.size() == 1 && adapters.getFirst().weight() == 1f) return merged(base, adapters.getFirst().lora());
        float[] w0 = base.toFloatArray();
        float[] out = w0.clone();
        for (WeightedLora wl : adapters) {
            LoraWeights w = wl.lora();
            checkShape(base, w);
            float[] d = w.isDora() ? merged(base, w) : delta(w);
            if (w.isDora()) {
                for (int i = 0; i < out.length; i++) out[i] += wl.weight() * (d[i] - w0[i]);
            } else {
                for (int i = 0; i < out.length; i++) out[i] += wl.weight() * d[i];
            }
        }
        checkFinite(adapters.getFirst().lora().module(), "merged weight", out, base.cols());
        return out;
    }

    /**
     * {@code norm[j] = ‖W_j + s·(B·A)_j‖₂} for every output row j, without materialising
     * {@code B·A}: rows are done {@value #NORM_BLOCK} at a time ({@code s·B_block·A} through
     * {@link Kernels#gemm} into {@code scratch}, W rows converted (or dequantized) into
     * {@code row}); the elementwise sum is rounded to FP32 as in PEFT, squares accumulate in FP64.
     * Cost: one pass over W plus {@code N·K·R} multiply-adds.
     *
     * @param norm    (N) output
     * @param scratch at least {@code NORM_BLOCK · K} floats
     * @param row     at least {@code K} floats
     */
    static void rowNorms(float[] norm, LinearWeight w, float[] a, float[] b, int r, float s, Kernels kernels,
                         float[] scratch, float[] row) {
        int n = w.rows(), k = w.cols();
        for (int j0 = 0; j0 < n; j0 += NORM_BLOCK) {
            int nb = Math.min(NORM_BLOCK, n - j0);
            // scratch(nb, K) = s · B[j0:j0+nb, :](nb, R) · A(R, K)
            kernels.gemm(false, false, nb, k, r, s, b, j0 * r, r, a, 0, k, 0f, scratch, 0, k);
            for (int jj = 0; jj < nb; jj++) {
                w.rowToFloat(j0 + jj, row, 0);
                double ss = 0;
                int o = jj * k;
                for (int c = 0; c < k; c++) {
                    float v = row[c] + scratch[o + c];
                    ss += (double) v * v;
                }
                norm[j0 + jj] = (float) Math.sqrt(ss);
            }
        }
    }

    /** {@link #rowNorms} with its own buffers (initialisation, tests). */
    public static float[] rowNorms(LinearWeight w, LoraWeights lw, Kernels kernels) {
        checkShape(w, lw);
        float[] norm = new float[w.rows()];
        rowNorms(norm, w, lw.aData(), lw.bData(), lw.r(), lw.scaling(), kernels,
                new float[NORM_BLOCK * w.cols()], new float[w.cols()]);
        checkFinite(lw.module(), "DoRA weight norm", norm, norm.length);
        return norm;
    }

    private static void checkShape(LinearWeight base, LoraWeights w) {
        if (base.rows() != w.out() || base.cols() != w.in()) {
            throw new IllegalArgumentException(w.module() + ": base weight (" + base.rows() + ", " + base.cols()
                    + ") vs adapter (" + w.out() + ", " + w.in() + ")");
        }
    }

    static void checkFinite(String module, String what, float[] v, int cols) {
        for (int i = 0; i < v.length; i++) {
            if (!Float.isFinite(v[i])) {
                throw new Finetune4jException(module + ": " + what + " has " + v[i] + " at [" + (i / cols) + ", "
                        + (i % cols) + "] (hint: the adapter weights contain NaN/Inf or are too large; was training diverging?)");
            }
        }
    }
}
