package finetune4j.model;

import finetune4j.ConfigException;
import finetune4j.engine.kernels.KernelSelector;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TrainBenchmarkTest {
    @Test
    void reportsRateBuffersAndPeakMemory() {
        try (LlamaModel m = LlamaModel.load(LlamaGolden.tinyModel("qwen2-bias-f16"), KernelSelector.get())) {
            m.makeTrainable(List.of("model.layers.0.input_layernorm.weight"));      // frozen base, full backward
            TrainBenchmark.Result r = TrainBenchmark.run(m, "tiny", 2, 16, true, 2);
            assertThat(r.tokensPerSecond()).isPositive();
            assertThat(r.trainable()).isEqualTo(32);
            TrainingBuffers a = TrainingBuffers.allocate(m.config(), 2, 16, true);
            assertThat(r.activationBytes()).isEqualTo(a.activationBytes());
            assertThat(r.bufferBytes()).isEqualTo(a.bytes());
            assertThat(r.peakRssBytes()).isGreaterThan(a.bytes());                  // Linux: VmHWM
            assertThat(r.format()).contains("tokens/s").contains("checkpointing on").contains("peak RSS");
            assertThat(m.trainableParameters().getFirst().grad()).isNotEqualTo(new float[32]);
            assertThatThrownBy(() -> TrainBenchmark.run(m, "tiny", 1, 129, false, 1))
                    .isInstanceOf(ConfigException.class).hasMessageContaining("context of 128");
            assertThatThrownBy(() -> TrainBenchmark.run(m, "tiny", 0, 16, false, 1)).isInstanceOf(ConfigException.class);
        }
    }
}
