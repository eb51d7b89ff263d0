package finetune4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import finetune4j.engine.io.SafetensorsWriter;
import finetune4j.peft.PeftAdapter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Bad input to {@code train} and {@code eval}: each is one line {@code error: ...} on stderr with
 * what was wrong and where, exit code 1, no stack trace, and nothing written to {@code --output}
 * (not even the directory) when the run is refused before it starts. Training that turns
 * non-finite stops with a message naming the step and the last good checkpoint, keeps that
 * checkpoint and writes no final adapter or model.
 */
class TrainErrorsTest {
    @TempDir
    static Path tmp;

    static void assertCleanError(TrainCli.Run r, String... fragments) {
        assertThat(r.code()).as("exit code; stderr: " + r.err()).isEqualTo(1);
        assertThat(r.err()).startsWith("error: ");
        assertThat(r.err().strip().lines().count()).as("one line: " + r.err()).isEqualTo(1);
        assertThat(r.err()).doesNotContain("\tat ").doesNotContain("Exception");
        for (String f : fragments) assertThat(r.err()).contains(f);
    }

    /** Runs {@code train} into a fresh --output, expects a refusal before training and no output at all. */
    static TrainCli.Run refused(String name, String... args) {
        Path out = tmp.resolve("out-" + name);
        TrainCli.Run r = TrainCli.run(TrainCommandTest.concat(args, "--output", out.toString()));
        assertThat(out).as("nothing left in --output after: " + r.err()).doesNotExist();
        assertThat(r.console()).as("no training started").doesNotContain("training ");
        return r;
    }

    static Path file(String name, String text) throws IOException {
        Path f = tmp.resolve(name);
        Files.writeString(f, text);
        return f;
    }

    /** {@code train} on the tiny model with {@code more} flags ({@code --steps 2} unless they set it). */
    static String[] train(Path data, String... more) {
        String[] base = {"train", "--model", TrainCli.MODEL.toString(), "--data", data.toString(), "--batch-size", "2"};
        if (!List.of(more).contains("--steps")) base = TrainCommandTest.concat(base, "--steps", "2");
        return TrainCommandTest.concat(base, more);
    }

    @Test
    void emptyDataset() throws IOException {
        Path empty = file("empty.jsonl", "");
        assertCleanError(refused("empty", train(empty)), "empty.jsonl", "the dataset is empty");
        Path blank = file("blank.jsonl", "\n   \n\n");
        assertCleanError(refused("blank", train(blank)), "blank.jsonl", "the dataset is empty");
        assertCleanError(refused("empty-valid", train(TrainCli.DATA, "--valid-data", empty.toString())), "empty.jsonl", "empty");
    }

    @Test
    void recordMissingItsFieldNamesFileAndLine() throws IOException {
        Path missing = file("missing.jsonl", "{\"text\": \"the cat sat.\"}\n\n{\"prompt\": \"say hi:\"}\n");
        assertCleanError(refused("missing", train(missing)), "missing.jsonl:3", "'completion'", "is missing");
        Path none = file("none.jsonl", "{\"text\": \"the cat sat.\"}\n{\"txt\": \"a dog\"}\n");
        assertCleanError(refused("none", train(none)), "none.jsonl:2", "\"text\"", "\"prompt\"", "found keys [txt]");
        Path type = file("type.jsonl", "{\"text\": 5}\n");
        assertCleanError(refused("type", train(type)), "type.jsonl:1", "'text'", "expected a string, got number");
        Path json = file("json.jsonl", "{\"text\": \"ok\"}\n{\"text\": \"unterminated}\n");
        assertCleanError(refused("json", train(json)), "json.jsonl:2", "invalid JSON");
    }

    /**
     * The model's context (max_position_embeddings 64 here) bounds --max-seq-len: asking for more
     * is an error; records longer than --max-seq-len are cut to it (TRL's truncation); without
     * the flag the length is 512 or the model's context if shorter.
     */
    @Test
    void maxSeqLenBeyondTheModelContext() throws IOException {
        assertCleanError(refused("seq", train(TrainCli.DATA, "--max-seq-len", "65")), "max-seq-len", "65",
                "at most the model's context of 64");
        CliRunner e = CliRunner.run("eval", "--model", TrainCli.MODEL.toString(), "--data", TrainCli.DATA.toString(), "--max-seq-len", "100");
        assertCleanError(new TrainCli.Run(e.code(), e.out(), e.err(), ""), "--max-seq-len", "100", "context of 64");

        // a record longer than the context is cut, not refused; the default length is the context (64 < 512)
        Path longRec = file("long.jsonl", "{\"text\": \"" + "the cat sat on the mat. ".repeat(10) + "\"}\n{\"text\": \"a dog.\"}\n");
        Path out = tmp.resolve("out-long");
        TrainCli.Run r = TrainCli.run(TrainCommandTest.concat(train(longRec, "--steps", "1"), "--output", out.toString()));
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode start = new ObjectMapper().readTree(Files.readAllLines(out.resolve("metrics.jsonl")).getFirst());
        assertThat(start.get("config").get("max_seq_len").asText()).isEqualTo("64");
        JsonNode step = new ObjectMapper().readTree(Files.readAllLines(out.resolve("metrics.jsonl")).get(1));
        assertThat(step.get("tokens").asLong()).as("64 + the short record's tokens").isLessThan(64 + 10);
    }

    @Test
    void rankZero() {
        assertCleanError(refused("rank", train(TrainCli.DATA, "--rank", "0")), "--rank", "0", "≥ 1");
    }

    @Test
    void warmupWithTheConstantScheduleIsRefusedNotIgnored() {
        assertCleanError(refused("warmup", train(TrainCli.DATA, "--warmup", "5")), "warmup", "constant_with_warmup");
    }

    @Test
    void targetMatchingNothingListsTheModules() {
        assertCleanError(refused("target", train(TrainCli.DATA, "--target", "foo_proj")), "[foo_proj] matches none of",
                "self_attn.q_proj", "mlp.down_proj", "lm_head");
        assertCleanError(refused("full-target", train(TrainCli.DATA, "--method", "full", "--target", "model\\.foo.*")),
                "model\\.foo.*", "model.layers.{i}.self_attn.q_proj.weight", "model.norm.weight");
    }

    /** An adapter directory written from the golden init_lora with its tensors changed by {@code edit}. */
    static Path editedAdapter(String name, BiFunction<String, PeftAdapter.Tensor, PeftAdapter.Tensor> edit, Map<String, PeftAdapter.Tensor> extra)
            throws IOException {
        Path src = TrainCli.GOLDEN.resolve("init_lora"), dir = tmp.resolve(name);
        Files.createDirectories(dir);
        Files.copy(src.resolve(PeftAdapter.CONFIG_FILE), dir.resolve(PeftAdapter.CONFIG_FILE));
        SafetensorsWriter w = SafetensorsWriter.create().metadata("format", "pt");
        for (Map.Entry<String, PeftAdapter.Tensor> e : PeftAdapter.load(src).tensors().entrySet()) {
            PeftAdapter.Tensor t = edit.apply(e.getKey(), e.getValue());
            if (t != null) w.add(e.getKey(), t.shape(), t.data());
        }
        extra.forEach((k, t) -> w.add(k, t.shape(), t.data()));
        w.write(dir.resolve(PeftAdapter.WEIGHTS_FILE));
        return dir;
    }

    /**
     * An adapter made for another base model: other shapes (the PEFT golden adapter of a hidden-16
     * model), or other keys (one tensor missing, one unexpected). {@code train --init-adapter} and
     * {@code eval --adapter} refuse it, listing the mismatching keys.
     */
    @Test
    void adapterForAnotherBaseModel() throws IOException {
        Path other = SharedDataPaths.peftGolden("lora_qv");
        assertCleanError(refused("shapes", train(TrainCli.DATA, "--init-adapter", other.toString())), "adapter_model.safetensors",
                "does not match the base model", "shape mismatches",
                "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight is [4, 16], expected [4, 32]");

        PeftAdapter.Tensor any = PeftAdapter.load(TrainCli.GOLDEN.resolve("init_lora")).tensors().values().iterator().next();
        Path keys = editedAdapter("keys", (k, t) -> k.contains("layers.1.mlp.up_proj.lora_B") ? null : t,
                Map.of("base_model.model.model.layers.7.self_attn.q_proj.lora_A.weight", any));
        assertCleanError(refused("keys", train(TrainCli.DATA, "--init-adapter", keys.toString())),
                "1 missing keys [base_model.model.model.layers.1.mlp.up_proj.lora_B.weight]",
                "1 unexpected keys [base_model.model.model.layers.7.self_attn.q_proj.lora_A.weight]");

        for (Path a : List.of(other, keys)) {
            CliRunner e = CliRunner.run("eval", "--model", TrainCli.MODEL.toString(), "--data", TrainCli.DATA.toString(), "--adapter", a.toString());
            assertCleanError(new TrainCli.Run(e.code(), e.out(), e.err(), ""), "does not match the base model");
        }
    }

    /**
     * NaN during training: from an adapter with nonzero A and B, lr 1e30 after a linear warmup of 2
     * steps (lr 0, then 5e29) makes the third step's loss NaN. The run stops before applying it and
     * names the step and the last good checkpoint: checkpoint-1, whose weights step 2 found finite —
     * not checkpoint-2, which holds the weights that gave the NaN (the message says so). Both are
     * kept; checkpoint-1 is finite and usable ({@code eval --adapter} gives a finite loss), and no
     * adapter is written into --output; metrics.jsonl ends with status stopped_non_finite. The same
     * for full fine-tuning (no model.safetensors), and for a poisoned adapter (NaN in lora_A) that is
     * non-finite from the first step, before any checkpoint.
     */
    @Test
    void nonFiniteTrainingStopsAndKeepsTheLastGoodCheckpoint() throws IOException {
        String[] blowUp = {"--steps", "6", "--save-every", "1", "--keep-checkpoints", "0", "--grad-clip", "0", "--lr", "1e30",
                "--schedule", "linear", "--warmup", "2"};
        Path out = tmp.resolve("nan-lora");
        TrainCli.Run r = TrainCli.run(TrainCommandTest.concat(train(TrainCli.DATA, blowUp), "--init-adapter",
                TrainCli.GOLDEN.resolve("init_lora").toString(), "--output", out.toString()));
        assertCleanError(r, "training stopped at step 3", "the loss is NaN", "the update was not applied",
                "the last good checkpoint is " + out.toAbsolutePath().resolve("checkpoint-1"),
                "(checkpoint-2 holds the weights that gave it)", "hint: lower --lr");
        assertThat(out.resolve(PeftAdapter.WEIGHTS_FILE)).doesNotExist();
        assertThat(out.resolve(PeftAdapter.CONFIG_FILE)).doesNotExist();
        assertThat(out.resolve("checkpoint-3")).doesNotExist();
        for (PeftAdapter.Tensor t : PeftAdapter.load(out.resolve("checkpoint-1")).tensors().values()) {
            for (float v : t.data()) assertThat(Float.isFinite(v)).isTrue();
        }
        List<String> rows = Files.readAllLines(out.resolve("metrics.jsonl"));
        assertThat(rows.getLast()).contains("\"status\":\"stopped_non_finite\"");
        for (String ck : new String[]{"checkpoint-1", "checkpoint-2"}) {
            CliRunner e = CliRunner.run("eval", "--model", TrainCli.MODEL.toString(), "--data", TrainCli.DATA.toString(),
                    "--adapter", out.resolve(ck).toString(), "--json");
            assertThat(e.code()).as(e.err()).isZero();
            double loss = new ObjectMapper().readTree(e.out()).get("loss").asDouble(Double.NaN);
            assertThat(Double.isFinite(loss)).as(ck + " loss " + e.out()).isEqualTo(ck.equals("checkpoint-1"));
        }

        Path full = tmp.resolve("nan-full");
        TrainCli.Run f = TrainCli.run(TrainCommandTest.concat(train(TrainCli.DATA, blowUp), "--method", "full", "--output", full.toString()));
        assertCleanError(f, "training stopped at step 3", "NaN", "the last good checkpoint is " + full.toAbsolutePath().resolve("checkpoint-1"));
        assertThat(full.resolve("model.safetensors")).doesNotExist();
        assertThat(full.resolve("checkpoint-1/trainable.safetensors")).exists();

        Path poisoned = editedAdapter("poisoned", (k, t) -> {
            if (!k.contains("layers.0.self_attn.q_proj.lora_A")) return t;
            float[] d = t.data().clone();
            d[3] = Float.NaN;
            return new PeftAdapter.Tensor(t.dtype(), t.shape(), d);
        }, Map.of());
        Path p = tmp.resolve("nan-poisoned");
        TrainCli.Run q = TrainCli.run(TrainCommandTest.concat(train(TrainCli.DATA, "--save-every", "1",
                "--init-adapter", poisoned.toString()), "--output", p.toString()));
        assertCleanError(q, "training stopped at step 1", "NaN", "no checkpoint was written");
        assertThat(p.resolve(PeftAdapter.WEIGHTS_FILE)).doesNotExist();
        try (var files = Files.list(p)) {
            assertThat(files.map(x -> x.getFileName().toString()).toList()).doesNotContain("checkpoint-1");
        }
    }

    /** Paths of test resources committed by other goldens. */
    static final class SharedDataPaths {
        static Path peftGolden(String name) {
            return finetune4j.testing.SharedData.repoRoot().resolve("core/src/test/resources/finetune4j/peft").resolve(name);
        }
    }
}
