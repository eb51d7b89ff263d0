package finetune4j.peft;

import finetune4j.ConfigException;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * What a LoRA adapter looks like, independent of any file format: the subset of PEFT's
 * {@code LoraConfig} ({@code tuners/lora/config.py}, peft 0.21) that shapes the layers. The
 * adapter-file record ({@code adapter_config.json}) is mapped onto this one by its reader.
 *
 * <p>Per module: rank {@code r} and {@code alpha} come from {@link #rankPattern} /
 * {@link #alphaPattern} when a key matches (PEFT's {@code get_pattern_key}: the first key, in
 * map order, for which {@code re.match(r"(.*\.)?(KEY)$", module)} succeeds), else from
 * {@link #r} / {@link #alpha}; the scaling is {@code alpha / r}, or {@code alpha / √r} with
 * {@link #useRslora} ({@code LoraLayer.update_layer}).
 *
 * {@snippet :
 * LoraSpec spec = LoraSpec.builder(8, 16).targets(Targets.names("q_proj", "v_proj")).dropout(0.05).build();
 * }
 *
 * @param r           default rank, {@code > 0}
 * @param alpha       default {@code lora_alpha}
 * @param dropout     {@code lora_dropout} probability in {@code [0, 1)}, on the LoRA branch input only
 * @param useRslora   scaling {@code alpha/√r} instead of {@code alpha/r}
 * @param useDora     DoRA: a trainable magnitude vector per output row ({@code lora_magnitude_vector})
 * @param targets     which linear layers are wrapped
 * @param rankPattern module-name regex → rank (insertion order is the matching order)
 * @param alphaPattern module-name regex → alpha (insertion order is the matching order)
 * @param init        how A and B start ({@code init_lora_weights})
 * @throws ConfigException for a rank ≤ 0, a dropout outside [0, 1), a non-finite alpha or a bad pattern
 */
public record LoraSpec(int r, double alpha, double dropout, boolean useRslora, boolean useDora, Targets targets,
                       Map<String, Integer> rankPattern, Map<String, Double> alphaPattern, InitWeights init) {

    /** PEFT's {@code init_lora_weights} values that do not need data or a decomposition. */
    public enum InitWeights {
        /** {@code true}: A ~ U(−1/√in, 1/√in) ({@code kaiming_uniform_(a=√5)}), B = 0. */
        KAIMING_UNIFORM,
        /** {@code "gaussian"}: A ~ N(0, σ = 1/r) ({@code nn.init.normal_(std=1/r)}), B = 0. */
        GAUSSIAN,
        /**
         * {@code false}: both keep {@code nn.Linear}'s default, A ~ U(±1/√in), B ~ U(±1/√r): the
         * adapter changes the output from the start (PEFT uses it for tests).
         */
        NONE
    }

    public LoraSpec {
        if (r <= 0) {
            throw new ConfigException("r", r, "a positive integer rank (PEFT: `r` should be a positive integer value)");
        }
        if (!Double.isFinite(alpha)) throw new ConfigException("lora_alpha", alpha, "a finite number");
        if (!(dropout >= 0 && dropout < 1)) throw new ConfigException("lora_dropout", dropout, "a probability in [0, 1)");
        if (targets == null) throw new ConfigException("target_modules", null, "a list of module names, a regex, or 'all-linear'");
        if (init == null) init = InitWeights.KAIMING_UNIFORM;
        rankPattern = ordered(rankPattern);
        alphaPattern = ordered(alphaPattern);
        for (var e : rankPattern.entrySet()) {
            compilePattern("rank_pattern", e.getKey());
            if (e.getValue() == null || e.getValue() <= 0) {
                throw new ConfigException("rank_pattern['" + e.getKey() + "']", e.getValue(), "a positive integer rank");
            }
        }
        for (var e : alphaPattern.entrySet()) {
            compilePattern("alpha_pattern", e.getKey());
            if (e.getValue() == null || !Double.isFinite(e.getValue())) {
                throw new ConfigException("alpha_pattern['" + e.getKey() + "']", e.getValue(), "a finite number");
            }
        }
    }

    /** Plain LoRA with PEFT's other defaults (dropout 0, no rsLoRA/DoRA, no patterns, Kaiming A). */
    public static LoraSpec of(int r, double alpha, Targets targets) {
        return new LoraSpec(r, alpha, 0, false, false, targets, Map.of(), Map.of(), InitWeights.KAIMING_UNIFORM);
    }

    public static Builder builder(int r, double alpha) {
        return new Builder(r, alpha);
    }

    /** The rank of {@code module} (an HF module name such as {@code model.layers.0.mlp.down_proj}). */
    public int rankFor(String module) {
        String key = patternKey(rankPattern.keySet(), module);
        return key == null ? r : rankPattern.get(key);
    }

    /** The {@code lora_alpha} of {@code module}. */
    public double alphaFor(String module) {
        String key = patternKey(alphaPattern.keySet(), module);
        return key == null ? alpha : alphaPattern.get(key);
    }

    /** The scaling {@code s} of {@code module}: {@code alpha/r}, or {@code alpha/√r} with rsLoRA. */
    public float scalingFor(String module) {
        return scaling(alphaFor(module), rankFor(module), useRslora);
    }

    /** {@code alpha / r}, or {@code alpha / √r} with rsLoRA, rounded to FP32 as torch applies it. */
    public static float scaling(double alpha, int r, boolean rslora) {
        return (float) (rslora ? alpha / Math.sqrt(r) : alpha / r);
    }

    /**
     * PEFT's {@code get_pattern_key}: the first key with {@code re.match(r"(.*\.)?(KEY)$", module)},
     * or null.
     */
    static String patternKey(Iterable<String> keys, String module) {
        for (String k : keys) {
            if (Pattern.compile("(.*\\.)?(" + k + ")").matcher(module).matches()) return k;
        }
        return null;
    }

    /** Pattern keys that match none of {@code modules} (PEFT warns about these and ignores them). */
    List<String> unusedPatternKeys(List<String> modules) {
        List<String> out = new java.util.ArrayList<>();
        for (var map : List.of(rankPattern.keySet(), alphaPattern.keySet())) {
            for (String k : map) {
                boolean used = false;
                for (String m : modules) used |= patternKey(List.of(k), m) != null;
                if (!used) out.add((map == rankPattern.keySet() ? "rank_pattern" : "alpha_pattern") + "['" + k + "']");
            }
        }
        return out;
    }

    private static <V> Map<String, V> ordered(Map<String, V> m) {
        return m == null || m.isEmpty() ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(m));
    }

    private static void compilePattern(String key, String p) {
        try {
            Pattern.compile("(.*\\.)?(" + p + ")");
        } catch (PatternSyntaxException e) {
            throw new ConfigException(key, p, "a valid regular expression key (" + e.getDescription() + ")");
        }
    }

    /** A builder for the optional fields; starts from PEFT's defaults. */
    public static final class Builder {
        private final int r;
        private final double alpha;
        private double dropout;
        private boolean rslora;
        private boolean dora;
        private Targets targets = Targets.names("q_proj", "v_proj"); // PEFT's Llama default
        private Map<String, Integer> rankPattern = Map.of();
        private Map<String, Double> alphaPattern = Map.of();
        private InitWeights init = InitWeights.KAIMING_UNIFORM;

        private Builder(int r, double alpha) {
            this.r = r;
            this.alpha = alpha;
        }

        public Builder dropout(double p) {
            this.dropout = p;
            return this;
        }

        public Builder rslora(boolean on) {
            this.rslora = on;
            return this;
        }

        public Builder dora(boolean on) {
            this.dora = on;
            return this;
        }

        public Builder targets(Targets t) {
            this.targets = t;
            return this;
        }

        /** Matching order is the map's iteration order: pass a {@link LinkedHashMap} for several keys. */
        public Builder rankPattern(Map<String, Integer> p) {
            this.rankPattern = p;
            return this;
        }

        /** Matching order is the map's iteration order: pass a {@link LinkedHashMap} for several keys. */
        public Builder alphaPattern(Map<String, Double> p) {
            this.alphaPattern = p;
            return this;
        }

        public Builder init(InitWeights i) {
            this.init = i;
            return this;
        }

        public LoraSpec build() {
            return new LoraSpec(r, alpha, dropout, rslora, dora, targets, rankPattern, alphaPattern, init);
        }
    }
}
