package finetune4j.peft;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import finetune4j.ConfigException;
import finetune4j.internal.PyJson;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * A LoRA / rsLoRA / DoRA adapter configuration: every field Hugging Face PEFT 0.21's
 * {@code LoraConfig} writes to {@code adapter_config.json} ({@code peft/tuners/lora/config.py},
 * SPECS.md §3a), with PEFT's defaults.
 *
 * <p>The fields finetune4j acts on are typed components. The others (EVA/CorDA/LoftQ/… init
 * configs, megatron, QALoRA, layer replication, {@code layers_to_transform}, …) are kept verbatim
 * in {@link #other()} as JSON values, so a PEFT file read here is written back byte for byte;
 * {@link #unsupportedSettings()} lists those (and typed ones) set to something finetune4j does
 * not implement, so a trainer can refuse them with a clear message.
 *
 * <p>Module matching follows PEFT exactly: {@link #targets(String)} is
 * {@code check_target_module_exists} and {@link #rank(String)} / {@link #alpha(String)} apply
 * {@code rank_pattern} / {@code alpha_pattern} through {@code get_pattern_key} (the first key, in
 * file order, such that {@code (.*\.)?(key)$} matches the full module name).
 *
 * {@snippet :
 * LoraConfig c = LoraConfig.builder().r(8).loraAlpha(16).targetModules(List.of("q_proj", "v_proj"))
 *         .taskType("CAUSAL_LM").baseModelNameOrPath("HuggingFaceTB/SmolLM2-135M").build();
 * double s = c.scaling("model.layers.0.self_attn.q_proj");    // 16 / 8 = 2.0
 * String json = c.toJson();                                  // adapter_config.json text
 * }
 *
 * @param r                    LoRA rank, &gt; 0
 * @param loraAlpha            alpha (PEFT types it int; written as an int when integral)
 * @param loraDropout          dropout on the LoRA branch input, in [0, 1)
 * @param targetModules        which modules get adapters
 * @param excludeModules       modules never adapted ({@link Targets.Unset} = none)
 * @param useRslora            scaling {@code alpha/√r} instead of {@code alpha/r}
 * @param useDora              DoRA (magnitude vector per output row)
 * @param rankPattern          module-name regex → rank, in file order
 * @param alphaPattern         module-name regex → alpha, in file order
 * @param bias                 which biases are trained ("none", "all", "lora_only")
 * @param modulesToSave        modules trained and saved in full, or {@code null}
 * @param fanInFanOut          base weight stored (in, out) (GPT-2 Conv1D); false for Llama
 * @param loraBias             a bias on lora_B
 * @param baseModelNameOrPath  the base model id or path, or {@code null}
 * @param revision             the base model revision, or {@code null}
 * @param taskType             "CAUSAL_LM" etc., or {@code null} (PEFT's default)
 * @param inferenceMode        PEFT writes {@code true} on save
 * @param peftVersion          the PEFT version the file claims, or {@code null}
 * @param other                every other PEFT 0.21 LoRA key with its JSON value (defaults filled in)
 */
public record LoraConfig(
        int r,
        double loraAlpha,
        double loraDropout,
        Targets targetModules,
        Targets excludeModules,
        boolean useRslora,
        boolean useDora,
        Map<String, Integer> rankPattern,
        Map<String, Double> alphaPattern,
        String bias,
        List<String> modulesToSave,
        boolean fanInFanOut,
        boolean loraBias,
        String baseModelNameOrPath,
        String revision,
        String taskType,
        boolean inferenceMode,
        String peftVersion,
        Map<String, JsonNode> other) {

    /** The PEFT release whose {@code adapter_config.json} layout this class writes. */
    public static final String PEFT_FORMAT_VERSION = "0.21.0";

    /** PEFT's per-architecture default targets for llama, mistral and qwen2 ({@code TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING}). */
    public static final List<String> LLAMA_DEFAULT_TARGETS = List.of("q_proj", "v_proj");

    /** The HF causal-LM output layer, which {@code all-linear} leaves out (PEFT excludes the output embeddings). */
    public static final String OUTPUT_LAYER = "lm_head";

    private static final JsonNodeFactory JSON = JsonNodeFactory.instance;

    /** PEFT 0.21 LoRA keys kept verbatim in {@link #other()}, with PEFT's defaults. */
    static final Map<String, JsonNode> OTHER_DEFAULTS;

    static {
        Map<String, JsonNode> m = new TreeMap<>();
        for (String k : List.of("alora_invocation_tokens", "arrow_config", "auto_mapping", "corda_config", "eva_config",
                "kasa_config", "layer_replication", "layers_pattern", "layers_to_transform", "lora_ga_config",
                "megatron_config", "monteclora_config", "target_parameters", "trainable_token_indices", "use_bdlora",
                "velora_config")) {
            m.put(k, JSON.nullNode());
        }
        m.put("ensure_weight_tying", JSON.booleanNode(false));
        m.put("init_lora_weights", JSON.booleanNode(true));
        m.put("loftq_config", JSON.objectNode());
        m.put("megatron_core", JSON.textNode("megatron.core"));
        m.put("qalora_group_size", JSON.numberNode(16));
        m.put("use_qalora", JSON.booleanNode(false));
        OTHER_DEFAULTS = Collections.unmodifiableMap(m);
    }

    /** Which modules an adapter attaches to: PEFT's {@code target_modules} / {@code exclude_modules} forms. */
    public sealed interface Targets {
        /** {@code null} in the file: for targets, PEFT's architecture default ({@link #LLAMA_DEFAULT_TARGETS}); for excludes, none. */
        record Unset() implements Targets {
        }

        /**
         * A list: a module matches when its full name equals an entry or ends with {@code "." + entry}.
         * Order is kept as read (PEFT holds a set, so files list them in hash order).
         */
        record Names(List<String> names) implements Targets {
            public Names {
                names = List.copyOf(names);
            }
        }

        /** A string: a regex that must match the full module name ({@code re.fullmatch}). */
        record Regex(String pattern) implements Targets {
            public Regex {
                Objects.requireNonNull(pattern);
            }
        }

        /** The string {@code "all-linear"} (any case): every linear layer except {@link #OUTPUT_LAYER}. */
        record AllLinear(String spelling) implements Targets {
        }

        Unset UNSET = new Unset();

        /** A target list. */
        static Targets names(String... names) {
            return new Names(List.of(names));
        }

        /** Parses a CLI-style value: {@code all-linear}, a comma-separated list, or {@code re:<regex>}. */
        static Targets parse(String spec) {
            String s = spec.trim();
            if (s.equalsIgnoreCase("all-linear")) return new AllLinear("all-linear");
            if (s.startsWith("re:")) return new Regex(s.substring(3));
            List<String> names = new ArrayList<>();
            for (String part : s.split(",")) if (!part.isBlank()) names.add(part.trim());
            if (names.isEmpty()) throw new ConfigException("target", spec, "all-linear, a comma-separated module list or re:<regex>");
            return new Names(names);
        }
    }

    public LoraConfig {
        if (r <= 0) throw new ConfigException("r", r, "a positive integer (the LoRA rank)");
        if (!(loraAlpha > 0) || Double.isInfinite(loraAlpha)) throw new ConfigException("lora_alpha", loraAlpha, "a finite number > 0");
        if (!(loraDropout >= 0 && loraDropout < 1)) throw new ConfigException("lora_dropout", loraDropout, "a number in [0, 1)");
        Objects.requireNonNull(targetModules, "targetModules (use Targets.UNSET)");
        Objects.requireNonNull(excludeModules, "excludeModules (use Targets.UNSET)");
        if (excludeModules instanceof Targets.AllLinear a) excludeModules = new Targets.Regex(a.spelling());
        checkRegex("target_modules", targetModules);
        checkRegex("exclude_modules", excludeModules);
        rankPattern = Collections.unmodifiableMap(new LinkedHashMap<>(rankPattern));
        alphaPattern = Collections.unmodifiableMap(new LinkedHashMap<>(alphaPattern));
        for (Map.Entry<String, Integer> e : rankPattern.entrySet()) {
            if (e.getValue() == null || e.getValue() <= 0) throw new ConfigException("rank_pattern." + e.getKey(), e.getValue(), "a positive integer");
            compile("rank_pattern key", "(.*\\.)?(" + e.getKey() + ")");
        }
        for (Map.Entry<String, Double> e : alphaPattern.entrySet()) {
            if (e.getValue() == null || !(e.getValue() > 0)) throw new ConfigException("alpha_pattern." + e.getKey(), e.getValue(), "a number > 0");
            compile("alpha_pattern key", "(.*\\.)?(" + e.getKey() + ")");
        }
        if (!List.of("none", "all", "lora_only").contains(bias)) throw new ConfigException("bias", bias, "one of [none, all, lora_only]");
        if (modulesToSave != null) modulesToSave = List.copyOf(modulesToSave);
        if (useDora && loraBias) throw new ConfigException("lora_bias = true is not supported with DoRA (use_dora = true), as in PEFT");
        Map<String, JsonNode> o = new TreeMap<>(OTHER_DEFAULTS);
        for (Map.Entry<String, JsonNode> e : other.entrySet()) {
            if (!OTHER_DEFAULTS.containsKey(e.getKey())) {
                throw new IllegalArgumentException("'" + e.getKey() + "' is not a PEFT 0.21 LoRA key kept in other(); known: " + OTHER_DEFAULTS.keySet());
            }
            o.put(e.getKey(), e.getValue() == null ? JSON.nullNode() : e.getValue().deepCopy());
        }
        other = Collections.unmodifiableMap(o);
        if (targetModules instanceof Targets.Regex || targetModules instanceof Targets.AllLinear) {
            if (!o.get("layers_to_transform").isNull()) throw new ConfigException("layers_to_transform cannot be used when target_modules is a str (PEFT rule)");
            if (!o.get("layers_pattern").isNull()) throw new ConfigException("layers_pattern cannot be used when target_modules is a str (PEFT rule)");
        }
        if (!o.get("layers_pattern").isNull() && isEmptyish(o.get("layers_to_transform"))) {
            throw new ConfigException("When layers_pattern is specified, layers_to_transform must also be specified (PEFT rule)");
        }
    }

    private static boolean isEmptyish(JsonNode n) {
        return n.isNull() || (n.isArray() && n.isEmpty());
    }

    private static void checkRegex(String key, Targets t) {
        if (t instanceof Targets.Regex(String p)) compile(key, p);
    }

    /** Compiles a PEFT (Python) regex; {@code (?P<name>…)} and {@code (?P=name)} become Java syntax. */
    static Pattern compile(String key, String pythonRegex) {
        String j = pythonRegex.replace("(?P<", "(?<").replaceAll("\\(\\?P=(\\w+)\\)", "\\\\k<$1>");
        try {
            return Pattern.compile(j);
        } catch (PatternSyntaxException e) {
            throw new ConfigException(key, pythonRegex, "a valid regular expression (" + e.getDescription() + ")");
        }
    }

    // ---------------------------------------------------------------------------------------
    // Module matching and scaling, as PEFT 0.21 does it

    /**
     * Whether PEFT would put an adapter on the module with this full name (e.g.
     * {@code model.layers.0.self_attn.q_proj}): {@code tuners_utils.check_target_module_exists}.
     * Exclusions ({@code exclude_modules}, {@code modules_to_save}) win; a list matches a full name
     * or a {@code .}-suffix, restricted by {@code layers_to_transform} / {@code layers_pattern};
     * a regex must match the whole name; {@code all-linear} takes every module except
     * {@link #OUTPUT_LAYER} (pass only linear modules).
     */
    public boolean targets(String moduleName) {
        switch (excludeModules) {
            case Targets.Regex(String p) -> {
                if (compile("exclude_modules", p).matcher(moduleName).matches()) return false;
            }
            case Targets.Names(List<String> names) -> {
                for (String x : names) if (moduleName.equals(x) || moduleName.endsWith("." + x)) return false;
            }
            default -> {
            }
        }
        if (modulesToSave != null) {
            for (String m : modulesToSave) {
                if (compile("modules_to_save", "(^|.*\\.)" + m + "($|\\..*)").matcher(moduleName).lookingAt()) return false;
            }
        }
        JsonNode targetParameters = other.get("target_parameters");
        return switch (targetModules) {
            case Targets.Unset u when !targetParameters.isNull() -> false;
            case Targets.Regex(String p) -> compile("target_modules", p).matcher(moduleName).matches();
            case Targets.AllLinear a -> !moduleName.equals(OUTPUT_LAYER);
            case Targets.Names(List<String> names) -> listMatch(names, moduleName);
            case Targets.Unset u -> listMatch(LLAMA_DEFAULT_TARGETS, moduleName);
        };
    }

    private boolean listMatch(List<String> names, String key) {
        if (names.contains(key)) return true;
        boolean found = false;
        for (String t : names) {
            if (key.endsWith("." + t)) {
                found = true;
                break;
            }
        }
        JsonNode layers = other.get("layers_to_transform");
        boolean usingLayers = !layers.isNull() && !(layers.isArray() && layers.isEmpty());
        if (!usingLayers || !found) return found;
        String index = null;
        JsonNode lp = other.get("layers_pattern");
        List<String> patterns = new ArrayList<>();
        if (lp.isTextual()) patterns.add(lp.textValue());
        else if (lp.isArray()) lp.forEach(n -> patterns.add(n.asText()));
        if (patterns.isEmpty() || (lp.isTextual() && lp.textValue().isEmpty())) {
            Matcher m = Pattern.compile(".*?\\.[^.]*\\.(?<idx>\\d+)\\.").matcher(key);
            if (m.lookingAt()) index = m.group("idx");
        } else {
            for (String p : patterns) {
                Matcher m = compile("layers_pattern", "(?:^|.*?\\.)" + p + "\\.(?<idx>\\d+)\\.").matcher(key);
                if (m.lookingAt()) {
                    index = m.group("idx");
                    break;
                }
            }
        }
        if (index == null) return false;
        long i = Long.parseLong(index);
        if (layers.isIntegralNumber()) return layers.longValue() == i;
        for (JsonNode n : layers) if (n.isIntegralNumber() && n.longValue() == i) return true;
        return false;
    }

    /** PEFT {@code get_pattern_key}: the first key (in order) with {@code (.*\.)?(key)$} matching, else null. */
    private static String patternKey(Collection<String> keys, String moduleName) {
        for (String k : keys) {
            if (compile("pattern key", "(.*\\.)?(" + k + ")").matcher(moduleName).matches()) return k;
        }
        return null;
    }

    /** The rank of the adapter on {@code moduleName}: {@code rank_pattern} or {@link #r()}. */
    public int rank(String moduleName) {
        String k = patternKey(rankPattern.keySet(), moduleName);
        return k == null ? r : rankPattern.get(k);
    }

    /** The alpha of the adapter on {@code moduleName}: {@code alpha_pattern} or {@link #loraAlpha()}. */
    public double alpha(String moduleName) {
        String k = patternKey(alphaPattern.keySet(), moduleName);
        return k == null ? loraAlpha : alphaPattern.get(k);
    }

    /** {@code alpha/r}, or {@code alpha/√r} with rsLoRA, for the module (PEFT {@code LoraLayer.update_layer}). */
    public double scaling(String moduleName) {
        int rr = rank(moduleName);
        double a = alpha(moduleName);
        return useRslora ? a / Math.sqrt(rr) : a / rr;
    }

    /** The names from {@code linearModules} PEFT would adapt, in the given order. */
    public List<String> selectTargets(Collection<String> linearModules) {
        List<String> out = new ArrayList<>();
        for (String m : linearModules) if (targets(m)) out.add(m);
        return out;
    }

    /** PEFT's {@code init_lora_weights} as text: "true", "false", "gaussian", "pissa", ... */
    public String initLoraWeights() {
        JsonNode n = other.get("init_lora_weights");
        return n.isTextual() ? n.textValue() : n.toString();
    }

    /** {@code layers_to_transform} as a list (empty when unset). */
    public List<Integer> layersToTransform() {
        JsonNode n = other.get("layers_to_transform");
        List<Integer> l = new ArrayList<>();
        if (n.isIntegralNumber()) l.add(n.intValue());
        else if (n.isArray()) n.forEach(x -> l.add(x.intValue()));
        return l;
    }

    /**
     * Settings that finetune4j's LoRA does not implement, as {@code key = value} (empty when the
     * config is fully supported): biases, fan-in-fan-out, {@code modules_to_save}, special inits
     * that change the base weights (PiSSA, OLoRA, LoftQ, CorDA, EVA …), QALoRA, megatron,
     * layer replication, trainable tokens, target parameters, aLoRA, BD-LoRA, Arrow, weight tying.
     */
    public List<String> unsupportedSettings() {
        List<String> u = new ArrayList<>();
        if (!bias.equals("none")) u.add("bias = \"" + bias + "\"");
        if (fanInFanOut) u.add("fan_in_fan_out = true");
        if (loraBias) u.add("lora_bias = true");
        if (modulesToSave != null && !modulesToSave.isEmpty()) u.add("modules_to_save = " + modulesToSave);
        String init = initLoraWeights();
        if (!List.of("true", "false", "gaussian").contains(init)) u.add("init_lora_weights = " + init);
        for (String k : List.of("alora_invocation_tokens", "arrow_config", "corda_config", "eva_config", "kasa_config",
                "layer_replication", "lora_ga_config", "megatron_config", "monteclora_config", "target_parameters",
                "trainable_token_indices", "use_bdlora", "velora_config", "ensure_weight_tying", "use_qalora")) {
            JsonNode v = other.get(k);
            if (!v.equals(OTHER_DEFAULTS.get(k))) u.add(k + " = " + v);
        }
        JsonNode loftq = other.get("loftq_config");
        if (!(loftq.isObject() && loftq.isEmpty()) && !loftq.isNull()) u.add("loftq_config = " + loftq);
        return u;
    }

    // ---------------------------------------------------------------------------------------
    // adapter_config.json

    /**
     * The {@code adapter_config.json} text PEFT's {@code save_pretrained} writes for this config:
     * {@code json.dumps(asdict(config), indent=2, sort_keys=True)}, no trailing newline, with
     * {@code peft_type} "LORA" and no keys of our own (PEFT warns about unknown keys; the producer
     * is recorded in the safetensors metadata instead).
     */
    public String toJson() {
        Map<String, Object> m = new TreeMap<>(other);
        m.put("alpha_pattern", alphaPatternJson());
        m.put("base_model_name_or_path", baseModelNameOrPath);
        m.put("bias", bias);
        m.put("exclude_modules", targetsJson(excludeModules));
        m.put("fan_in_fan_out", fanInFanOut);
        m.put("inference_mode", inferenceMode);
        m.put("lora_alpha", number(loraAlpha));
        m.put("lora_bias", loraBias);
        m.put("lora_dropout", loraDropout);
        m.put("modules_to_save", modulesToSave);
        m.put("peft_type", "LORA");
        m.put("peft_version", peftVersion);
        m.put("r", r);
        m.put("rank_pattern", rankPattern);
        m.put("revision", revision);
        m.put("target_modules", targetsJson(targetModules));
        m.put("task_type", taskType);
        m.put("use_dora", useDora);
        m.put("use_rslora", useRslora);
        return PyJson.dumpsIndent2Sorted(m);
    }

    private Map<String, Object> alphaPatternJson() {
        Map<String, Object> a = new LinkedHashMap<>();
        alphaPattern.forEach((k, v) -> a.put(k, number(v)));
        return a;
    }

    /** PEFT types alpha as int: integral values are written without a fraction ({@code 16}, not {@code 16.0}). */
    private static Object number(double v) {
        if (v == Math.rint(v) && Math.abs(v) < 0x1p53) return (long) v;
        return v;
    }

    private static Object targetsJson(Targets t) {
        return switch (t) {
            case Targets.Unset u -> null;
            case Targets.Names(List<String> names) -> names;
            case Targets.Regex(String p) -> p;
            case Targets.AllLinear(String spelling) -> spelling;
        };
    }

    /**
     * The result of parsing an {@code adapter_config.json}.
     *
     * @param config      the configuration
     * @param ignoredKeys keys PEFT 0.21's LoraConfig does not know (dropped, as PEFT drops them with a warning)
     */
    public record Parsed(LoraConfig config, List<String> ignoredKeys) {
        public Parsed {
            ignoredKeys = List.copyOf(ignoredKeys);
        }
    }

    /**
     * Parses {@code adapter_config.json} text. Missing keys take PEFT's defaults; unknown keys are
     * returned in {@link Parsed#ignoredKeys()}; {@code peft_type} is mandatory and must be "LORA".
     *
     * @param source the file name, for messages
     * @throws finetune4j.ModelFormatException naming {@code source} and the key on malformed JSON,
     *                                         a value of the wrong type, a missing or unsupported peft_type
     */
    public static Parsed fromJson(String json, String source) {
        return LoraConfigJson.parse(json, source);
    }

    // ---------------------------------------------------------------------------------------
    // Builder

    /** A builder with PEFT 0.21's defaults (r 8, alpha 8, dropout 0, targets unset, task_type null). */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this config's values. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.r = r;
        b.loraAlpha = loraAlpha;
        b.loraDropout = loraDropout;
        b.targetModules = targetModules;
        b.excludeModules = excludeModules;
        b.useRslora = useRslora;
        b.useDora = useDora;
        b.rankPattern = new LinkedHashMap<>(rankPattern);
        b.alphaPattern = new LinkedHashMap<>(alphaPattern);
        b.bias = bias;
        b.modulesToSave = modulesToSave;
        b.fanInFanOut = fanInFanOut;
        b.loraBias = loraBias;
        b.baseModelNameOrPath = baseModelNameOrPath;
        b.revision = revision;
        b.taskType = taskType;
        b.inferenceMode = inferenceMode;
        b.peftVersion = peftVersion;
        b.other = new TreeMap<>(other);
        return b;
    }

    /** Mutable builder; {@link #build()} validates. */
    public static final class Builder {
        private int r = 8;
        private double loraAlpha = 8;
        private double loraDropout = 0.0;
        private Targets targetModules = Targets.UNSET;
        private Targets excludeModules = Targets.UNSET;
        private boolean useRslora, useDora, fanInFanOut, loraBias, inferenceMode;
        private Map<String, Integer> rankPattern = new LinkedHashMap<>();
        private Map<String, Double> alphaPattern = new LinkedHashMap<>();
        private String bias = "none";
        private List<String> modulesToSave;
        private String baseModelNameOrPath, revision, taskType;
        private String peftVersion = PEFT_FORMAT_VERSION;
        private Map<String, JsonNode> other = new TreeMap<>();

        private Builder() {
        }

        public Builder r(int r) { this.r = r; return this; }
        public Builder loraAlpha(double a) { this.loraAlpha = a; return this; }
        public Builder loraDropout(double p) { this.loraDropout = p; return this; }
        public Builder targetModules(Targets t) { this.targetModules = t; return this; }
        public Builder targetModules(List<String> names) { this.targetModules = new Targets.Names(names); return this; }
        public Builder excludeModules(Targets t) { this.excludeModules = t; return this; }
        public Builder useRslora(boolean b) { this.useRslora = b; return this; }
        public Builder useDora(boolean b) { this.useDora = b; return this; }
        public Builder rankPattern(Map<String, Integer> m) { this.rankPattern = new LinkedHashMap<>(m); return this; }
        public Builder alphaPattern(Map<String, Double> m) { this.alphaPattern = new LinkedHashMap<>(m); return this; }
        public Builder bias(String b) { this.bias = b; return this; }
        public Builder modulesToSave(List<String> m) { this.modulesToSave = m; return this; }
        public Builder fanInFanOut(boolean b) { this.fanInFanOut = b; return this; }
        public Builder loraBias(boolean b) { this.loraBias = b; return this; }
        public Builder baseModelNameOrPath(String s) { this.baseModelNameOrPath = s; return this; }
        public Builder revision(String s) { this.revision = s; return this; }
        public Builder taskType(String s) { this.taskType = s; return this; }
        public Builder inferenceMode(boolean b) { this.inferenceMode = b; return this; }
        public Builder peftVersion(String s) { this.peftVersion = s; return this; }

        /** Sets one of the keys kept verbatim ({@link LoraConfig#other()}), e.g. {@code "layers_to_transform"}. */
        public Builder other(String key, JsonNode value) {
            if (!OTHER_DEFAULTS.containsKey(key)) throw new IllegalArgumentException("'" + key + "' is not one of " + OTHER_DEFAULTS.keySet());
            this.other.put(key, value);
            return this;
        }

        /** {@code init_lora_weights}: true (Kaiming-uniform A, zero B), false, or "gaussian". */
        public Builder initLoraWeights(String v) {
            return other("init_lora_weights", switch (v) {
                case "true" -> JSON.booleanNode(true);
                case "false" -> JSON.booleanNode(false);
                default -> JSON.textNode(v);
            });
        }

        /** {@code layers_to_transform}: only these layer indices get adapters (list targets only). */
        public Builder layersToTransform(List<Integer> layers) {
            var a = JSON.arrayNode();
            layers.forEach(a::add);
            return other("layers_to_transform", a);
        }

        public LoraConfig build() {
            return new LoraConfig(r, loraAlpha, loraDropout, targetModules, excludeModules, useRslora, useDora,
                    rankPattern, alphaPattern, bias, modulesToSave, fanInFanOut, loraBias, baseModelNameOrPath,
                    revision, taskType, inferenceMode, peftVersion, other);
        }
    }
}
