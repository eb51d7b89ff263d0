package finetune4j.peft;

import com.fasterxml.jackson.databind.JsonNode;
import finetune4j.ConfigException;
import finetune4j.peft.LoraConfig.Targets;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a LoRA adapter looks like to the layers: the part of PEFT's {@code LoraConfig}
 * ({@code tuners/lora/config.py}, peft 0.21) that shapes them, plus nothing of the file format.
 * {@link #from(LoraConfig)} maps an {@code adapter_config.json} record onto it.
 *
 * <p>Per module: rank {@code r} and {@code alpha} come from {@link #rankPattern} /
 * {@link #alphaPattern} when a key matches (PEFT's {@code get_pattern_key}: the first key, in
 * map order, for which {@code re.match(r"(.*\.)?(KEY)$", module)} succeeds), else from
 * {@link #r} / {@link #alpha}; the scaling is {@code alpha / r}, or {@code alpha / √r} with
 * {@link #useRslora} ({@code LoraLayer.update_layer}).
 *
 * {@snippet :
 * LoraSpec spec = LoraSpec.builder(8, 16).targets(LoraConfig.Targets.names("q_proj", "v_proj")).dropout(0.05).build();
 * }
 *
 * @param r           default rank, {@code > 0}
 * @param alpha       default {@code lora_alpha}
 * @param dropout     {@code lora_dropout} probability in {@code [0, 1)}, on the LoRA branch input only
 * @param useRslora   scaling {@code alpha/√r} instead of {@code alpha/r}
 * @param useDora     DoRA: a trainable magnitude vector per output row ({@code lora_magnitude_vector})
 * @param targets     which linear layers are wrapped ({@link Targets.Unset}: PEFT's Llama default q_proj, v_proj)
 * @param exclude     layers never wrapped ({@code exclude_modules}; {@link Targets.Unset}: none)
 * @param layersToTransform with a name list of targets: only modules of these layer indices
 *                    ({@code layers_to_transform}; empty: all layers)
 * @param layersPattern the name(s) of the layer list in module names ({@code layers_pattern};
 *                    empty: the first numbered segment after the second dot, as PEFT guesses it)
 * @param rankPattern module-name regex → rank (insertion order is the matching order)
 * @param alphaPattern module-name regex → alpha (insertion order is the matching order)
 * @param init        how A and B start ({@code init_lora_weights})
 * @throws ConfigException for a rank ≤ 0, a dropout outside [0, 1), a non-finite alpha or a bad pattern
 */
public record LoraSpec(int r, double alpha, double dropout, boolean useRslora, boolean useDora, Targets targets,
                       Targets exclude, List<Integer> layersToTransform, List<String> layersPattern,
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
        if (targets == null) targets = Targets.UNSET;
        if (exclude == null) exclude = Targets.UNSET;
        checkTargets("target_modules", targets);
        checkTargets("exclude_modules", exclude);
        layersToTransform = layersToTransform == null ? List.of() : List.copyOf(layersToTransform);
        layersPattern = layersPattern == null ? List.of() : List.copyOf(layersPattern);
        if (!layersToTransform.isEmpty() && !(targets instanceof Targets.Names)) {
            throw new ConfigException("layers_to_transform cannot be used when target_modules is a str (PEFT rule)");
        }
        if (!layersPattern.isEmpty() && layersToTransform.isEmpty()) {
            throw new ConfigException("When layers_pattern is specified, layers_to_transform must also be specified (PEFT rule)");
        }
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
        return new LoraSpec(r, alpha, 0, false, false, targets, Targets.UNSET, List.of(), List.of(), Map.of(), Map.of(),
                InitWeights.KAIMING_UNIFORM);
    }

    /**
     * The spec of an {@code adapter_config.json} record.
     *
     * @throws ConfigException for settings the layers do not implement ({@link LoraConfig#unsupportedSettings()})
     */
    public static LoraSpec from(LoraConfig c) {
        List<String> unsupported = c.unsupportedSettings();
        if (!unsupported.isEmpty()) {
            throw new ConfigException("the LoRA config sets " + String.join(", ", unsupported)
                    + ", which finetune4j's LoRA layers do not implement (hint: supported are r, lora_alpha, lora_dropout, "
                    + "target_modules, exclude_modules, layers_to_transform, layers_pattern, use_rslora, use_dora, "
                    + "rank_pattern, alpha_pattern and "
                    + "init_lora_weights true/false/\"gaussian\")");
        }
        InitWeights init = switch (c.initLoraWeights()) {
            case "true" -> InitWeights.KAIMING_UNIFORM;
            case "gaussian" -> InitWeights.GAUSSIAN;
            case "false" -> InitWeights.NONE;
            default -> throw new ConfigException("init_lora_weights", c.initLoraWeights(), "true, false or \"gaussian\"");
        };
        JsonNode lp = c.other().get("layers_pattern");
        List<String> layersPattern = new java.util.ArrayList<>();
        if (lp != null && lp.isTextual() && !lp.textValue().isEmpty()) layersPattern.add(lp.textValue());
        else if (lp != null && lp.isArray()) lp.forEach(n -> layersPattern.add(n.asText()));
        return new LoraSpec(c.r(), c.loraAlpha(), c.loraDropout(), c.useRslora(), c.useDora(), c.targetModules(),
                c.excludeModules(), c.layersToTransform(), layersPattern, c.rankPattern(), c.alphaPattern(), init);
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
            if (LoraConfig.compile("pattern key", "(.*\\.)?(" + k + ")").matcher(module).matches()) return k;
        }
        return null;
    }

    /** Pattern keys that match none of {@code modules} (PEFT warns about these and ignores them). */
    List<String> unusedPatternKeys(List<String> modules) {
        List<String> out = new java.util.ArrayList<>();
        unused("rank_pattern", rankPattern.keySet(), modules, out);
        unused("alpha_pattern", alphaPattern.keySet(), modules, out);
        return out;
    }

    private static void unused(String what, Iterable<String> keys, List<String> modules, List<String> out) {
        for (String k : keys) {
            if (modules.stream().noneMatch(m -> patternKey(List.of(k), m) != null)) out.add(what + "['" + k + "']");
        }
    }

    private static <V> Map<String, V> ordered(Map<String, V> m) {
        return m == null || m.isEmpty() ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(m));
    }

    private static void compilePattern(String key, String p) {
        LoraConfig.compile(key + "['" + p + "']", "(.*\\.)?(" + p + ")");
    }

    private static void checkTargets(String key, Targets t) {
        switch (t) {
            case Targets.Names(List<String> names) -> {
                if (names.isEmpty() || names.stream().anyMatch(n -> n == null || n.isBlank())) {
                    throw new ConfigException(key, names, "a non-empty list of module names without empty entries");
                }
            }
            case Targets.Regex(String p) -> {
                if (p.isEmpty()) throw new ConfigException(key, p, "a non-empty regular expression");
                LoraConfig.compile(key, p);
            }
            case Targets.AllLinear a when key.equals("exclude_modules") ->
                    throw new ConfigException(key, a.spelling(), "a list of module names or a regex");
            default -> {
            }
        }
    }

    /** A builder for the optional fields; starts from PEFT's defaults. */
    public static final class Builder {
        private final int r;
        private final double alpha;
        private double dropout;
        private boolean rslora;
        private boolean dora;
        private Targets targets = Targets.UNSET;   // PEFT's Llama default: q_proj, v_proj
        private Targets exclude = Targets.UNSET;
        private List<Integer> layersToTransform = List.of();
        private List<String> layersPattern = List.of();
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

        public Builder exclude(Targets t) {
            this.exclude = t;
            return this;
        }

        /** {@code layers_to_transform} (and optionally {@code layers_pattern}); name-list targets only. */
        public Builder layers(List<Integer> indices, List<String> pattern) {
            this.layersToTransform = indices;
            this.layersPattern = pattern;
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
            return new LoraSpec(r, alpha, dropout, rslora, dora, targets, exclude, layersToTransform, layersPattern,
                    rankPattern, alphaPattern, init);
        }
    }
}
