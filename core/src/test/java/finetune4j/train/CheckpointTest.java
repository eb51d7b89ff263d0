package finetune4j.train;

import finetune4j.ConfigException;
import finetune4j.ModelFormatException;
import finetune4j.engine.io.SafetensorsFile;
import finetune4j.engine.tensor.NamedParam;
import finetune4j.peft.LoraConfig;
import finetune4j.peft.PeftAdapter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Checkpoints: atomic write, retention, bit-exact resume of the optimizer, and clear errors on bad directories. */
class CheckpointTest {
    private static final LoraConfig CONFIG = LoraConfig.builder().r(2).loraAlpha(4).targetModules(List.of("q_proj"))
            .taskType("CAUSAL_LM").build();

    static List<NamedParam> params() {
        return new ArrayList<>(List.of(NamedParam.zeros("model.layers.0.self_attn.q_proj.lora_A.weight", 2, 8),
                NamedParam.zeros("model.layers.0.self_attn.q_proj.lora_B.weight", 8, 2)));
    }

    /** Deterministic pseudo-gradients for step {@code s}. */
    static void grads(List<NamedParam> ps, long s) {
        SplittableRandom r = new SplittableRandom(1000 + s);
        for (NamedParam p : ps) for (int i = 0; i < p.numel(); i++) p.grad()[i] = (float) r.nextGaussian();
    }

    static void init(List<NamedParam> ps) {
        SplittableRandom r = new SplittableRandom(7);
        for (NamedParam p : ps) for (int i = 0; i < p.numel(); i++) p.data()[i] = (float) (r.nextGaussian() * 0.1);
    }

    static TrainerState state(long step) {
        return new TrainerState(step, 1e-3 * step, Map.of("dropout", new long[]{step, -1L, Long.MIN_VALUE}),
                new TrainerState.DataPosition(step / 4, step % 4, 42), Checkpoint.hash("cfg"), 1000 * step, 0.5 * step);
    }

    @Test
    void resumeFromACheckpointGivesTheSameBitsAsAnUninterruptedRun(@TempDir Path out) {
        LrSchedule sch = new LrSchedule(LrSchedule.Kind.COSINE, 1e-2, 2, 10);
        // uninterrupted: 10 steps
        List<NamedParam> a = params();
        init(a);
        Optimizer oa = new AdamW(AdamW.Config.defaults(), WeightDecay.hf(0.01));
        for (long s = 0; s < 10; s++) {
            grads(a, s);
            oa.step(a, sch.lr(s));
        }
        // interrupted after 6 steps, checkpointed, resumed in a fresh "process"
        List<NamedParam> b = params();
        init(b);
        Optimizer ob = new AdamW(AdamW.Config.defaults(), WeightDecay.hf(0.01));
        for (long s = 0; s < 6; s++) {
            grads(b, s);
            ob.step(b, sch.lr(s));
        }
        Path dir = Checkpoint.save(out, state(6), ob, b, PeftAdapter.of(CONFIG, b), 2);
        assertThat(dir).isEqualTo(out.toAbsolutePath().resolve("checkpoint-6"));

        List<NamedParam> c = params();
        Optimizer oc = new AdamW(AdamW.Config.defaults(), WeightDecay.hf(0.01));
        Checkpoint.Loaded ck = Checkpoint.load(Checkpoint.latest(out));
        ck.requireConfigHash(Checkpoint.hash("cfg"));
        assertThat(ck.state()).isEqualTo(state(6));
        ck.adapter().copyInto(c);
        ck.restore(oc, c);
        assertThat(oc.steps()).isEqualTo(6);
        for (long s = ck.state().step(); s < 10; s++) {
            grads(c, s);
            oc.step(c, sch.lr(s));
        }
        for (int i = 0; i < a.size(); i++) assertThat(c.get(i).data()).isEqualTo(a.get(i).data());
        assertThat(oc.state(c).buffers().get(c.get(0).name() + ".exp_avg_sq")).isEqualTo(oa.state(a).buffers().get(a.get(0).name() + ".exp_avg_sq"));
    }

    @Test
    void keepsTheLastNAndCleansUpLeftovers(@TempDir Path out) throws IOException {
        List<NamedParam> ps = params();
        Optimizer opt = new Sgd(new Sgd.Config(0.9, 0, false), WeightDecay.NONE);
        Files.createDirectories(out.resolve(".checkpoint-3.tmp-abc"));   // left by a crash
        for (long s = 1; s <= 5; s++) {
            grads(ps, s);
            opt.step(ps, 0.1);
            Checkpoint.save(out, state(s), opt, ps, PeftAdapter.of(CONFIG, ps), 2);
        }
        try (var l = Files.list(out)) {
            assertThat(l.map(p -> p.getFileName().toString()).sorted().toList()).containsExactly("checkpoint-4", "checkpoint-5");
        }
        assertThat(Checkpoint.list(out)).extracting(p -> p.getFileName().toString()).containsExactly("checkpoint-4", "checkpoint-5");
        try (var l = Files.list(out.resolve("checkpoint-5"))) {
            assertThat(l.map(p -> p.getFileName().toString()).sorted().toList())
                    .containsExactly("adapter_config.json", "adapter_model.safetensors", "optimizer.safetensors", "trainer_state.json");
        }
        // saving the same step again replaces it
        Checkpoint.save(out, state(5), opt, ps, PeftAdapter.of(CONFIG, ps), 0);
        assertThat(Checkpoint.load(out.resolve("checkpoint-5")).optimizer().buffers()).containsKey(ps.get(0).name() + ".momentum_buffer");
        assertThat(Checkpoint.latest(out.resolve("nothing-here"))).isNull();
    }

    @Test
    void aFailingModelWriterLeavesNoPartialCheckpoint(@TempDir Path out) throws IOException {
        List<NamedParam> ps = params();
        Optimizer opt = new AdamW(AdamW.Config.defaults(), WeightDecay.NONE);
        assertThatThrownBy(() -> Checkpoint.save(out, state(1), opt, ps, dir -> {
            throw new finetune4j.Finetune4jException("disk full (simulated)");
        }, 3)).hasMessageContaining("disk full");
        try (var l = Files.list(out)) {
            assertThat(l.toList()).isEmpty();
        }
    }

    @Test
    void trainerStateJsonIsReadable(@TempDir Path out) throws IOException {
        List<NamedParam> ps = params();
        Path dir = Checkpoint.save(out, state(3), new AdamW(AdamW.Config.defaults(), WeightDecay.NONE), ps, PeftAdapter.of(CONFIG, ps), 1);
        assertThat(Files.readString(dir.resolve(Checkpoint.STATE_FILE))).isEqualTo("""
                {
                  "config_hash": "%s",
                  "data": {
                    "epoch": 0,
                    "index": 3,
                    "shuffle_seed": 42
                  },
                  "elapsed_s": 1.5,
                  "format_version": 1,
                  "lr": 0.003,
                  "producer": "finetune4j",
                  "rng": {
                    "dropout": [
                      3,
                      -1,
                      -9223372036854775808
                    ]
                  },
                  "step": 3,
                  "tokens_seen": 3000
                }
                """.formatted(Checkpoint.hash("cfg")));
        try (SafetensorsFile f = SafetensorsFile.open(dir.resolve(Checkpoint.OPTIMIZER_FILE))) {
            assertThat(f.metadata()).containsEntry("optimizer", "adamw").containsEntry("step", "0").containsEntry("setting.beta2", "0.999");
            assertThat(f.info(ps.get(1).name() + ".exp_avg").shape()).containsExactly(8, 2);
        }
    }

    @Test
    void badCheckpointsNameTheFileAndKey(@TempDir Path out) throws IOException {
        List<NamedParam> ps = params();
        Optimizer opt = new AdamW(AdamW.Config.defaults(), WeightDecay.NONE);
        grads(ps, 0);
        opt.step(ps, 1e-3);
        Path dir = Checkpoint.save(out, state(1), opt, ps, PeftAdapter.of(CONFIG, ps), 0);
        Path stateFile = dir.resolve(Checkpoint.STATE_FILE), optFile = dir.resolve(Checkpoint.OPTIMIZER_FILE);
        String goodState = Files.readString(stateFile);
        byte[] goodOpt = Files.readAllBytes(optFile);

        // corrupted optimizer data (one bit flipped in the last byte): refused by the CRC
        byte[] flipped = goodOpt.clone();
        flipped[flipped.length - 1] ^= 0x10;
        Files.write(optFile, flipped);
        assertThatThrownBy(() -> Checkpoint.load(dir)).isInstanceOf(ModelFormatException.class)
                .hasMessageStartingWith(optFile + ": tensor data is corrupted: CRC-32C");
        // truncated optimizer file
        Files.write(optFile, java.util.Arrays.copyOf(goodOpt, goodOpt.length - 5));
        assertThatThrownBy(() -> Checkpoint.load(dir)).isInstanceOf(ModelFormatException.class).hasMessageStartingWith(optFile.toString());
        // missing optimizer file
        Files.delete(optFile);
        assertThatThrownBy(() -> Checkpoint.load(dir)).isInstanceOf(ModelFormatException.class)
                .hasMessage(optFile + ": file not found (an incomplete or foreign checkpoint directory?)");
        Files.write(optFile, goodOpt);

        for (String[] c : new String[][]{
                {goodState.replace("\"step\": 1", "\"step\": \"one\""), "key 'step': expected an integer, got \"one\""},
                {goodState.replace("\"index\": 1,", ""), "key 'data.index': expected an integer, got nothing (the key is missing)"},
                {goodState.replace("\"format_version\": 1", "\"format_version\": 7"), "key 'format_version': 7 is not supported"},
                {goodState.replace("\"step\": 1", "\"step\": -4"), "key 'step': expected an integer >= 0, got -4"},
                {goodState.replace("-1,", "\"x\","), "key 'rng.dropout[1]': expected a 64-bit integer"},
                {goodState.substring(0, 40), "is not valid JSON"}}) {
            Files.writeString(stateFile, c[0]);
            assertThatThrownBy(() -> Checkpoint.load(dir)).as(c[1]).isInstanceOf(ModelFormatException.class)
                    .hasMessageStartingWith(stateFile + ": ").hasMessageContaining(c[1]);
        }
        Files.delete(stateFile);
        assertThatThrownBy(() -> Checkpoint.load(dir)).hasMessageContaining(stateFile + ": file not found");
        Files.writeString(stateFile, goodState);

        // optimizer state for other parameters, another optimizer, other settings
        Checkpoint.Loaded ck = Checkpoint.load(dir);
        List<NamedParam> other = List.of(ps.get(0), NamedParam.zeros("model.layers.0.self_attn.v_proj.lora_A.weight", 2, 8));
        assertThatThrownBy(() -> ck.restore(new AdamW(AdamW.Config.defaults(), WeightDecay.NONE), other))
                .isInstanceOf(ModelFormatException.class)
                .hasMessageStartingWith(optFile + ": optimizer state does not match the trainable parameters:")
                .hasMessageContaining("missing keys [model.layers.0.self_attn.v_proj.lora_A.weight.exp_avg, model.layers.0.self_attn.v_proj.lora_A.weight.exp_avg_sq]")
                .hasMessageContaining("unexpected keys [model.layers.0.self_attn.q_proj.lora_B.weight.exp_avg,");
        assertThatThrownBy(() -> ck.restore(new Sgd(new Sgd.Config(0.9, 0, false), WeightDecay.NONE), ps))
                .hasMessageContaining("optimizer state is for 'adamw', this run uses 'sgd'");
        assertThatThrownBy(() -> ck.requireConfigHash(Checkpoint.hash("other"))).isInstanceOf(ConfigException.class)
                .hasMessageContaining("the checkpoint was written with other settings");
        assertThatThrownBy(() -> Checkpoint.load(out.resolve("checkpoint-99"))).hasMessageContaining("checkpoint directory not found");
    }
}
