package finetune4j.export;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import finetune4j.ConfigException;
import finetune4j.engine.io.ModelWeights;
import finetune4j.engine.tensor.DType;
import finetune4j.model.LlamaModel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ModelInitTest {

    @Test
    void presetModelLoadsRunsAndHasHuggingFaceInitStatistics(@TempDir Path dir) throws Exception {
        ModelInit.Result r = ModelInit.preset("stories260k", dir, 42, DType.F32);
        assertThat(r.tokenizerVocab()).isEqualTo(512);
        assertThat(dir.resolve("tokenizer.json")).exists();
        assertThat(dir.resolve("generation_config.json")).exists();
        try (LlamaModel m = LlamaModel.load(dir)) {
            assertThat(m.parameterCount()).isEqualTo(r.parameters());
            float[] logits = m.forward(new int[]{1, 300, 301});
            assertThat(logits).hasSize(512);
            for (float v : logits) assertThat(Float.isFinite(v)).isTrue();
        }
        try (ModelWeights w = ModelWeights.open(dir)) {
            float[] q = w.floats("model.layers.0.self_attn.q_proj.weight");
            double s = 0, ss = 0;
            for (float v : q) {
                s += v;
                ss += v * v;
            }
            double mean = s / q.length, std = Math.sqrt(ss / q.length - mean * mean);
            assertThat(mean).isBetween(-0.003, 0.003);
            assertThat(std).isBetween(0.018, 0.022);
            assertThat(w.floats("model.layers.0.input_layernorm.weight")).containsOnly(1f);
        }
        try (HuggingFaceTokenizer hf = HuggingFaceTokenizer.builder().optTokenizerPath(dir)
                .optTruncation(false).optPadding(false).build()) {
            assertThat(hf.encode("Lily went to the park.").getIds()[0]).isEqualTo(1L);
        }
    }

    @Test
    void sameSeedGivesSameBytesAndBf16IsTheRoundedF32(@TempDir Path dir) throws Exception {
        ModelInit.preset("stories260k", dir.resolve("a"), 7, DType.F32);
        ModelInit.preset("stories260k", dir.resolve("b"), 7, DType.F32);
        ModelInit.preset("stories260k", dir.resolve("c"), 7, DType.BF16);
        assertThat(Files.readAllBytes(dir.resolve("a/model.safetensors")))
                .isEqualTo(Files.readAllBytes(dir.resolve("b/model.safetensors")));
        try (ModelWeights f = ModelWeights.open(dir.resolve("a")); ModelWeights b = ModelWeights.open(dir.resolve("c"))) {
            String name = "model.layers.3.mlp.down_proj.weight";
            assertThat(b.info(name).dtype()).isEqualTo(DType.BF16);
            float[] x = f.floats(name), y = b.floats(name);
            for (int i = 0; i < x.length; i++) {
                assertThat(y[i]).isEqualTo(DType.bf16ToFloat(DType.floatToBf16(x[i])));
            }
        }
    }

    @Test
    void unknownPresetListsTheKnownOnes(@TempDir Path dir) {
        assertThatThrownBy(() -> ModelInit.preset("gpt-5", dir, 1, DType.F32))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("smollm-135m").hasMessageContaining("gpt-5");
    }
}
