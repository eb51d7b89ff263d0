package finetune4j.train;

import finetune4j.FineTune;
import finetune4j.batch.Batch;
import finetune4j.batch.Tokenized;
import finetune4j.engine.tensor.NamedParam;
import finetune4j.model.LlamaModel;
import finetune4j.model.TrainingBuffers;
import finetune4j.peft.LoraAdapter;
import finetune4j.peft.LoraConfig;
import finetune4j.peft.PeftAdapter;
import finetune4j.testing.Numerics;
import finetune4j.testing.Numerics.Tol;
import finetune4j.text.Tokenizer;
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
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Invariants of whole training runs through {@link FineTune} on the committed tiny model
 * ({@code golden/train_steps}: 8 records of 6 to 47 tokens, so micro-batches hold very different
 * numbers of targets):
 * <ul>
 *   <li>token-weighted accumulation: 2 sequences × 4 micro-batches per step train the same adapter
 *   as 8 × 1, and a naive mean of per-micro-batch means would not;</li>
 *   <li>a run interrupted after a checkpoint and resumed from it writes the same adapter (or model)
 *   bytes as an uninterrupted run, with dropout and shuffling on (LoRA, DoRA, full).</li>
 * </ul>
 */
class TrainerInvariantsTest {

    static TrainConfig.Builder base(Path out) {
        return TrainConfig.builder().batchSize(2).gradAccum(1).lr(1e-2).maxSeqLen(64).seed(7).shuffle(true)
                .schedule(LrSchedule.Kind.COSINE).gradClip(1.0).output(out);
    }

    /**
     * Four optimizer steps (shuffled, cosine schedule, clipping on) with 2 × 4 and with 8 × 1
     * give the same per-step losses and final adapter. Every step is one epoch (8 records) in
     * both layouts, so the steps see the same sequences; only the split into micro-batches (and
     * each micro-batch's padding) differs. Tolerance: losses 1e-6 relative, weights
     * {@code 1e-5 + 1e-4·|w|}, a thousandth of the LR of 1e-2 that Adam moves a weight by per
     * step (measured: 7e-10 and 3.4e-7). The result is float-exact only up to summation order,
     * since the 8 × 1 batch sums each weight gradient over 8 rows at once.
     */
    @Test
    void gradAccum2x4Equals8x1(@TempDir Path tmp) {
        LoraConfig lora = LoraConfig.builder().r(4).loraAlpha(8).targetModules(List.of("q_proj", "v_proj", "down_proj")).build();
        TrainRuns.Recipe recipe = (m, t) -> FineTune.lora(m, t, lora);
        TrainRuns.Recorder a = TrainRuns.run(TrainRuns.MODEL, TrainRuns.DATA,
                base(tmp.resolve("2x4")).steps(4).batchSize(2).gradAccum(4).build(), recipe, ft -> ft);
        TrainRuns.Recorder b = TrainRuns.run(TrainRuns.MODEL, TrainRuns.DATA,
                base(tmp.resolve("8x1")).steps(4).batchSize(8).gradAccum(1).build(), recipe, ft -> ft);
        System.out.printf("2x4 losses %s%n8x1 losses %s%n", java.util.Arrays.toString(a.losses()), java.util.Arrays.toString(b.losses()));
        Numerics.assertClose("2x4 vs 8x1 per-step loss", a.losses(), b.losses(), Tol.abs(0).rel(1e-6));
        double d = assertSameAdapter("2x4 vs 8x1", tmp.resolve("2x4"), tmp.resolve("8x1"), Tol.abs(1e-5).rel(1e-4));
        System.out.printf("2x4 vs 8x1: final adapter max|Δ| %.2e%n", d);
        for (int i = 0; i < 4; i++) {
            assertThat(a.steps.get(i).tokens()).as("tokens of step " + (i + 1)).isEqualTo(b.steps.get(i).tokens());
        }
    }

    /**
     * The gradient of one step over the 8 records: one batch of 8, four micro-batches of 2 with
     * token weighting (each summed cross-entropy scaled by 1/N of the whole step), and the naive
     * mean of the four micro-batch means. The first two agree to float rounding; the naive one is
     * off by a large fraction of the gradient, because the micro-batches (the records sorted by length,
     * taken in pairs) hold very different numbers of targets.
     */
    @Test
    void naivePerMicroBatchMeanDiffers() {
        Tokenizer tok = Tokenizer.load(TrainRuns.MODEL);
        try (LlamaModel m = LlamaModel.load(TrainRuns.MODEL)) {
            FineTune ft = FineTune.full(m, tok, List.of(".*")).config(base(Path.of("unused")).steps(1).build())
                    .eosId(FineTune.eosId(TrainRuns.MODEL, tok));
            // shortest records together, longest together: micro-batches of very different target counts
            List<Tokenized> data = new ArrayList<>(ft.tokenize(FineTune.readExamples(TrainRuns.DATA)));
            data.sort(java.util.Comparator.comparingInt(Tokenized::targetTokens));
            LoraAdapter lora = LoraAdapter.attach(m, PeftAdapter.load(TrainRuns.GOLDEN.resolve("init_lora")), 0, 1f);
            lora.setTraining(true);
            List<NamedParam> params = lora.trainableParameters();
            int maxT = data.stream().mapToInt(Tokenized::length).max().orElseThrow();
            TrainingBuffers buf = TrainingBuffers.allocate(m.config(), 8, maxT, false);
            Batch batch = new Batch(8, maxT);
            int pad = 2;

            batch.fill(data.toArray(new Tokenized[0]), 8, pad);
            long n = batch.targetTokens();
            zero(params);
            m.forwardBackward(buf, batch.ids, batch.labels, batch.b(), batch.t(), (float) (1.0 / n));
            float[] whole = flat(params);

            long[] perMicro = new long[4];
            zero(params);
            for (int i = 0; i < 4; i++) {
                batch.fill(data.subList(2 * i, 2 * i + 2).toArray(new Tokenized[0]), 2, pad);
                perMicro[i] = batch.targetTokens();
                m.forwardBackward(buf, batch.ids, batch.labels, batch.b(), batch.t(), (float) (1.0 / n));
            }
            float[] weighted = flat(params);

            zero(params);
            for (int i = 0; i < 4; i++) {
                batch.fill(data.subList(2 * i, 2 * i + 2).toArray(new Tokenized[0]), 2, pad);
                m.forwardBackward(buf, batch.ids, batch.labels, batch.b(), batch.t(), (float) (1.0 / (4.0 * batch.targetTokens())));
            }
            float[] naive = flat(params);
            lora.setTraining(false);

            double norm = norm(whole, null);
            double relWeighted = norm(weighted, whole) / norm, relNaive = norm(naive, whole) / norm;
            System.out.printf("targets per micro-batch %s of %d; ‖g_2x4 − g_8x1‖/‖g_8x1‖ = %.2e (token-weighted), %.2e (naive mean)%n",
                    java.util.Arrays.toString(perMicro), n, relWeighted, relNaive);
            assertThat(java.util.Arrays.stream(perMicro).max().orElseThrow())
                    .as("micro-batches with very different target counts").isGreaterThan(2 * java.util.Arrays.stream(perMicro).min().orElseThrow());
            Numerics.assertClose("token-weighted 2x4 gradient vs 8x1", weighted, whole, Tol.abs(1e-7).rel(1e-4));
            assertThat(relWeighted).isLessThan(1e-5);
            assertThat(relNaive).as("the naive mean is a different gradient").isGreaterThan(0.05);
        }
    }

    private static void zero(List<NamedParam> ps) {
        for (NamedParam p : ps) java.util.Arrays.fill(p.grad(), 0f);
    }

    private static float[] flat(List<NamedParam> ps) {
        int n = 0;
        for (NamedParam p : ps) n += p.numel();
        float[] out = new float[n];
        int o = 0;
        for (NamedParam p : ps) {
            System.arraycopy(p.grad(), 0, out, o, p.numel());
            o += p.numel();
        }
        return out;
    }

    private static double norm(float[] a, float[] minus) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            double d = a[i] - (minus == null ? 0 : minus[i]);
            s += d * d;
        }
        return Math.sqrt(s);
    }

    /** Every tensor of two PEFT adapter directories within {@code tol}; returns the largest difference. */
    static double assertSameAdapter(String what, Path got, Path want, Tol tol) {
        Map<String, PeftAdapter.Tensor> g = PeftAdapter.load(got).tensors(), w = PeftAdapter.load(want).tensors();
        assertThat(g.keySet()).isEqualTo(w.keySet());
        double max = 0;
        for (String k : w.keySet()) {
            float[] a = g.get(k).data(), b = w.get(k).data();
            for (int i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
            Numerics.assertClose(what + " " + k, a, b, tol);
        }
        return max;
    }

    /**
     * Validation runs as inference does (torch's {@code model.eval()}): with LoRA dropout 0.3 in
     * training, the validation loss the trainer reports at the end equals the loss of the saved
     * adapter attached to a fresh model, to float rounding (measured: identical to 1e-16). Before
     * the fix, the validation pass applied the training dropout and reported a different loss.
     */
    @Test
    void validationRunsWithoutDropout(@TempDir Path tmp) {
        LoraConfig lora = LoraConfig.builder().r(4).loraAlpha(8).loraDropout(0.3)
                .targetModules(LoraConfig.Targets.parse("all-linear")).build();
        Path out = tmp.resolve("out");
        List<finetune4j.data.Example> examples = FineTune.readExamples(TrainRuns.DATA);
        TrainRuns.Recorder rec = TrainRuns.run(TrainRuns.MODEL, TrainRuns.DATA, base(out).steps(4).evalEvery(2).build(),
                (m, t) -> FineTune.lora(m, t, lora), ft -> ft.validData(examples));
        assertThat(rec.evals).hasSize(2);
        double reported = rec.evals.getLast().valLoss();
        Tokenizer tok = Tokenizer.load(TrainRuns.MODEL);
        try (LlamaModel m = LlamaModel.load(TrainRuns.MODEL)) {
            LoraAdapter.attach(m, PeftAdapter.load(out), 0, 1f);
            FineTune ft = FineTune.full(m, tok, List.of()).config(base(out).build()).eosId(FineTune.eosId(TrainRuns.MODEL, tok));
            List<Tokenized> valid = ft.tokenize(examples);
            int maxT = valid.stream().mapToInt(Tokenized::length).max().orElseThrow();
            double fresh = Trainer.evaluate(m, TrainingBuffers.allocate(m.config(), 2, maxT, false), new Batch(2, maxT), valid, 2)[0];
            System.out.printf("validation loss reported %.9f, saved adapter on a fresh model %.9f%n", reported, fresh);
            assertThat(reported).isCloseTo(fresh, org.assertj.core.data.Offset.offset(1e-6 * fresh));
        }
    }

    // ------------------------------------------------------------------ resume

    /**
     * Six steps with a checkpoint every 3, interrupted right after checkpoint-3 (a listener
     * interrupts the training thread, which the trainer honours after the step) and resumed from
     * it into the same output directory, write the same bytes as six uninterrupted steps: with
     * LoRA dropout 0.1 (masks keyed by step and micro-batch), shuffling (permutation per epoch; the
     * checkpoint falls in the middle of the second epoch), 2 micro-batches per step, a cosine
     * schedule with warmup and clipping; for LoRA, DoRA and full fine-tuning of every weight.
     */
    @ParameterizedTest
    @ValueSource(strings = {"lora", "dora", "full"})
    void resumeEqualsUninterrupted(String method, @TempDir Path tmp) throws IOException {
        TrainRuns.Recipe recipe = switch (method) {
            case "full" -> (m, t) -> FineTune.full(m, t, List.of(".*"));
            default -> {
                LoraConfig c = LoraConfig.builder().r(4).loraAlpha(8).loraDropout(0.1).useDora(method.equals("dora"))
                        .targetModules(LoraConfig.Targets.parse("all-linear")).build();
                yield (m, t) -> FineTune.lora(m, t, c);
            }
        };
        Path whole = tmp.resolve("whole"), parts = tmp.resolve("parts");
        TrainConfig.Builder cfg = base(null).steps(6).gradAccum(2).saveEvery(3).keepCheckpoints(0).lr(3e-3);

        TrainRuns.Recorder w = TrainRuns.run(TrainRuns.MODEL, TrainRuns.DATA, cfg.output(whole).build(), recipe, ft -> ft);
        assertThat(w.end.status()).isEqualTo(TrainListener.Status.COMPLETED);

        TrainRuns.Recorder cut = new TrainRuns.Recorder() {
            @Override
            public void onCheckpoint(long step, Path dir) {
                super.onCheckpoint(step, dir);
                if (step == 3) Thread.currentThread().interrupt();
            }
        };
        try {
            runWith(cfg.output(parts).build(), recipe, cut, null);
        } finally {
            assertThat(Thread.interrupted()).as("the trainer leaves the interrupt flag set").isTrue();
        }
        assertThat(cut.end.status()).isEqualTo(TrainListener.Status.INTERRUPTED);
        assertThat(cut.steps).hasSize(3);
        String finalFile = method.equals("full") ? "model.safetensors" : PeftAdapter.WEIGHTS_FILE;
        assertThat(parts.resolve(finalFile)).as("no final output after the interruption").doesNotExist();

        TrainRuns.Recorder rest = new TrainRuns.Recorder();
        runWith(cfg.output(parts).build(), recipe, rest, parts.resolve("checkpoint-3"));
        assertThat(rest.start.startStep()).isEqualTo(3);
        assertThat(rest.steps).hasSize(3);
        assertThat(rest.end.status()).isEqualTo(TrainListener.Status.COMPLETED);

        double[] resumed = Stream.concat(cut.steps.stream(), rest.steps.stream()).mapToDouble(TrainListener.StepMetrics::loss).toArray();
        assertThat(resumed).as("per-step losses, bit for bit").containsExactly(w.losses());
        List<String> files = new ArrayList<>(List.of(finalFile, method.equals("full") ? "config.json" : PeftAdapter.CONFIG_FILE));
        for (String f : files) {
            assertThat(Files.readAllBytes(parts.resolve(f))).as(method + " " + f + " bytes").isEqualTo(Files.readAllBytes(whole.resolve(f)));
        }
    }

    private static void runWith(TrainConfig cfg, TrainRuns.Recipe recipe, TrainListener listener, Path resume) {
        Tokenizer tok = Tokenizer.load(TrainRuns.MODEL);
        try (LlamaModel model = LlamaModel.load(TrainRuns.MODEL)) {
            FineTune ft = recipe.make(model, tok).trainData(FineTune.readExamples(TrainRuns.DATA)).config(cfg)
                    .eosId(FineTune.eosId(TrainRuns.MODEL, tok));
            if (resume != null) ft.resume(resume);
            ft.run(listener);
        }
    }
}
