package finetune4j.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import finetune4j.ConfigException;
import finetune4j.ModelFormatException;
import finetune4j.testing.SharedData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** config.json / generation_config.json reading, defaults, validation messages and the writer. */
class ModelConfigTest {
    private static final String MIN = """
            {"architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 172,
             "num_hidden_layers": 5, "num_attention_heads": 8, "vocab_size": 512 %s}""";

    private static ModelConfig parse(String extra) {
        return ModelConfig.parse("config.json", MIN.formatted(extra));
    }

    @Test
    void realStories260KConfig() {
        ModelConfig c = ModelConfig.load(SharedData.require("models/stories260K/hf"));
        assertThat(c.architecture()).isEqualTo("LlamaForCausalLM");
        assertThat(c.hiddenSize()).isEqualTo(64);
        assertThat(c.numKeyValueHeads()).isEqualTo(4);
        assertThat(c.headDim()).isEqualTo(8);
        assertThat(c.tieWordEmbeddings()).isTrue();
        assertThat(c.rmsNormEps()).isEqualTo(1e-5);
        assertThat(c.eosTokenIds()).containsExactly(2);
        assertThat(c.maxContext()).isEqualTo(512);
        GenerationConfig g = GenerationConfig.load(SharedData.require("models/stories260K/hf"));
        assertThat(g.eosTokenIds()).containsExactly(2, 1);
        assertThat(g.doSample()).isFalse();
    }

    @Test
    void defaultsFollowLlamaConfig() {
        ModelConfig c = parse("");
        assertThat(c.numKeyValueHeads()).isEqualTo(8);                 // = num_attention_heads
        assertThat(c.headDim()).isEqualTo(8);                          // hidden / heads
        assertThat(c.ropeTheta()).isEqualTo(10000.0);
        assertThat(c.rmsNormEps()).isEqualTo(1e-6);
        assertThat(c.maxPositionEmbeddings()).isEqualTo(2048);
        assertThat(c.ropeScaling()).isNull();
        assertThat(c.tieWordEmbeddings()).isFalse();
        assertThat(c.qkvBias() || c.oBias() || c.mlpBias()).isFalse();
        assertThat(c.bosTokenId()).isEqualTo(-1);
        assertThat(c.eosTokenIds()).isEmpty();
    }

    @Test
    void biasesPerArchitecture() {
        ModelConfig qwen = ModelConfig.parse("config.json", MIN.formatted("").replace("LlamaForCausalLM", "Qwen2ForCausalLM"));
        assertThat(qwen.qkvBias()).isTrue();
        assertThat(qwen.oBias()).isFalse();                            // Qwen2Attention: o_proj has no bias
        ModelConfig llama = parse(", \"attention_bias\": true, \"mlp_bias\": true");
        assertThat(llama.qkvBias()).isTrue();
        assertThat(llama.oBias()).isTrue();                            // LlamaAttention: o_proj bias = attention_bias
        assertThat(llama.mlpBias()).isTrue();
    }

    @Test
    void eosIdsAsIntOrList() {
        assertThat(parse(", \"eos_token_id\": 2").eosTokenIds()).containsExactly(2);
        assertThat(parse(", \"eos_token_id\": [1, 7, 9]").eosTokenIds()).containsExactly(1, 7, 9);
    }

    @Test
    void llama3RopeScaling() {
        ModelConfig c = parse(", \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0,"
                + " \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192}");
        assertThat(c.ropeScaling()).isEqualTo(RopeScaling.llama3(8, 1, 4, 8192));
        // old spelling "type"
        ModelConfig lin = parse(", \"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}");
        assertThat(lin.ropeScaling()).isEqualTo(RopeScaling.linear(2));
        assertThat(parse(", \"rope_scaling\": {\"rope_type\": \"default\"}").ropeScaling()).isNull();
        // transformers v5: rope_parameters
        ModelConfig v5 = parse(", \"rope_parameters\": {\"rope_type\": \"default\", \"rope_theta\": 500000.0}");
        assertThat(v5.ropeTheta()).isEqualTo(500000.0);
        assertThat(v5.ropeScaling()).isNull();
    }

    @Test
    void unsupportedRopeTypeIsAConfigExceptionNamingIt() {
        assertThatThrownBy(() -> parse(", \"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4.0}"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("config.json")
                .hasMessageContaining("rope_scaling.rope_type")
                .hasMessageContaining("'yarn'")
                .hasMessageContaining("llama3");
        assertThatThrownBy(() -> parse(", \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0}"))
                .isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("low_freq_factor");
    }

    @Test
    void unknownArchitectureNamesFileValueAndSupportedOnes() {
        assertThatThrownBy(() -> ModelConfig.parse("/m/config.json", MIN.formatted("").replace("LlamaForCausalLM", "GPT2LMHeadModel")))
                .isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("/m/config.json")
                .hasMessageContaining("GPT2LMHeadModel")
                .hasMessageContaining("LlamaForCausalLM")
                .hasMessageContaining("Qwen2ForCausalLM")
                .hasMessageContaining("MistralForCausalLM");
        assertThatThrownBy(() -> ModelConfig.parse("config.json", "{\"model_type\": \"gemma\", \"hidden_size\": 8}"))
                .isInstanceOf(ModelFormatException.class).hasMessageContaining("'gemma'");
        // model_type alone is enough when architectures is absent
        ModelConfig c = ModelConfig.parse("config.json", MIN.formatted("")
                .replace("\"architectures\": [\"LlamaForCausalLM\"],", "\"model_type\": \"mistral\","));
        assertThat(c.architecture()).isEqualTo("MistralForCausalLM");
    }

    @Test
    void missingAndMistypedKeysAreNamed() {
        assertThatThrownBy(() -> ModelConfig.parse("config.json", MIN.formatted("").replace("\"hidden_size\": 64,", "")))
                .isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("config.json")
                .hasMessageContaining("'hidden_size' is missing");
        assertThatThrownBy(() -> ModelConfig.parse("config.json", MIN.formatted("").replace("\"vocab_size\": 512", "\"vocab_size\": \"512\"")))
                .isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("'vocab_size' must be an integer, got \"512\"");
        assertThatThrownBy(() -> ModelConfig.parse("config.json", "{\"architectures\": [\"LlamaForCausalLM\"],"))
                .isInstanceOf(ModelFormatException.class).hasMessageContaining("not valid JSON");
        assertThatThrownBy(() -> parse(", \"num_key_value_heads\": 3"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("num_key_value_heads = 3")
                .hasMessageContaining("divisor of num_attention_heads = 8");
        assertThatThrownBy(() -> parse(", \"hidden_act\": \"gelu\""))
                .isInstanceOf(ModelFormatException.class).hasMessageContaining("hidden_act = 'gelu'");
        assertThatThrownBy(() -> ModelConfig.load(Path.of("/nonexistent-model-dir")))
                .isInstanceOf(ModelFormatException.class).hasMessageContaining("config.json").hasMessageContaining("not found");
    }

    @Test
    void slidingWindowLimitsTheContext() {
        String mistral = MIN.formatted(", \"max_position_embeddings\": 32768, \"sliding_window\": 4096")
                .replace("LlamaForCausalLM", "MistralForCausalLM");
        ModelConfig m = ModelConfig.parse("config.json", mistral);
        assertThat(m.maxContext()).isEqualTo(4096);
        assertThat(m.maxContextReason()).contains("sliding_window = 4096");
        assertThat(ModelConfig.parse("config.json", mistral.replace("\"sliding_window\": 4096", "\"sliding_window\": null"))
                .maxContext()).isEqualTo(32768);
        String qwen = MIN.formatted(", \"max_position_embeddings\": 32768, \"sliding_window\": 4096, \"use_sliding_window\": false")
                .replace("LlamaForCausalLM", "Qwen2ForCausalLM");
        assertThat(ModelConfig.parse("config.json", qwen).maxContext()).isEqualTo(32768);
    }

    @Test
    void writeThenReadGivesTheSameConfigAndKeepsUnknownKeys(@TempDir Path dir) throws Exception {
        for (String name : LlamaGolden.TINY) {
            Path src = LlamaGolden.tinyModel(name);
            ModelConfig c = ModelConfig.load(src);
            Path out = dir.resolve(name);
            c.write(out, ModelConfig.rawJson(src));
            assertThat(ModelConfig.load(out)).as(name).isEqualTo(c);
            ObjectNode written = (ObjectNode) new ObjectMapper().readTree(out.resolve("config.json").toFile());
            assertThat(written.get("initializer_range").doubleValue()).isEqualTo(0.02);
            String text = Files.readString(out.resolve("config.json"));
            assertThat(text).startsWith("{\n  \"architectures\": [\n    \"").endsWith("}\n");
            assertThat(text.indexOf("\"hidden_size\"")).isLessThan(text.indexOf("\"vocab_size\""));   // sorted keys
            try (var files = Files.list(out)) {
                assertThat(files.map(p -> p.getFileName().toString()).toList()).containsExactly("config.json");
            }
            // without a base, toJson alone is enough to read back
            c.write(dir.resolve(name + "-bare"), null);
            assertThat(ModelConfig.load(dir.resolve(name + "-bare"))).isEqualTo(c);
        }
    }

    @Test
    void generationConfigDefaultsValuesAndErrors(@TempDir Path dir) {
        assertThat(GenerationConfig.load(dir)).isEqualTo(GenerationConfig.defaults());    // file is optional
        GenerationConfig g = GenerationConfig.parse("generation_config.json", """
                {"bos_token_id": 128000, "eos_token_id": [128001, 128009], "do_sample": true,
                 "temperature": 0.6, "top_p": 0.9, "pad_token_id": 0, "max_new_tokens": 64, "repetition_penalty": 1.1}""");
        assertThat(g.eosTokenIds()).containsExactly(128001, 128009);
        assertThat(g.doSample()).isTrue();
        assertThat(g.temperature()).isEqualTo(0.6);
        assertThat(g.topP()).isEqualTo(0.9);
        assertThat(g.topK()).isEqualTo(50);                  // transformers' default
        assertThat(g.maxNewTokens()).isEqualTo(64);
        assertThat(g.repetitionPenalty()).isEqualTo(1.1);
        g.write(dir);
        assertThat(GenerationConfig.load(dir)).isEqualTo(g);
        assertThatThrownBy(() -> GenerationConfig.parse("generation_config.json", "{\"top_p\": 1.5}"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("generation_config.json").hasMessageContaining("top_p = 1.5");
        assertThat(List.of(GenerationConfig.defaults().topK())).containsExactly(50);
    }
}
