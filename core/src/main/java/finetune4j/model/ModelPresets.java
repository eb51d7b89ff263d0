package finetune4j.model;

import finetune4j.ConfigException;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The shapes of well-known Llama-family models, as {@code config.json} text, for random-initialised
 * models in tests and benchmarks ({@code init-model --preset}, {@code bench train --preset}). The
 * values are those of the published configs (stories260K from llama2.c; SmolLM-135M, TinyLlama-1.1B,
 * Llama-2-7B from their Hugging Face repositories).
 */
public final class ModelPresets {
    private record Shape(int hidden, int intermediate, int layers, int heads, int kvHeads, int vocab, int maxPos,
                         boolean tied, double ropeTheta) {
    }

    private static final Map<String, Shape> PRESETS = new LinkedHashMap<>();

    static {
        PRESETS.put("stories260k", new Shape(64, 172, 5, 8, 4, 512, 512, true, 10000.0));
        PRESETS.put("smollm-135m", new Shape(576, 1536, 30, 9, 3, 49152, 2048, true, 10000.0));
        PRESETS.put("tinyllama-1.1b", new Shape(2048, 5632, 22, 32, 4, 32000, 2048, false, 10000.0));
        PRESETS.put("llama-2-7b", new Shape(4096, 11008, 32, 32, 32, 32000, 4096, false, 10000.0));
    }

    private ModelPresets() {
    }

    /** Preset names, e.g. {@code smollm-135m}. */
    public static List<String> names() {
        return List.copyOf(PRESETS.keySet());
    }

    /**
     * The {@code config.json} text of a preset (a {@code LlamaForCausalLM}), with BOS id 1 and EOS id
     * 2 and {@code torch_dtype} as given.
     *
     * @throws ConfigException for an unknown name, listing the known ones
     */
    public static String configJson(String preset, String torchDtype) {
        Shape s = PRESETS.get(preset == null ? "" : preset.toLowerCase(Locale.ROOT));
        if (s == null) throw new ConfigException("preset", preset, "one of " + names());
        return """
                {
                  "architectures": ["LlamaForCausalLM"],
                  "model_type": "llama",
                  "attention_bias": false,
                  "attention_dropout": 0.0,
                  "bos_token_id": 1,
                  "eos_token_id": 2,
                  "hidden_act": "silu",
                  "hidden_size": %d,
                  "initializer_range": 0.02,
                  "intermediate_size": %d,
                  "max_position_embeddings": %d,
                  "mlp_bias": false,
                  "num_attention_heads": %d,
                  "num_hidden_layers": %d,
                  "num_key_value_heads": %d,
                  "pretraining_tp": 1,
                  "rms_norm_eps": 1e-05,
                  "rope_scaling": null,
                  "rope_theta": %s,
                  "tie_word_embeddings": %s,
                  "torch_dtype": "%s",
                  "use_cache": true,
                  "vocab_size": %d
                }
                """.formatted(s.hidden, s.intermediate, s.maxPos, s.heads, s.layers, s.kvHeads, s.ropeTheta,
                s.tied, torchDtype, s.vocab);
    }

    /** The parsed {@link ModelConfig} of a preset. */
    public static ModelConfig config(String preset) {
        return ModelConfig.parse("preset " + preset, configJson(preset, "float32"));
    }
}
