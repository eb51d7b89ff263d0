package finetune4j.train;

import finetune4j.FineTune;
import finetune4j.batch.Batch;
import finetune4j.batch.Tokenized;
import finetune4j.data.Example;
import finetune4j.data.SyntheticStories;
import finetune4j.model.LlamaModel;
import finetune4j.model.TrainingBuffers;
import finetune4j.peft.LoraConfig;
import finetune4j.peft.PeftAdapter;
import finetune4j.testing.SharedData;
import finetune4j.text.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * LoRA fine-tuning of the real stories260K (../shared/data) on a small text made in the test
 * ({@link SyntheticStories}: short stories with a fixed plot, new to the model) lowers the loss on
 * held-out stories of the same kind by a clear margin, and the saved adapter, attached to a fresh
 * copy of the model, reproduces the validation loss the trainer reported.
 */
class Stories260KLoraTest {
    static List<Example> stories(long seed, int n) {
        SyntheticStories g = new SyntheticStories(seed);
        List<Example> out = new ArrayList<>();
        for (int i = 0; i < n; i++) out.add(new Example.Text("stories:" + seed + ":" + i, g.next().text()));
        return out;
    }

    static double evaluate(LlamaModel m, List<Tokenized> valid) {
        int maxT = valid.stream().mapToInt(Tokenized::length).max().orElseThrow();
        return Trainer.evaluate(m, TrainingBuffers.allocate(m.config(), 4, maxT, false), new Batch(4, maxT), valid, 4)[0];
    }

    @Test
    void loraLowersValidationLoss(@TempDir Path tmp) {
        Path dir = SharedData.require("models/stories260K/hf");
        Tokenizer tok = Tokenizer.load(dir);
        List<Example> train = stories(1, 64), valid = stories(2, 16);
        Path out = tmp.resolve("out");
        TrainConfig cfg = TrainConfig.builder().steps(24).batchSize(4).lr(5e-3).maxSeqLen(256).seed(3)
                .schedule(LrSchedule.Kind.COSINE).warmup(2).evalEvery(12).output(out).build();
        LoraConfig lora = LoraConfig.builder().r(8).loraAlpha(16).loraDropout(0.05)
                .targetModules(LoraConfig.Targets.parse("all-linear")).build();
        double before, after;
        TrainRuns.Recorder rec = new TrainRuns.Recorder();
        try (LlamaModel m = LlamaModel.load(dir)) {
            FineTune ft = FineTune.lora(m, tok, lora).trainData(train).validData(valid).config(cfg).eosId(FineTune.eosId(dir, tok));
            List<Tokenized> validTok = ft.tokenize(valid);
            before = evaluate(m, validTok);
            ft.run(rec);
        }
        assertThat(rec.evals).hasSize(2);
        after = rec.evals.getLast().valLoss();
        System.out.printf("stories260K LoRA r=8 all-linear, 24 steps × 4 stories: val loss %.4f -> %.4f (step 12: %.4f); train loss %.4f -> %.4f%n",
                before, after, rec.evals.getFirst().valLoss(), rec.steps.getFirst().loss(), rec.steps.getLast().loss());
        assertThat(after).as("validation loss after training").isLessThan(before - 0.3);
        assertThat(after).isLessThan(0.8 * before);

        // the adapter written to --output reproduces the reported loss on a fresh model
        try (LlamaModel m = LlamaModel.load(dir)) {
            finetune4j.peft.LoraAdapter.attach(m, PeftAdapter.load(out), 0, 1f);
            FineTune ft = FineTune.full(m, tok, List.of()).config(cfg).eosId(FineTune.eosId(dir, tok));
            double reloaded = evaluate(m, ft.tokenize(valid));
            assertThat(reloaded).isCloseTo(after, org.assertj.core.data.Offset.offset(1e-5 * after));
        }
    }
}
