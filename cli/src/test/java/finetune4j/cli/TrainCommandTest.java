package finetune4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import finetune4j.peft.PeftAdapter;
import finetune4j.testing.Numerics;
import finetune4j.testing.Numerics.Tol;
import finetune4j.testing.SharedData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The {@code train} and {@code eval} commands end to end, in process, on the committed tiny model
 * ({@link TrainCli}): what {@code train} prints and writes, the YAML config with flags overriding
 * it, PyTorch + PEFT step-for-step parity through the CLI flags, a resume through {@code --resume},
 * and {@code eval} against transformers' loss on the real stories260K.
 */
class TrainCommandTest {
    static final ObjectMapper JSON = new ObjectMapper();

    static List<JsonNode> metrics(Path out) throws IOException {
        List<JsonNode> rows = new ArrayList<>();
        for (String line : Files.readAllLines(out.resolve("metrics.jsonl"))) rows.add(JSON.readTree(line));
        return rows;
    }

    static List<JsonNode> events(List<JsonNode> rows, String kind) {
        return rows.stream().filter(r -> r.get("event").asText().equals(kind)).toList();
    }

    /**
     * Not on a terminal (as here), {@code train} prints the trainable-parameter summary, a plain
     * progress line (step, loss, lr, grad norm, tokens/s, elapsed, ETA) at the first step, every 10
     * steps and the last, each evaluation and checkpoint, and the end; on stderr PEFT's
     * {@code print_trainable_parameters()} line and where the adapter went; with {@code --json} one
     * JSON summary. The output directory holds the PEFT adapter, {@code metrics.jsonl} (a start row,
     * one row per step, eval and checkpoint rows, an end row) and a self-contained {@code report.html}.
     */
    @Test
    void trainPrintsProgressAndWritesAdapterMetricsAndReport(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("out");
        TrainCli.Run r = TrainCli.run(TrainCli.train("--steps", "12", "--target", "all-linear", "--rank", "4", "--alpha", "8",
                "--lr", "1e-2", "--valid-data", TrainCli.DATA.toString(), "--eval-every", "6", "--save-every", "5",
                "--output", out.toString(), "--json"));
        assertThat(r.code()).as(r.err() + r.console()).isZero();

        List<String> console = r.console().lines().toList();
        assertThat(console.getFirst()).isEqualTo("training 12 steps: 4,096 trainable parameters of 28,832 (14.21%)");
        List<String> progress = console.stream().filter(l -> l.startsWith("step ")).toList();
        assertThat(progress).hasSize(3);
        String num = "[0-9.e+-]+";
        for (int i = 0; i < 3; i++) {
            int step = new int[]{1, 11, 12}[i];
            assertThat(progress.get(i)).matches("step " + step + "/12 loss " + num + " lr 1\\.0e-2 grad_norm " + num + " \\d+ tok/s"
                    + " elapsed \\d+:\\d\\d ETA \\d+:\\d\\d");
        }
        assertThat(console).anySatisfy(l -> assertThat(l).matches("eval step 6: val_loss " + num + " val_ppl " + num + " \\(\\d+ tokens\\)"));
        assertThat(console).anySatisfy(l -> assertThat(l).startsWith("checkpoint step 10: "));
        assertThat(console.getLast()).startsWith("completed at step 12/12 after ");
        assertThat(r.err()).contains("trainable params: 4,096 || all params: 28,832 || trainable%: 14.2064")
                .contains("saved adapter to " + out.toAbsolutePath());

        JsonNode j = JSON.readTree(r.out());
        assertThat(j.get("steps").asLong()).isEqualTo(12);
        assertThat(j.get("trainable_params").asLong()).isEqualTo(4096);
        assertThat(j.get("method").asText()).isEqualTo("lora");
        assertThat(j.get("val_loss").asDouble()).isPositive();

        List<JsonNode> rows = metrics(out);
        assertThat(rows.getFirst().get("event").asText()).isEqualTo("start");
        assertThat(rows.getFirst().get("total_steps").asLong()).isEqualTo(12);
        assertThat(rows.getFirst().get("trainable_params").asLong()).isEqualTo(4096);
        List<JsonNode> train = events(rows, "train");
        assertThat(train).hasSize(12);
        for (int i = 0; i < 12; i++) {
            JsonNode t = train.get(i);
            assertThat(t.get("step").asLong()).isEqualTo(i + 1);
            for (String k : new String[]{"epoch", "loss", "lr", "grad_norm", "tokens", "tokens_per_s", "elapsed_s"}) {
                assertThat(t.get(k)).as(k).isNotNull();
                assertThat(t.get(k).isNumber()).as(k).isTrue();
            }
        }
        assertThat(train.getLast().get("loss").asDouble()).isLessThan(train.getFirst().get("loss").asDouble());
        assertThat(events(rows, "eval")).extracting(e -> e.get("step").asLong()).containsExactly(6L, 12L);
        assertThat(events(rows, "eval").getLast().get("val_loss").asDouble()).isEqualTo(j.get("val_loss").asDouble(),
                org.assertj.core.data.Offset.offset(1e-6));
        assertThat(events(rows, "checkpoint")).extracting(e -> e.get("step").asLong()).containsExactly(5L, 10L);
        assertThat(rows.getLast().get("event").asText()).isEqualTo("end");
        assertThat(rows.getLast().get("status").asText()).isEqualTo("completed");

        String html = Files.readString(out.resolve("report.html"));
        assertThat(html).startsWith("<!DOCTYPE html>").contains("<svg").doesNotContain("<script src=").doesNotContain("href=\"http");
        assertThat(PeftAdapter.load(out).config().r()).isEqualTo(4);
        assertThat(out.resolve("checkpoint-10/adapter_model.safetensors")).exists();
    }

    /**
     * {@code --config file.yaml} sets options (keys named like the flags, {@code _} or {@code -});
     * flags given on the command line win; an unknown key is an error listing the known ones.
     */
    @Test
    void yamlConfigWithFlagsOverriding(@TempDir Path tmp) throws IOException {
        Path yaml = tmp.resolve("train.yaml");
        Files.writeString(yaml, """
                steps: 5
                lr: 0.003
                rank: 2
                alpha: 4
                target: [q_proj, down_proj]
                max_seq_len: 48
                no-shuffle: true
                """);
        Path out = tmp.resolve("out");
        TrainCli.Run r = TrainCli.run(TrainCli.train("--config", yaml.toString(), "--steps", "3", "--output", out.toString()));
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode start = metrics(out).getFirst();
        assertThat(start.get("total_steps").asLong()).as("--steps 3 overrides steps: 5").isEqualTo(3);
        assertThat(start.get("config").get("lr").asText()).isEqualTo("0.003");
        assertThat(start.get("config").get("max_seq_len").asText()).isEqualTo("48");
        assertThat(events(metrics(out), "train")).hasSize(3).allSatisfy(t -> assertThat(t.get("lr").asDouble()).isEqualTo(0.003));
        PeftAdapter a = PeftAdapter.load(out);
        assertThat(a.config().r()).isEqualTo(2);
        assertThat(a.config().loraAlpha()).isEqualTo(4.0);
        assertThat(a.tensors().keySet()).hasSize(8).allSatisfy(k -> assertThat(k).containsAnyOf(".q_proj.", ".down_proj."));

        Files.writeString(yaml, "steps: 5\nlearning_rate: 0.1\n");
        TrainCli.Run bad = TrainCli.run(TrainCli.train("--config", yaml.toString(), "--output", tmp.resolve("bad").toString()));
        assertThat(bad.code()).isEqualTo(1);
        assertThat(bad.err()).startsWith("error: ").contains("learning_rate").contains("known keys").contains("lr");
        assertThat(tmp.resolve("bad")).doesNotExist();
    }

    /**
     * The CLI form of the PyTorch + PEFT parity run ({@code tools/golden/train_steps_reference.py}):
     * {@code train --init-adapter DIR --no-shuffle --dropout 0 --schedule constant --grad-clip 0}
     * with 2 × 2 micro-batches (and an adapter config saying lora_dropout 0.3, which --dropout 0
     * overrides) gives the reference's per-step losses (metrics.jsonl keeps 7
     * digits: 1e-5 relative; measured ≤ 2e-7) and final adapter ({@code 1e-5 + 1e-4·|w|}).
     */
    @ParameterizedTest
    @ValueSource(strings = {"lora_accum2", "dora_accum2"})
    void initAdapterRunMatchesPytorchStepForStep(String run, @TempDir Path tmp) throws IOException {
        JsonNode manifest = JSON.readTree(TrainCli.GOLDEN.resolve("manifest.json").toFile());
        JsonNode ref = manifest.get("runs").get(run);
        Path out = tmp.resolve("out");
        // the same adapter saved with lora_dropout 0.3: --dropout 0 overrides it (dropout is a
        // training setting; the adapter's config fixes only method, rank, alpha and targets)
        Path init = tmp.resolve("init");
        copyTree(TrainCli.GOLDEN.resolve(ref.get("init").asText()), init);
        String cfg = Files.readString(init.resolve(PeftAdapter.CONFIG_FILE));
        assertThat(cfg).contains("\"lora_dropout\": 0.0");
        Files.writeString(init.resolve(PeftAdapter.CONFIG_FILE), cfg.replace("\"lora_dropout\": 0.0", "\"lora_dropout\": 0.3"));
        TrainCli.Run r = TrainCli.run(TrainCli.train("--init-adapter", init.toString(),
                "--no-shuffle", "--dropout", "0", "--schedule", "constant", "--grad-clip", "0", "--lr", "0.01",
                "--steps", "5", "--grad-accum", "2", "--output", out.toString()));
        assertThat(r.code()).as(r.err()).isZero();
        List<JsonNode> train = events(metrics(out), "train");
        double[] got = train.stream().mapToDouble(t -> t.get("loss").asDouble()).toArray();
        double[] want = new double[ref.get("losses").size()];
        for (int i = 0; i < want.length; i++) want[i] = ref.get("losses").get(i).asDouble();
        Numerics.assertClose(run + " CLI per-step loss", got, want, Tol.abs(0).rel(1e-5));
        Map<String, PeftAdapter.Tensor> g = PeftAdapter.load(out).tensors(), w = PeftAdapter.load(TrainCli.GOLDEN.resolve(run)).tensors();
        assertThat(g.keySet()).isEqualTo(w.keySet());
        for (String k : w.keySet()) Numerics.assertClose(run + " CLI final " + k, g.get(k).data(), w.get(k).data(), Tol.abs(1e-5).rel(1e-4));
        assertThat(PeftAdapter.load(out).config().useDora()).isEqualTo(run.startsWith("dora"));
    }

    /**
     * A run killed after checkpoint-3 (simulated: the checkpoint and the metrics of a complete run
     * copied into a fresh directory) and continued with {@code --resume DIR} writes the same final
     * bytes as the run that was not interrupted, and its metrics.jsonl reads as one run: LoRA with
     * dropout and shuffling, and full fine-tuning.
     */
    @ParameterizedTest
    @ValueSource(strings = {"lora", "full"})
    void resumeThroughTheCliEqualsTheUninterruptedRun(String method, @TempDir Path tmp) throws IOException {
        Path whole = tmp.resolve("whole"), cut = tmp.resolve("cut");
        String[] common = {"--method", method, "--target", method.equals("lora") ? "all-linear" : ".*", "--dropout",
                method.equals("lora") ? "0.1" : "0", "--steps", "6", "--grad-accum", "2", "--save-every", "3", "--lr", "3e-3",
                "--schedule", "cosine", "--warmup", "1", "--seed", "5"};
        TrainCli.Run a = TrainCli.run(concat(TrainCli.train(common), "--output", whole.toString()));
        assertThat(a.code()).as(a.err()).isZero();

        copyTree(whole.resolve("checkpoint-3"), cut.resolve("checkpoint-3"));
        Files.copy(whole.resolve("metrics.jsonl"), cut.resolve("metrics.jsonl"));
        TrainCli.Run b = TrainCli.run(concat(TrainCli.train(common), "--output", cut.toString(), "--resume", cut.toString()));
        assertThat(b.code()).as(b.err()).isZero();
        assertThat(b.console()).contains("training 6 steps (resuming at step 3)");

        String file = method.equals("full") ? "model.safetensors" : "adapter_model.safetensors";
        assertThat(Files.readAllBytes(cut.resolve(file))).as(method + " " + file).isEqualTo(Files.readAllBytes(whole.resolve(file)));
        List<JsonNode> rows = metrics(cut);
        assertThat(events(rows, "train")).extracting(t -> t.get("step").asLong()).containsExactly(1L, 2L, 3L, 4L, 5L, 6L);
        List<JsonNode> wholeTrain = events(metrics(whole), "train");
        for (int i = 0; i < 6; i++) {
            assertThat(events(rows, "train").get(i).get("loss")).isEqualTo(wholeTrain.get(i).get("loss"));
        }
    }

    /**
     * {@code eval --json} on the real stories260K and a committed dataset (text and
     * prompt/completion records) agrees with transformers' {@code LlamaForCausalLM(..., labels=...)}
     * loss ({@code tools/golden/eval_reference.py}) within 1e-4 relative (measured: 1.2e-7), over the
     * same 345 target tokens.
     */
    @Test
    void evalAgreesWithTransformers() throws IOException {
        Path model = SharedData.require("models/stories260K/hf");
        Path golden = SharedData.repoRoot().resolve("core/src/test/resources/golden/eval");
        JsonNode want = JSON.readTree(golden.resolve("stories260k_eval.json").toFile());
        for (String batch : new String[]{"4", "3"}) {
            CliRunner r = CliRunner.run("eval", "--model", model.toString(), "--data", golden.resolve("stories_eval.jsonl").toString(),
                    "--batch-size", batch, "--json");
            assertThat(r.code()).as(r.err()).isZero();
            JsonNode got = JSON.readTree(r.out());
            assertThat(got.get("tokens").asLong()).isEqualTo(want.get("tokens").asLong());
            double rel = Math.abs(got.get("loss").asDouble() - want.get("loss").asDouble()) / want.get("loss").asDouble();
            System.out.printf("eval stories260K (batch %s): loss %.9f vs transformers %.9f, rel %.2e%n", batch,
                    got.get("loss").asDouble(), want.get("loss").asDouble(), rel);
            assertThat(rel).isLessThan(1e-4);
            assertThat(got.get("perplexity").asDouble()).isCloseTo(Math.exp(got.get("loss").asDouble()),
                    org.assertj.core.data.Offset.offset(1e-9));
        }
    }

    static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    static void copyTree(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        try (var s = Files.list(from)) {
            for (Path p : (Iterable<Path>) s::iterator) Files.copy(p, to.resolve(p.getFileName()));
        }
    }
}
