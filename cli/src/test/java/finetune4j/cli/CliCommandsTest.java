package finetune4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

class CliCommandsTest {
    @TempDir
    static Path tmp;
    static Path model;

    @BeforeAll
    static void model() {
        model = tmp.resolve("m");
        CliRunner r = CliRunner.run("init-model", "--preset", "stories260k", "--out", model.toString(), "--json");
        assertThat(r.code()).as(r.err()).isZero();
    }

    static JsonNode json(CliRunner r) throws Exception {
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out().strip().lines().count()).as("one JSON object: " + r.out()).isEqualTo(1);
        return Json.MAPPER.readTree(r.out());
    }

    @Test
    void everyCommandHasHelp() {
        for (String c : new String[]{"init-model", "inspect", "tokenize", "generate", "chat", "template", "bench", "bench gemm", "bench generate", "bench train"}) {
            String[] args = (c + " --help").split(" ");
            CliRunner r = CliRunner.run(args);
            assertThat(r.code()).as(c).isZero();
            assertThat(r.out()).as(c).contains("Usage:");
        }
    }

    @Test
    void benchTrainPrintsSaneFigures() throws Exception {
        // the stories260k preset built in memory; never a wall-clock assertion
        JsonNode j = json(CliRunner.run("bench", "train", "--preset", "stories260k", "--batch-size", "2", "--seq-len", "32",
                "--steps", "2", "--seed", "0", "--json"));
        assertThat(j.get("method").asText()).isEqualTo("lora");
        assertThat(j.get("tokens_per_step").asInt()).isEqualTo(64);
        assertThat(j.get("step_s").size()).isEqualTo(3);                             // 1 warm-up + 2 timed
        assertThat(j.get("tokens_per_s_median").asDouble()).isPositive();
        assertThat(j.get("tokens_per_s_best").asDouble()).isGreaterThanOrEqualTo(j.get("tokens_per_s_median").asDouble());
        assertThat(j.get("trainable").asLong()).isEqualTo(46_240);                   // r=8 on 7 modules × 5 layers
        assertThat(j.get("peak_rss_bytes").asLong()).isGreaterThan(j.get("buffer_bytes").asLong());
        assertThat(j.get("gemm_ceiling_gflops").asDouble()).isPositive();
        assertThat(j.get("mfu_median").asDouble()).isPositive();
        assertThat(j.get("model_gflop_per_step").asDouble()).isPositive();

        // the same model from init-model's files (seed 0): the same first loss, so --preset builds that model
        // (within what a JIT-reordered lane reduction can change)
        JsonNode f = json(CliRunner.run("bench", "train", "--model", model.toString(), "--batch-size", "2", "--seq-len", "32",
                "--steps", "1", "--seed", "0", "--no-ceiling", "--json"));
        assertThat(f.get("loss_first").asDouble()).isCloseTo(j.get("loss_first").asDouble(), org.assertj.core.data.Offset.offset(1e-5));
        assertThat(f.has("mfu_median")).isFalse();

        CliRunner full = CliRunner.run("bench", "train", "--preset", "stories260k", "--method", "full", "--batch-size", "1",
                "--seq-len", "16", "--steps", "1", "--grad-checkpoint", "--no-ceiling");
        assertThat(full.code()).as(full.err()).isZero();
        assertThat(full.out()).contains("full fine-tuning").contains("tokens/s median").contains("peak RSS")
                .contains("checkpointing on").contains("260,032 trainable");
        CliRunner bad = CliRunner.run("bench", "train", "--preset", "stories260k", "--seq-len", "4096");
        assertThat(bad.code()).isNotZero();
        assertThat(bad.err()).contains("context of 512");
    }

    @Test
    void inspectJson() throws Exception {
        JsonNode j = json(CliRunner.run("inspect", "--model", model.toString(), "--json"));
        assertThat(j.get("architecture").asText()).isEqualTo("LlamaForCausalLM");
        assertThat(j.get("parameters").asLong()).isEqualTo(260_032);
        assertThat(j.get("dtypes").get("F32").get("tensors").asInt()).isEqualTo(47);
    }

    @Test
    void tokenizeJsonAndInputFile() throws Exception {
        JsonNode j = json(CliRunner.run("tokenize", "--model", model.toString(), "--text", "Lily had a ball.", "--json"));
        assertThat(j.get("ids").get(0).asInt()).isEqualTo(1);
        assertThat(j.get("tokens").size()).isEqualTo(j.get("ids").size());
        JsonNode n = json(CliRunner.run("tokenize", "--model", model.toString(), "--text", "Lily", "--no-special", "--json"));
        assertThat(n.get("ids").get(0).asInt()).isNotEqualTo(1);

        Path in = tmp.resolve("in.jsonl");
        Files.writeString(in, "\"a\"\n\"b c\"\n");
        CliRunner r = CliRunner.run("tokenize", "--model", model.toString(), "--input", in.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out().strip().lines()).hasSize(2).allSatisfy(l -> assertThat(l).startsWith("{\"ids\":[1,"));
    }

    @Test
    void templateRendersExactlyAndChatGenerationUsesIt() throws Exception {
        Path msgs = tmp.resolve("msgs.json");
        Files.writeString(msgs, "[{\"role\": \"user\", \"content\": \"Hi\"}]");
        CliRunner r = CliRunner.run("template", "--model", model.toString(), "--messages", msgs.toString(), "--add-generation-prompt");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).isEqualTo("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
        JsonNode g = json(CliRunner.run("generate", "--model", model.toString(), "--prompt", "Hi", "--chat",
                "--max-new-tokens", "3", "--json"));
        JsonNode t = json(CliRunner.run("tokenize", "--model", model.toString(), "--no-special", "--json", "--text",
                "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"));
        assertThat(g.get("prompt_ids")).isEqualTo(t.get("ids"));
    }

    @Test
    void generateJsonIsReproducibleAndStopsAtTheLength() throws Exception {
        String[] args = {"generate", "--model", model.toString(), "--prompt", "Lily", "--max-new-tokens", "5",
                "--temperature", "0.8", "--seed", "11", "--json"};
        JsonNode a = json(CliRunner.run(args)), b = json(CliRunner.run(args));
        assertThat(a).isEqualTo(b);
        assertThat(a.get("prompt_ids").get(0).asInt()).isEqualTo(1);
        assertThat(a.get("generated_ids").size()).isBetween(1, 5);
        assertThat(a.get("stop_reason").asText()).isIn("length", "eos");
        assertThat(a.has("text")).isTrue();
    }
}
