package finetune4j.model;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import finetune4j.ConfigException;
import finetune4j.ModelFormatException;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * The architecture of a Llama-family decoder, read from a Hugging Face {@code config.json}
 * ({@code LlamaForCausalLM}, {@code MistralForCausalLM}, {@code Qwen2ForCausalLM}).
 *
 * <p>Keys absent from the file take the defaults of transformers' {@code LlamaConfig} (except
 * the structural ones, which are required): {@code num_key_value_heads = num_attention_heads},
 * {@code head_dim = hidden_size / num_attention_heads}, {@code rope_theta = 10000},
 * {@code rms_norm_eps = 1e-6}, {@code max_position_embeddings = 2048}, no biases, untied head.
 * Qwen2 always has q/k/v biases and no o_proj bias ({@code Qwen2Attention}); Llama's
 * {@code attention_bias} puts a bias on q, k, v <em>and</em> o ({@code LlamaAttention});
 * {@code mlp_bias} on gate, up and down.
 *
 * <p>Sliding-window attention (Mistral v0.1 {@code sliding_window}, Qwen2 with
 * {@code use_sliding_window: true}) is not implemented as a mask: within the window it is plain
 * causal attention, so finetune4j limits the context to the window instead
 * ({@link #maxContext()}), which keeps every result exact.
 *
 * <p>Transformers v5 writes {@code rope_parameters} (with {@code rope_theta} and
 * {@code rope_type} inside) instead of {@code rope_theta} / {@code rope_scaling}; both are read.
 *
 * @param architecture          the {@code architectures[0]} value (one of {@link #SUPPORTED})
 * @param modelType             {@code model_type} ("llama", "mistral", "qwen2")
 * @param vocabSize             V
 * @param hiddenSize            C
 * @param intermediateSize      F
 * @param numHiddenLayers       L
 * @param numAttentionHeads     H
 * @param numKeyValueHeads      KVH (divides H; GQA when smaller)
 * @param headDim               D (even)
 * @param maxPositionEmbeddings positions the model was trained for
 * @param rmsNormEps            RMSNorm epsilon (added in FP32)
 * @param ropeTheta             RoPE base
 * @param ropeScaling           null, or the llama3 / linear scaling
 * @param qkvBias               q/k/v projections carry a bias
 * @param oBias                 o_proj carries a bias
 * @param mlpBias               gate/up/down carry a bias
 * @param tieWordEmbeddings     lm_head reuses {@code model.embed_tokens.weight}
 * @param bosTokenId            {@code bos_token_id}, or -1 when absent
 * @param eosTokenIds           {@code eos_token_id} (int or list), possibly empty
 * @param torchDtype            {@code torch_dtype} / {@code dtype} as written ("bfloat16", ...), or null
 * @param slidingWindow         effective attention window, 0 when attention is unbounded
 */
public record ModelConfig(String architecture, String modelType, int vocabSize, int hiddenSize, int intermediateSize,
                          int numHiddenLayers, int numAttentionHeads, int numKeyValueHeads, int headDim,
                          int maxPositionEmbeddings, double rmsNormEps, double ropeTheta, RopeScaling ropeScaling,
                          boolean qkvBias, boolean oBias, boolean mlpBias, boolean tieWordEmbeddings,
                          int bosTokenId, List<Integer> eosTokenIds, String torchDtype, int slidingWindow) {

    /** The architectures finetune4j runs, with their {@code model_type}. */
    public static final List<String> SUPPORTED = List.of("LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM");
    private static final List<String> MODEL_TYPES = List.of("llama", "mistral", "qwen2");

    public ModelConfig {
        eosTokenIds = List.copyOf(eosTokenIds);
        positive("vocab_size", vocabSize);
        positive("hidden_size", hiddenSize);
        positive("intermediate_size", intermediateSize);
        positive("num_hidden_layers", numHiddenLayers);
        positive("num_attention_heads", numAttentionHeads);
        positive("num_key_value_heads", numKeyValueHeads);
        positive("head_dim", headDim);
        positive("max_position_embeddings", maxPositionEmbeddings);
        if (numAttentionHeads % numKeyValueHeads != 0) {
            throw new ConfigException("num_key_value_heads", numKeyValueHeads,
                    "a divisor of num_attention_heads = " + numAttentionHeads);
        }
        if (headDim % 2 != 0) throw new ConfigException("head_dim", headDim, "an even number (RoPE rotates pairs)");
        if (!(rmsNormEps > 0)) throw new ConfigException("rms_norm_eps", rmsNormEps, "a number > 0");
        if (!(ropeTheta > 0)) throw new ConfigException("rope_theta", ropeTheta, "a number > 0");
        if (slidingWindow < 0) throw new ConfigException("sliding_window", slidingWindow, "null or an integer > 0");
        // bos/eos ids are not checked against vocab_size: a few published configs carry ids outside
        // it, and generation simply never meets such an id.
    }

    private static void positive(String key, int v) {
        if (v <= 0) throw new ConfigException(key, v, "an integer > 0");
    }

    /** Reads {@code dir/config.json}. */
    public static ModelConfig load(Path dir) {
        return from(ConfigJson.read(dir.resolve("config.json")));
    }

    /** Parses config.json text; {@code file} names it in errors. */
    public static ModelConfig parse(String file, String json) {
        return from(ConfigJson.parse(file, json));
    }

    private static ModelConfig from(ConfigJson j) {
        String file = j.file();
        List<String> archs = j.optStrings("architectures");
        String modelType = j.optString("model_type", null);
        String arch = null;
        for (String a : archs) {
            if (SUPPORTED.contains(a)) {
                arch = a;
                break;
            }
        }
        if (arch == null && !archs.isEmpty()) {
            throw new ModelFormatException(file, "architectures = " + archs + " is not supported; finetune4j runs "
                    + SUPPORTED + " (hint: the model must be a Llama-family decoder)");
        }
        if (arch == null) {
            if (modelType == null) {
                throw new ModelFormatException(file, "neither 'architectures' nor 'model_type' is present; expected"
                        + " architectures = [\"LlamaForCausalLM\"] or one of " + SUPPORTED);
            }
            int i = MODEL_TYPES.indexOf(modelType);
            if (i < 0) {
                throw new ModelFormatException(file, "model_type = '" + modelType + "' is not supported; finetune4j runs "
                        + MODEL_TYPES + " (" + SUPPORTED + ")");
            }
            arch = SUPPORTED.get(i);
        }
        boolean qwen2 = arch.equals("Qwen2ForCausalLM");
        boolean mistral = arch.equals("MistralForCausalLM");
        if (modelType == null) modelType = MODEL_TYPES.get(SUPPORTED.indexOf(arch));

        String act = j.optString("hidden_act", "silu");
        if (!act.equals("silu")) {
            throw new ModelFormatException(file, "hidden_act = '" + act + "' is not supported; expected 'silu' (SwiGLU MLP)");
        }
        try {
            int hidden = j.requireInt("hidden_size", "C, the model width");
            int heads = j.requireInt("num_attention_heads", null);
            int kvHeads = j.optInt("num_key_value_heads", heads);
            if (!j.has("head_dim") && hidden % heads != 0) {
                throw new ModelFormatException(file, "hidden_size = " + hidden + " is not divisible by num_attention_heads = "
                        + heads + " and head_dim is absent");
            }
            int headDim = j.optInt("head_dim", hidden / Math.max(1, heads));

            double ropeTheta = j.optDouble("rope_theta", 10000.0);
            ConfigJson rope = j.object("rope_scaling");
            ConfigJson ropeParams = j.object("rope_parameters"); // transformers v5
            if (ropeParams != null) {
                ropeTheta = ropeParams.optDouble("rope_theta", ropeTheta);
                if (rope == null) rope = ropeParams;
            }
            RopeScaling scaling = rope == null ? null : ropeScaling(rope);

            boolean attentionBias = j.optBool("attention_bias", false);
            int window = 0;
            if (mistral) window = j.optInt("sliding_window", 0);
            if (qwen2 && j.optBool("use_sliding_window", false)) window = j.optInt("sliding_window", 0);
            String dtype = j.optString("torch_dtype", j.optString("dtype", null));

            return new ModelConfig(arch, modelType,
                    j.requireInt("vocab_size", "V, rows of model.embed_tokens.weight"),
                    hidden,
                    j.requireInt("intermediate_size", "F, the MLP width"),
                    j.requireInt("num_hidden_layers", "L, the number of decoder layers"),
                    heads, kvHeads, headDim,
                    j.optInt("max_position_embeddings", 2048),
                    j.optDouble("rms_norm_eps", 1e-6),
                    ropeTheta, scaling,
                    qwen2 || attentionBias, !qwen2 && attentionBias,
                    j.optBool("mlp_bias", false),
                    j.optBool("tie_word_embeddings", false),
                    firstOrMinus1(j.optInts("bos_token_id")),
                    j.optInts("eos_token_id"),
                    dtype, window);
        } catch (ConfigException e) {
            // a value out of range: keep the exception type, add the file
            throw new ConfigException(file + ": " + e.getMessage());
        }
    }

    private static int firstOrMinus1(List<Integer> ids) {
        return ids.isEmpty() ? -1 : ids.getFirst();
    }

    private static RopeScaling ropeScaling(ConfigJson r) {
        String type = r.optString("rope_type", r.optString("type", null));
        if (type == null) throw new ModelFormatException(r.file(), "rope_scaling has neither 'rope_type' nor 'type'");
        type = type.toLowerCase(Locale.ROOT);
        return switch (type) {
            case "default" -> null;
            case RopeScaling.LLAMA3 -> RopeScaling.llama3(
                    r.requireDouble("factor", "llama3 rope scaling, 8 for Llama 3.1"),
                    r.requireDouble("low_freq_factor", "llama3 rope scaling, 1 for Llama 3.1"),
                    r.requireDouble("high_freq_factor", "llama3 rope scaling, 4 for Llama 3.1"),
                    r.requireInt("original_max_position_embeddings", "llama3 rope scaling, 8192 for Llama 3.1"));
            case RopeScaling.LINEAR -> RopeScaling.linear(r.requireDouble("factor", "linear rope scaling"));
            default -> throw new ConfigException("rope_scaling.rope_type", type,
                    "null, 'default', 'llama3' or 'linear' (finetune4j does not implement '" + type
                            + "' rope scaling yet; hint: use the model's original context length without scaling"
                            + " only if you know its positions stay short)");
        };
    }

    /** Longest sequence (prompt + generated) the model can process exactly. */
    public int maxContext() {
        return slidingWindow > 0 ? Math.min(maxPositionEmbeddings, slidingWindow) : maxPositionEmbeddings;
    }

    /** Why {@link #maxContext()} is what it is, for error messages. */
    public String maxContextReason() {
        return slidingWindow > 0 && slidingWindow < maxPositionEmbeddings
                ? "sliding_window = " + slidingWindow + " (windowed attention is not implemented; within the window it is exact)"
                : "max_position_embeddings = " + maxPositionEmbeddings;
    }

    /** This config with {@code torch_dtype} replaced (e.g. "float32" for a model saved in FP32). */
    public ModelConfig withTorchDtype(String dtype) {
        return new ModelConfig(architecture, modelType, vocabSize, hiddenSize, intermediateSize, numHiddenLayers,
                numAttentionHeads, numKeyValueHeads, headDim, maxPositionEmbeddings, rmsNormEps, ropeTheta, ropeScaling,
                qkvBias, oBias, mlpBias, tieWordEmbeddings, bosTokenId, eosTokenIds, dtype, slidingWindow);
    }

    /** H / KVH: query heads per key/value head. */
    public int groupSize() {
        return numAttentionHeads / numKeyValueHeads;
    }

    /** H·D: width of the q projection output. */
    public int qDim() {
        return numAttentionHeads * headDim;
    }

    /** KVH·D: width of the k and v projection outputs (one KV-cache row). */
    public int kvDim() {
        return numKeyValueHeads * headDim;
    }

    /**
     * The config as Hugging Face JSON: the keys transformers writes for this architecture, from
     * this record's values.
     */
    public ObjectNode toJson() {
        ObjectNode n = ConfigJson.MAPPER.createObjectNode();
        n.putArray("architectures").add(architecture);
        n.put("model_type", modelType);
        n.put("vocab_size", vocabSize);
        n.put("hidden_size", hiddenSize);
        n.put("intermediate_size", intermediateSize);
        n.put("num_hidden_layers", numHiddenLayers);
        n.put("num_attention_heads", numAttentionHeads);
        n.put("num_key_value_heads", numKeyValueHeads);
        n.put("head_dim", headDim);
        n.put("hidden_act", "silu");
        n.put("max_position_embeddings", maxPositionEmbeddings);
        n.put("rms_norm_eps", rmsNormEps);
        n.put("rope_theta", ropeTheta);
        if (ropeScaling == null) {
            n.putNull("rope_scaling");
        } else {
            ObjectNode r = n.putObject("rope_scaling");
            r.put("rope_type", ropeScaling.ropeType());
            r.put("factor", ropeScaling.factor());
            if (RopeScaling.LLAMA3.equals(ropeScaling.ropeType())) {
                r.put("low_freq_factor", ropeScaling.lowFreqFactor());
                r.put("high_freq_factor", ropeScaling.highFreqFactor());
                r.put("original_max_position_embeddings", ropeScaling.originalMaxPositionEmbeddings());
            }
        }
        if (!modelType.equals("qwen2")) n.put("attention_bias", qkvBias);
        if (modelType.equals("llama")) n.put("mlp_bias", mlpBias);
        n.put("tie_word_embeddings", tieWordEmbeddings);
        if (bosTokenId >= 0) n.put("bos_token_id", bosTokenId);
        if (eosTokenIds.size() == 1) {
            n.put("eos_token_id", eosTokenIds.getFirst());
        } else if (!eosTokenIds.isEmpty()) {
            ArrayNode a = n.putArray("eos_token_id");
            eosTokenIds.forEach(a::add);
        }
        if (torchDtype != null) n.put("torch_dtype", torchDtype);
        if (modelType.equals("mistral")) {
            if (slidingWindow > 0) n.put("sliding_window", slidingWindow);
            else n.putNull("sliding_window");
        }
        if (modelType.equals("qwen2")) {
            n.put("use_sliding_window", slidingWindow > 0);
            if (slidingWindow > 0) n.put("sliding_window", slidingWindow);
        }
        return n;
    }

    /**
     * Writes {@code config.json} into {@code dir}: {@code base} (the original file's object, to
     * keep keys this record does not model, e.g. {@code initializer_range}; may be null) overlaid
     * with {@link #toJson()}; sorted keys, indent 2, via a temporary file.
     */
    public void write(Path dir, ObjectNode base) {
        ObjectNode out = base == null ? ConfigJson.MAPPER.createObjectNode() : base.deepCopy();
        out.setAll(toJson());
        ConfigJson.write(dir.resolve("config.json"), out);
    }

    /** Reads {@code dir/config.json} as a raw JSON object (to pass as {@code base} to {@link #write}). */
    public static ObjectNode rawJson(Path dir) {
        return ConfigJson.read(dir.resolve("config.json")).root();
    }
}
