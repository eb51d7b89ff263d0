package finetune4j.model;

import finetune4j.Finetune4jException;
import finetune4j.ModelFormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Bad model directories and bad inputs give one clear exception naming what is wrong. */
class LlamaModelErrorsTest {
    /** A copy of a tiny model with config.json edited by {@code from → to}. */
    private static Path copyWithConfig(Path tmp, String from, String to) throws IOException {
        Path src = LlamaGolden.tinyModel("llama-gqa-f32");
        Path dst = tmp.resolve("model");
        Files.createDirectories(dst);
        for (String f : new String[]{"model.safetensors", "generation_config.json"}) {
            Files.copy(src.resolve(f), dst.resolve(f));
        }
        String cfg = Files.readString(src.resolve("config.json"));
        assertThat(cfg).contains(from);
        Files.writeString(dst.resolve("config.json"), cfg.replace(from, to));
        return dst;
    }

    @Test
    void weightWithTheWrongShapeNamesTensorAndBothShapes(@TempDir Path tmp) throws IOException {
        Path dir = copyWithConfig(tmp, "\"intermediate_size\": 64", "\"intermediate_size\": 48");
        assertThatThrownBy(() -> LlamaModel.load(dir))
                .isInstanceOf(ModelFormatException.class)
                .hasMessageContaining(dir.toString())
                .hasMessageContaining("'model.layers.0.mlp.gate_proj.weight'")
                .hasMessageContaining("[64, 32]")
                .hasMessageContaining("[intermediate_size = 48, hidden_size = 32]");
    }

    @Test
    void gqaHeadsThatDisagreeWithKProjAreCaught(@TempDir Path tmp) throws IOException {
        Path dir = copyWithConfig(tmp, "\"num_key_value_heads\": 2", "\"num_key_value_heads\": 4");
        assertThatThrownBy(() -> LlamaModel.load(dir))
                .isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("'model.layers.0.self_attn.k_proj.weight' has shape [16, 32]")
                .hasMessageContaining("num_key_value_heads·head_dim = 32");
    }

    @Test
    void missingTensorIsNamed(@TempDir Path tmp) throws IOException {
        // untied head: lm_head.weight is required but the tied checkpoint has none
        Path dir = copyWithConfig(tmp, "\"tie_word_embeddings\": true", "\"tie_word_embeddings\": false");
        assertThatThrownBy(() -> LlamaModel.load(dir))
                .isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("'lm_head.weight' is missing")
                .hasMessageContaining("[vocab_size = 256, hidden_size = 32]");
    }

    @Test
    void unknownArchitectureOnLoad(@TempDir Path tmp) throws IOException {
        Path dir = copyWithConfig(tmp, "LlamaForCausalLM", "PhiForCausalLM");
        assertThatThrownBy(() -> LlamaModel.load(dir))
                .isInstanceOf(ModelFormatException.class)
                .hasMessageContaining(dir.resolve("config.json").toString())
                .hasMessageContaining("PhiForCausalLM")
                .hasMessageContaining("LlamaForCausalLM");
    }

    @Test
    void missingWeightsFile(@TempDir Path tmp) throws IOException {
        Path dir = copyWithConfig(tmp, "\"vocab_size\": 256", "\"vocab_size\": 256");
        Files.delete(dir.resolve("model.safetensors"));
        assertThatThrownBy(() -> LlamaModel.load(dir))
                .isInstanceOf(ModelFormatException.class).hasMessageContaining("model.safetensors");
    }

    @Test
    void sequenceLongerThanTheContextGivesTheNumbersAndAHint() {
        try (LlamaModel m = LlamaModel.load(LlamaGolden.tinyModel("llama-gqa-f32"))) {
            int[] ids = new int[130];
            assertThatThrownBy(() -> m.forward(ids))
                    .isInstanceOf(Finetune4jException.class)
                    .hasMessageContaining("130 positions")
                    .hasMessageContaining("context of 128")
                    .hasMessageContaining("max_position_embeddings = 128")
                    .hasMessageContaining("hint");
            assertThatThrownBy(() -> m.newSession(129)).isInstanceOf(Finetune4jException.class).hasMessageContaining("128");
            Session s = m.newSession(10);
            s.feed(new int[8]);
            assertThatThrownBy(() -> s.feed(new int[3]))
                    .isInstanceOf(Finetune4jException.class)
                    .hasMessageContaining("holds 8 positions")
                    .hasMessageContaining("capacity of 10");
            assertThat(s.position()).isEqualTo(8);                     // nothing was half-done
        }
    }

    @Test
    void tokenOutsideTheVocabulary() {
        try (LlamaModel m = LlamaModel.load(LlamaGolden.tinyModel("llama-gqa-f32"))) {
            assertThatThrownBy(() -> m.forward(new int[]{1, 2, 256}))
                    .isInstanceOf(Finetune4jException.class)
                    .hasMessageContaining("token id 256")
                    .hasMessageContaining("position 2")
                    .hasMessageContaining("[0, 256)");
        }
    }
}
