package finetune4j.generate;

import finetune4j.ConfigException;
import finetune4j.model.LlamaModel;
import finetune4j.testing.SharedData;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class GenerateBenchmarkTest {
    @Test
    void reportsRatesAndBytesPerToken() throws Exception {
        Path dir = Path.of(GenerateBenchmarkTest.class.getResource("/tiny-models/llama3-rope-bf16").toURI());
        GenerateBenchmark.Result r = GenerateBenchmark.run(dir, 16, 8, 1);
        assertThat(r.prefillTokensPerSecond()).isPositive();
        assertThat(r.decodeTokensPerSecond()).isPositive();
        try (LlamaModel m = LlamaModel.load(dir)) {
            assertThat(r.decodeBytesPerToken()).isEqualTo(m.decodeBytesPerToken());
            assertThat(r.parameterCount()).isEqualTo(m.parameterCount());
            // untied BF16: every matrix (2 bytes/param) except the embedding, of which one row is read
            long matrices = 2L * (m.parameterCount() - 256 * 32 - 32 * 5);       // minus embedding and 5 norms
            assertThat(r.decodeBytesPerToken()).isEqualTo(matrices + 2 * 32 + 4 * 32 * 5);
            assertThatThrownBy(() -> GenerateBenchmark.run(m, "tiny", 100, 100, 1))
                    .isInstanceOf(ConfigException.class).hasMessageContaining("context of 128");
        }
        assertThat(r.format()).contains("prefill").contains("decode").contains("GB/s");
    }

    @Test
    void stories260K() {
        Path dir = SharedData.require("models/stories260K/hf");
        GenerateBenchmark.Result r = GenerateBenchmark.run(dir, 64, 64, 2);
        System.out.println(r.format());
        assertThat(r.decodeBytesPerToken()).isGreaterThan(900_000);   // ~1 MB of F32 weights, tied head
    }
}
