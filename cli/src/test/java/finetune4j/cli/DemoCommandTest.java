package finetune4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** The demo runs end to end from the base model bundled in the jar (a short run: the pipeline, not the score). */
class DemoCommandTest {

    @Test
    void shortDemoRunsFromTheBundledBaseAndWritesItsOutputs(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("demo");
        CliRunner r = CliRunner.run("demo", "--output", out.toString(), "--steps", "4", "--heldout", "3", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("BEFORE fine-tuning").contains("AFTER fine-tuning");
        for (String f : new String[]{"adapter_config.json", "adapter_model.safetensors", "metrics.jsonl", "report.html",
                "demo-summary.json"}) {
            assertThat(out.resolve(f)).as(f).exists();
        }
        String last = r.out().strip().lines().reduce((a, b) -> b).orElseThrow();
        JsonNode j = Json.MAPPER.readTree(last);
        assertThat(j.get("heldout_questions").asInt()).isEqualTo(3);
        assertThat(j.get("train_steps").asInt()).isEqualTo(4);
        assertThat(j.get("answers_after")).hasSize(3);
        assertThat(j.get("accuracy_before").asDouble()).isBetween(0.0, 1.0);
    }
}
