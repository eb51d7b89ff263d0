package finetune4j.quant;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import finetune4j.ConfigException;
import finetune4j.ModelFormatException;
import finetune4j.engine.tensor.QuantType;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * The {@code quantization_config} object of a bitsandbytes 4-bit model's {@code config.json}, as
 * transformers writes it ({@code BitsAndBytesConfig.to_dict()}):
 *
 * <pre>{@code
 * "quantization_config": {"_load_in_4bit": true, "_load_in_8bit": false, "bnb_4bit_compute_dtype": "bfloat16",
 *   "bnb_4bit_quant_storage": "uint8", "bnb_4bit_quant_type": "nf4", "bnb_4bit_use_double_quant": true,
 *   "llm_int8_enable_fp32_cpu_offload": false, "llm_int8_has_fp16_weight": false, "llm_int8_skip_modules": null,
 *   "llm_int8_threshold": 6.0, "load_in_4bit": true, "load_in_8bit": false, "quant_method": "bitsandbytes"}
 * }</pre>
 *
 * The block size is not here: each weight's quant state carries its own. {@code computeDtype} is
 * what bitsandbytes computes in on a GPU; finetune4j computes in FP32 whatever it says (and records
 * it for the checkpoints it writes).
 *
 * @param type         {@code bnb_4bit_quant_type}
 * @param doubleQuant  {@code bnb_4bit_use_double_quant}
 * @param computeDtype {@code bnb_4bit_compute_dtype}: float32, bfloat16 or float16
 * @param skipModules  {@code llm_int8_skip_modules}: modules kept in full precision, or null for
 *                     transformers' default (the output embedding, {@code lm_head})
 */
public record QuantizationConfig(QuantType type, boolean doubleQuant, String computeDtype, List<String> skipModules) {
    public static final String KEY = "quantization_config";

    public QuantizationConfig {
        if (type == null) throw new ConfigException("bnb_4bit_quant_type", null, "nf4 or fp4");
        if (!List.of("float32", "bfloat16", "float16").contains(computeDtype)) {
            throw new ConfigException("bnb_4bit_compute_dtype", computeDtype, "float32, bfloat16 or float16");
        }
        if (skipModules != null) {
            skipModules = List.copyOf(skipModules);
            for (String s : skipModules) {
                try {
                    Pattern.compile(s);
                } catch (PatternSyntaxException e) {
                    throw new ConfigException("llm_int8_skip_modules", s, "module names or regular expressions (" + e.getDescription() + ")");
                }
            }
        }
    }

    /**
     * The config of a {@code config.json} object, or null when it has no {@code quantization_config}.
     *
     * @throws ModelFormatException for a quantization other than bitsandbytes 4-bit, or malformed values
     */
    public static QuantizationConfig of(String file, JsonNode configJson) {
        JsonNode q = configJson.get(KEY);
        if (q == null || q.isNull()) return null;
        if (!q.isObject()) throw new ModelFormatException(file, "'" + KEY + "' must be an object, got " + q.getNodeType());
        String method = q.path("quant_method").asText("bitsandbytes");
        if (!method.equals("bitsandbytes")) {
            throw new ModelFormatException(file, KEY + ".quant_method is '" + method + "': finetune4j reads bitsandbytes 4-bit"
                    + " (NF4/FP4) checkpoints only (hint: use the unquantized model, or one quantized with bitsandbytes load_in_4bit)");
        }
        boolean in8 = q.path("load_in_8bit").asBoolean(false) || q.path("_load_in_8bit").asBoolean(false);
        boolean in4 = q.path("load_in_4bit").asBoolean(false) || q.path("_load_in_4bit").asBoolean(false);
        if (in8) {
            throw new ModelFormatException(file, KEY + " says load_in_8bit: LLM.int8 checkpoints are not supported, only 4-bit"
                    + " (NF4/FP4) ones (hint: use the unquantized model with --load-in-4bit)");
        }
        if (!in4) throw new ModelFormatException(file, KEY + " has neither load_in_4bit nor load_in_8bit set to true");
        String typeName = q.path("bnb_4bit_quant_type").asText("fp4");   // transformers' default is fp4
        QuantType type = QuantType.parse(typeName);
        if (type == null) {
            throw new ModelFormatException(file, KEY + ".bnb_4bit_quant_type is '" + typeName + "'; supported: nf4, fp4");
        }
        String compute = q.path("bnb_4bit_compute_dtype").asText("float32");
        if (!List.of("float32", "bfloat16", "float16").contains(compute)) {
            throw new ModelFormatException(file, KEY + ".bnb_4bit_compute_dtype is '" + compute + "'; expected float32, bfloat16 or float16");
        }
        String storage = q.path("bnb_4bit_quant_storage").asText("uint8");
        if (!List.of("uint8", "int8", "bfloat16", "float16", "float32").contains(storage)) {
            throw new ModelFormatException(file, KEY + ".bnb_4bit_quant_storage is '" + storage + "'; expected uint8 (or another dtype"
                    + " viewing the same bytes)");
        }
        JsonNode skip = q.get("llm_int8_skip_modules");
        List<String> skips = null;
        if (skip != null && !skip.isNull()) {
            if (!skip.isArray()) throw new ModelFormatException(file, KEY + ".llm_int8_skip_modules must be a list or null");
            skips = new ArrayList<>();
            for (JsonNode s : skip) skips.add(s.asText());
        }
        return new QuantizationConfig(type, q.path("bnb_4bit_use_double_quant").asBoolean(false), compute, skips);
    }

    /** transformers' {@code BitsAndBytesConfig(load_in_4bit=True, ...).to_dict()}. */
    public ObjectNode toJson() {
        ObjectNode n = JsonNodeFactory.instance.objectNode();
        n.put("quant_method", "bitsandbytes");
        n.put("_load_in_8bit", false);
        n.put("_load_in_4bit", true);
        n.put("llm_int8_threshold", 6.0);
        if (skipModules == null) {
            n.putNull("llm_int8_skip_modules");
        } else {
            ArrayNode a = n.putArray("llm_int8_skip_modules");
            skipModules.forEach(a::add);
        }
        n.put("llm_int8_enable_fp32_cpu_offload", false);
        n.put("llm_int8_has_fp16_weight", false);
        n.put("bnb_4bit_quant_type", type.bnbName());
        n.put("bnb_4bit_use_double_quant", doubleQuant);
        n.put("bnb_4bit_compute_dtype", computeDtype);
        n.put("bnb_4bit_quant_storage", "uint8");
        n.put("load_in_4bit", true);
        n.put("load_in_8bit", false);
        return n;
    }

    /**
     * Whether transformers would quantize the linear module {@code name}: not when it is the output
     * embedding ({@code lm_head}; transformers' default skip list) — unless an explicit skip list
     * replaces the default — nor when a skip entry matches it the way
     * {@code quantizers_utils.should_convert_module} matches: as a regex at the start of the name,
     * or as a suffix.
     */
    public boolean quantizes(String name) {
        List<String> skips = skipModules == null ? List.of("lm_head") : skipModules;
        for (String s : skips) {
            if (Pattern.compile(s).matcher(name).lookingAt() || name.endsWith(s)) return false;
        }
        return true;
    }

    /** The torch dtype name of a {@code --compute-dtype} flag value (bf16, f32, fp16, ...). */
    public static String computeDtype(String flag) {
        return switch (flag.toLowerCase(Locale.ROOT)) {
            case "bf16", "bfloat16" -> "bfloat16";
            case "f32", "fp32", "float32" -> "float32";
            case "f16", "fp16", "float16" -> "float16";
            default -> throw new ConfigException("--compute-dtype", flag, "bf16, f32 or f16");
        };
    }

    /** The QuantSpec this config describes, with {@code blocksize}. */
    public QuantSpec spec(int blocksize) {
        return new QuantSpec(type, blocksize, doubleQuant);
    }
}
