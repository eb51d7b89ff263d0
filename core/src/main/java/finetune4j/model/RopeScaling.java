package finetune4j.model;

import finetune4j.ConfigException;

/**
 * The {@code rope_scaling} entry of {@code config.json} in the forms finetune4j implements:
 * {@code "llama3"} (Llama 3.1/3.2: frequency-dependent interpolation, transformers
 * {@code modeling_rope_utils._compute_llama3_parameters}) and {@code "linear"} (position
 * interpolation: every inverse frequency divided by {@code factor},
 * {@code _compute_linear_scaling_rope_parameters}). Other types ("dynamic", "yarn", "longrope",
 * ...) are refused when the config is read.
 *
 * @param ropeType                      "llama3" or "linear"
 * @param factor                        scale factor (> 0; 8 for Llama 3.1)
 * @param lowFreqFactor                 llama3 only (1 for Llama 3.1); NaN for linear
 * @param highFreqFactor                llama3 only (4 for Llama 3.1); NaN for linear
 * @param originalMaxPositionEmbeddings llama3 only (8192 for Llama 3.1); 0 for linear
 */
public record RopeScaling(String ropeType, double factor, double lowFreqFactor, double highFreqFactor,
                          int originalMaxPositionEmbeddings) {
    public static final String LLAMA3 = "llama3";
    public static final String LINEAR = "linear";

    public RopeScaling {
        if (!LLAMA3.equals(ropeType) && !LINEAR.equals(ropeType)) {
            throw new ConfigException("rope_scaling.rope_type", ropeType,
                    "null, 'default', 'llama3' or 'linear' (the rope types finetune4j implements)");
        }
        if (!(factor > 0)) throw new ConfigException("rope_scaling.factor", factor, "a number > 0");
        if (LLAMA3.equals(ropeType)) {
            if (!(highFreqFactor > lowFreqFactor)) {
                throw new ConfigException("rope_scaling.high_freq_factor", highFreqFactor,
                        "a number > low_freq_factor = " + lowFreqFactor);
            }
            if (!(lowFreqFactor > 0)) throw new ConfigException("rope_scaling.low_freq_factor", lowFreqFactor, "a number > 0");
            if (originalMaxPositionEmbeddings <= 0) {
                throw new ConfigException("rope_scaling.original_max_position_embeddings",
                        originalMaxPositionEmbeddings, "an integer > 0");
            }
        }
    }

    public static RopeScaling llama3(double factor, double lowFreqFactor, double highFreqFactor, int originalMax) {
        return new RopeScaling(LLAMA3, factor, lowFreqFactor, highFreqFactor, originalMax);
    }

    public static RopeScaling linear(double factor) {
        return new RopeScaling(LINEAR, factor, Double.NaN, Double.NaN, 0);
    }
}
