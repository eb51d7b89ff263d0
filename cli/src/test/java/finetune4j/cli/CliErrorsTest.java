package finetune4j.cli;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Bad input gives one clear line on stderr naming the file or key, exit code ≠ 0, and no stack
 * trace (unless --debug).
 */
class CliErrorsTest {
    @TempDir
    static Path tmp;
    static Path model;

    @BeforeAll
    static void model() {
        model = tmp.resolve("m");
        CliRunner r = CliRunner.run("init-model", "--preset", "stories260k", "--out", model.toString(), "--seed", "3");
        assertThat(r.code()).as(r.err()).isZero();
    }

    /** A copy of the model directory whose files the test may break. */
    static Path copy(String name) throws IOException {
        Path d = tmp.resolve(name);
        Files.createDirectories(d);
        try (var s = Files.list(model)) {
            for (Path p : (Iterable<Path>) s::iterator) Files.copy(p, d.resolve(p.getFileName()), StandardCopyOption.REPLACE_EXISTING);
        }
        return d;
    }

    static void assertCleanError(CliRunner r, String... fragments) {
        assertThat(r.code()).as("exit code; stderr: " + r.err()).isNotZero();
        assertThat(r.err()).startsWith("error: ");
        assertThat(r.err().strip().lines().count()).as("one line: " + r.err()).isEqualTo(1);
        assertThat(r.err()).doesNotContain("\tat ").doesNotContain("Exception");
        for (String f : fragments) assertThat(r.err()).contains(f);
    }

    @Test
    void truncatedSafetensors() throws IOException {
        Path d = copy("truncated");
        Path f = d.resolve("model.safetensors");
        byte[] b = Files.readAllBytes(f);
        Files.write(f, java.util.Arrays.copyOf(b, b.length - 100));
        assertCleanError(CliRunner.run("inspect", "--model", d.toString()), "model.safetensors");
    }

    @Test
    void headerClaimingTerabytes() throws IOException {
        Path d = copy("huge");
        Path f = d.resolve("model.safetensors");
        byte[] b = Files.readAllBytes(f);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 5L << 40);
        Files.write(f, b);
        assertCleanError(CliRunner.run("generate", "--model", d.toString(), "--prompt", "hi"), "model.safetensors", "header");
    }

    @Test
    void corruptedHeader() throws IOException {
        Path d = copy("corrupt");
        Path f = d.resolve("model.safetensors");
        byte[] b = Files.readAllBytes(f);
        for (int i = 9; i < 40; i++) b[i] = '#';
        Files.write(f, b);
        assertCleanError(CliRunner.run("inspect", "--model", d.toString()), "model.safetensors");
    }

    @Test
    void missingTokenizerFile() throws IOException {
        Path d = copy("notok");
        Files.delete(d.resolve("tokenizer.json"));
        assertCleanError(CliRunner.run("generate", "--model", d.toString(), "--prompt", "hi"), "tokenizer.json");
        assertCleanError(CliRunner.run("tokenize", "--model", d.toString(), "--text", "hi"), "tokenizer.json");
    }

    @Test
    void unknownArchitecture() throws IOException {
        Path d = copy("arch");
        Path c = d.resolve("config.json");
        Files.writeString(c, Files.readString(c).replace("LlamaForCausalLM", "GPT2LMHeadModel"));
        assertCleanError(CliRunner.run("inspect", "--model", d.toString()), "config.json", "GPT2LMHeadModel");
    }

    @Test
    void promptLongerThanTheContext() {
        String longPrompt = "Lily went to the park. ".repeat(200);
        assertCleanError(CliRunner.run("generate", "--model", model.toString(), "--prompt", longPrompt), "context", "512");
    }

    @Test
    void templateThatRaises() throws IOException {
        Path d = copy("raises");
        Path cfg = d.resolve("tokenizer_config.json");
        String raising = "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}";
        var node = (com.fasterxml.jackson.databind.node.ObjectNode) Json.MAPPER.readTree(Files.readString(cfg));
        node.put("chat_template", raising);
        Files.writeString(cfg, Json.MAPPER.writeValueAsString(node));
        Path msgs = d.resolve("msgs.json");
        Files.writeString(msgs, "[{\"role\": \"system\", \"content\": \"x\"}, {\"role\": \"user\", \"content\": \"hi\"}]");
        assertCleanError(CliRunner.run("template", "--model", d.toString(), "--messages", msgs.toString()),
                "tokenizer_config.json", "System role not supported");
    }

    @Test
    void missingModelDirectory() {
        assertCleanError(CliRunner.run("inspect", "--model", tmp.resolve("nope").toString()));
    }

    @Test
    void debugPrintsTheStackTrace() throws IOException {
        Path d = copy("debug");
        Files.delete(d.resolve("tokenizer.json"));
        CliRunner r = CliRunner.run("--debug", "generate", "--model", d.toString(), "--prompt", "hi");
        assertThat(r.code()).isNotZero();
        assertThat(r.err()).contains("\tat ");
    }

    @Test
    void usageErrorsExitWith2() {
        CliRunner r = CliRunner.run("generate", "--prompt", "x");
        assertThat(r.code()).isEqualTo(Cli.EXIT_USAGE);
        assertThat(r.err()).contains("--model");
    }
}
