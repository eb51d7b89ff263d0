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
        for (String c : new String[]{"init-model", "inspect", "tokenize", "generate", "chat", "template", "bench", "bench gemm", "bench generate"}) {
            String[] args = (c + " --help").split(" ");
            CliRunner r = CliRunner.run(args);
            assertThat(r.code()).as(c).isZero();
            assertThat(r.out()).as(c).contains("Usage:");
        }
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
