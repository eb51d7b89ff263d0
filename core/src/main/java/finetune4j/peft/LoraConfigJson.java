package finetune4j.peft;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import finetune4j.ConfigException;
import finetune4j.ModelFormatException;
import finetune4j.internal.PyJson;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Reads {@code adapter_config.json} as PEFT 0.21 does ({@code PeftConfigMixin.from_pretrained} →
 * {@code from_peft_type}): {@code peft_type} is required; keys the config class does not know are
 * dropped and reported; absent keys take the defaults. Every type error names the file and key.
 */
final class LoraConfigJson {
    /** Every PEFT 0.21 peft_type value ({@code peft/utils/peft_types.py PeftType}), for the "unsupported" message. */
    static final List<String> KNOWN_PEFT_TYPES = List.of(
            "PROMPT_TUNING", "MULTITASK_PROMPT_TUNING", "P_TUNING", "PREFIX_TUNING", "LORA", "ADALORA", "ADAMSS",
            "BOFT", "ADAPTION_PROMPT", "IA3", "BEFT", "LILY", "LOHA", "LOKR", "OFT", "POLY", "LN_TUNING", "VERA",
            "FROD", "PVERA", "FOURIERFT", "GLORA", "XLORA", "HRA", "VBLORA", "UNILORA", "CPT", "MISS", "RANDLORA",
            "ROAD", "TRAINABLE_TOKENS", "HIRA", "SHIRA", "C3A", "WAVEFT", "OSF", "DELORA", "GRALORA", "CARTRIDGE",
            "TINYLORA", "PSOFT", "PEANUT", "SHADOW", "SUPERTUNING", "DEFT");

    /** The LoRA keys read into typed components (plus peft_type). */
    static final Set<String> TYPED_KEYS = Set.of("alpha_pattern", "base_model_name_or_path", "bias", "exclude_modules",
            "fan_in_fan_out", "inference_mode", "lora_alpha", "lora_bias", "lora_dropout", "modules_to_save", "peft_type",
            "peft_version", "r", "rank_pattern", "revision", "target_modules", "task_type", "use_dora", "use_rslora");

    private LoraConfigJson() {
    }

    static LoraConfig.Parsed parse(String json, String source) {
        JsonNode root;
        try {
            root = PyJson.parse(json);
        } catch (JsonProcessingException e) {
            throw new ModelFormatException(source, "is not valid JSON: " + e.getOriginalMessage()
                    + (e.getLocation() != null ? " at line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() : ""));
        }
        if (root == null || !root.isObject()) throw new ModelFormatException(source, "expected a JSON object, got " + describe(root));
        JsonNode type = root.get("peft_type");
        if (type == null || type.isNull()) {
            throw new ModelFormatException(source, "key 'peft_type' is missing; PEFT requires it (e.g. \"peft_type\": \"LORA\")");
        }
        if (!type.isTextual()) throw new ModelFormatException(source, "key 'peft_type': expected a string, got " + describe(type));
        if (!type.textValue().equals("LORA")) {
            String known = KNOWN_PEFT_TYPES.contains(type.textValue()) ? "a PEFT type finetune4j does not support" : "not a PEFT type";
            throw new ModelFormatException(source, "peft_type '" + type.textValue() + "' is " + known
                    + ": finetune4j reads LoRA adapters (peft_type \"LORA\", rsLoRA and DoRA included)");
        }
        Reader r = new Reader(source, root);
        LoraConfig.Builder b = LoraConfig.builder()
                .r(r.integer("r", 8))
                .loraAlpha(r.number("lora_alpha", 8))
                .loraDropout(r.number("lora_dropout", 0.0))
                .targetModules(r.targets("target_modules"))
                .excludeModules(r.targets("exclude_modules"))
                .useRslora(r.bool("use_rslora", false))
                .useDora(r.bool("use_dora", false))
                .rankPattern(r.intMap("rank_pattern"))
                .alphaPattern(r.numberMap("alpha_pattern"))
                .bias(r.string("bias", "none"))
                .modulesToSave(r.stringListOrNull("modules_to_save"))
                .fanInFanOut(r.bool("fan_in_fan_out", false))
                .loraBias(r.bool("lora_bias", false))
                .baseModelNameOrPath(r.string("base_model_name_or_path", null))
                .revision(r.string("revision", null))
                .taskType(r.string("task_type", null))
                .inferenceMode(r.bool("inference_mode", false))
                .peftVersion(r.string("peft_version", null));
        List<String> ignored = new ArrayList<>();
        for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (TYPED_KEYS.contains(k)) continue;
            if (LoraConfig.OTHER_DEFAULTS.containsKey(k)) b.other(k, root.get(k));
            else ignored.add(k);
        }
        try {
            return new LoraConfig.Parsed(b.build(), new ArrayList<>(new TreeSet<>(ignored)));
        } catch (ConfigException e) {
            throw new ModelFormatException(source, e.getMessage());
        }
    }

    static String describe(JsonNode n) {
        if (n == null || n.isMissingNode()) return "nothing";
        String s = n.toString();
        if (s.length() > 60) s = s.substring(0, 57) + "...";
        return n.getNodeType().name().toLowerCase() + " " + s;
    }

    /** Typed access to the root object's keys, with messages naming file and key. */
    private record Reader(String source, JsonNode root) {
        private ModelFormatException bad(String key, String expected, JsonNode got) {
            return new ModelFormatException(source, "key '" + key + "': expected " + expected + ", got " + describe(got));
        }

        private JsonNode get(String key) {
            JsonNode n = root.get(key);
            return n == null || n.isNull() ? null : n;
        }

        int integer(String key, int dflt) {
            JsonNode n = get(key);
            if (n == null) return dflt;
            if (!n.isIntegralNumber() || !n.canConvertToInt()) throw bad(key, "an integer", n);
            return n.intValue();
        }

        double number(String key, double dflt) {
            JsonNode n = get(key);
            if (n == null) return dflt;
            if (!n.isNumber()) throw bad(key, "a number", n);
            return n.doubleValue();
        }

        boolean bool(String key, boolean dflt) {
            JsonNode n = get(key);
            if (n == null) return dflt;
            if (!n.isBoolean()) throw bad(key, "true or false", n);
            return n.booleanValue();
        }

        String string(String key, String dflt) {
            JsonNode n = get(key);
            if (n == null) return dflt;
            if (!n.isTextual()) throw bad(key, "a string", n);
            return n.textValue();
        }

        List<String> stringListOrNull(String key) {
            JsonNode n = get(key);
            if (n == null) return null;
            if (!n.isArray()) throw bad(key, "a list of strings", n);
            List<String> l = new ArrayList<>();
            for (JsonNode x : n) {
                if (!x.isTextual()) throw bad(key, "a list of strings", n);
                l.add(x.textValue());
            }
            return l;
        }

        LoraConfig.Targets targets(String key) {
            JsonNode n = get(key);
            if (n == null) return LoraConfig.Targets.UNSET;
            if (n.isTextual()) {
                return n.textValue().equalsIgnoreCase("all-linear") && key.equals("target_modules")
                        ? new LoraConfig.Targets.AllLinear(n.textValue()) : new LoraConfig.Targets.Regex(n.textValue());
            }
            List<String> l = stringListOrNull(key);
            return new LoraConfig.Targets.Names(l);
        }

        Map<String, Integer> intMap(String key) {
            JsonNode n = get(key);
            Map<String, Integer> m = new LinkedHashMap<>();
            if (n == null) return m;
            if (!n.isObject()) throw bad(key, "an object of module pattern → integer", n);
            for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (!e.getValue().isIntegralNumber() || !e.getValue().canConvertToInt()) throw bad(key + "." + e.getKey(), "an integer", e.getValue());
                m.put(e.getKey(), e.getValue().intValue());
            }
            return m;
        }

        Map<String, Double> numberMap(String key) {
            JsonNode n = get(key);
            Map<String, Double> m = new LinkedHashMap<>();
            if (n == null) return m;
            if (!n.isObject()) throw bad(key, "an object of module pattern → number", n);
            for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (!e.getValue().isNumber()) throw bad(key + "." + e.getKey(), "a number", e.getValue());
                m.put(e.getKey(), e.getValue().doubleValue());
            }
            return m;
        }
    }
}
