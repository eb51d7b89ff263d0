package finetune4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import finetune4j.engine.kernels.KernelProvider;
import finetune4j.engine.kernels.KernelSelector;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code --kernels native} from the command line: the launcher's jar carries the native module,
 * {@code bench gemm} reports the native products beside the Java kernels of the same run and where
 * their time went; where the library cannot load, the option is refused with the reason.
 */
class NativeKernelsCliTest {
    static KernelProvider nativeProvider() {
        return KernelSelector.providers().stream().filter(p -> p.name().equals("native")).findFirst()
                .orElseThrow(() -> new AssertionError("the CLI class path has no native kernel provider"));
    }

    @Test
    void benchGemmNativeReportsTheJavaKernelsOfTheSameRun() throws Exception {
        KernelProvider p = nativeProvider();
        CliRunner r = CliRunner.run("bench", "gemm", "--kernels", "native", "--shape", "32x64x48,17x31x5",
                "--dtype", "bf16", "--runs", "1", "--json");
        if (!p.isAvailable()) {
            assertThat(r.code()).isNotZero();
            assertThat(r.err()).contains("kernels = native cannot run here").contains(p.unavailableReason());
            return;
        }
        JsonNode j = CliCommandsTest.json(r);
        assertThat(j.get("kernels").asText()).isEqualTo("native");
        assertThat(j.get("results")).hasSize(2);
        assertThat(j.get("java_results")).hasSize(2);
        assertThat(j.get("java_results").get(0).get("kernels").asText()).isEqualTo("vector");
        assertThat(j.get("java_results").get(0).get("shape").asText()).isEqualTo("32×64×48");
        assertThat(j.get("native").asText()).startsWith("oneDNN 3.11");
        JsonNode parts = j.get("native_parts");
        assertThat(parts).as("32 rows run natively, 17 rows too (M ≥ 16)").hasSize(2);
        for (JsonNode e : parts) {
            assertThat(e.get("direction").asText()).isEqualTo("forward");
            assertThat(e.get("calls").asLong()).isPositive();
            assertThat(e.get("matmul_gflops").asDouble()).isPositive();
        }
    }

    @Test
    void generateRunsOnTheNativeKernels(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) throws Exception {
        KernelProvider p = nativeProvider();
        java.nio.file.Path model = tmp.resolve("m");
        assertThat(CliRunner.run("init-model", "--preset", "stories260k", "--out", model.toString(), "--json").code()).isZero();
        CliRunner r = CliRunner.run("generate", "--model", model.toString(), "--prompt",
                "Once upon a time there was a little girl named Lily. She liked to play in the park with her big red ball every day.",
                "--max-new-tokens", "4", "--kernels", "native", "--json");
        if (!p.isAvailable()) {
            assertThat(r.code()).isNotZero();
            assertThat(r.err()).contains("cannot run here");
            return;
        }
        JsonNode j = CliCommandsTest.json(r);
        assertThat(j.get("prompt_ids").size()).as("a prefill of at least 16 rows: native products").isGreaterThanOrEqualTo(16);
        assertThat(j.get("generated_ids")).hasSize(4);
    }
}
