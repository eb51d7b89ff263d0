package finetune4j.train;

import finetune4j.ConfigException;
import finetune4j.engine.kernels.KernelSelector;
import finetune4j.engine.tensor.DType;
import finetune4j.model.DenseLinear;
import finetune4j.model.GenerationConfig;
import finetune4j.model.LinearSlot;
import finetune4j.model.LlamaModel;
import finetune4j.model.ModelConfig;
import finetune4j.model.ModelPresets;
import finetune4j.model.RandomInit;
import finetune4j.model.StepProfile;
import finetune4j.model.TrainingBuffers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link TrainBenchmark} on the stories260k shape built in memory: the figures it reports are the
 * ones of the run (counts exact, rates positive, buffers those of {@link TrainingBuffers}); the
 * model is left as it was for LoRA. Times are never asserted.
 */
class TrainBenchmarkTest {
    static Arena arena;
    static LlamaModel model;
    static ModelConfig c;

    @BeforeAll
    static void model() {
        arena = Arena.ofShared();
        c = ModelPresets.config("stories260k");
        model = LlamaModel.fromWeights(c, GenerationConfig.defaults(), RandomInit.source(c, 3, 0.02, DType.F32, arena),
                KernelSelector.get());
    }

    @AfterAll
    static void close() {
        arena.close();
    }

    static TrainBenchmark.Settings lora(int b, int t, boolean ckpt) {
        return new TrainBenchmark.Settings(TrainBenchmark.Method.LORA, 8, 16, 0.05, null, b, t, 2, 1, ckpt, 7, false, 0);
    }

    @Test
    void loraRunReportsTheRunAndLeavesTheModelFrozen() {
        int[] seen = {0};
        TrainBenchmark.Result r = TrainBenchmark.run(model, "stories260k", lora(2, 32, false), true, s -> seen[0]++);
        assertThat(seen[0]).isEqualTo(3);
        assertThat(r.stepSeconds()).hasSize(3);
        for (double s : r.stepSeconds()) assertThat(s).isPositive();
        assertThat(r.stepCpuSeconds()).hasSize(3);
        assertThat(r.tokensPerStep()).isEqualTo(64);
        assertThat(r.tokensPerSecondBest()).isGreaterThanOrEqualTo(r.tokensPerSecondMedian()).isPositive();
        // r = 8 on q,k,v,o (64→64, 64→32 ×2, 64→64), gate, up (64→172), down (172→64), 5 layers
        assertThat(r.trainable()).isEqualTo(5L * 8 * (128 + 96 + 96 + 128 + 236 * 3));
        assertThat(r.parameters()).isEqualTo(model.parameterCount() + r.trainable());
        assertThat(r.weightDType()).isEqualTo(DType.F32);
        TrainingBuffers a = TrainingBuffers.allocate(c, 2, 32, false);
        assertThat(r.bufferBytes()).isEqualTo(a.bytes());
        assertThat(r.activationBytes()).isEqualTo(a.activationBytes());
        assertThat(r.optimizerBytes()).isEqualTo(8 * r.trainable());
        assertThat(r.peakRssBytes()).isGreaterThan(a.bytes());                       // Linux: VmHWM
        assertThat(r.ceilingGflops()).isPositive();
        assertThat(r.mfuMedian()).isPositive();
        assertThat(r.firstLoss()).isBetween(Math.log(512) - 0.5, Math.log(512) + 0.5);   // random model: ≈ ln V
        assertThat(r.format()).contains("tokens/s median").contains("peak RSS").contains("MFU")
                .contains("lora r=8 alpha=16 dropout=0.05 on q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj");
        for (LinearSlot s : model.linearSlots()) assertThat(s).isInstanceOf(DenseLinear.class);   // adapter detached
        assertThat(model.trainableParameters()).isEmpty();
    }

    @Test
    void checkpointingKeepsFewerActivations() {
        TrainBenchmark.Settings ckpt = lora(1, 16, true);
        ckpt = new TrainBenchmark.Settings(ckpt.method(), ckpt.rank(), ckpt.alpha(), ckpt.dropout(), ckpt.targets(),
                ckpt.batch(), ckpt.seq(), ckpt.steps(), ckpt.warmup(), true, ckpt.seed(), true, 5);
        TrainBenchmark.Result on = TrainBenchmark.run(model, "m", ckpt, false, null);
        TrainBenchmark.Result off = TrainBenchmark.run(model, "m", lora(1, 16, false), false, null);
        assertThat(on.activationBytes()).isLessThan(off.activationBytes());
        assertThat(on.bufferBytes() - on.activationBytes()).isLessThan(off.bufferBytes() - off.activationBytes()); // 5 head rows
        assertThat(on.ceilingGflops()).isNaN();
        assertThat(on.format()).contains("checkpointing on").doesNotContain("MFU");
        // the same forward (bits may differ where the JIT reorders a lane reduction between the two runs)
        assertThat(on.firstLoss()).isCloseTo(off.firstLoss(), org.assertj.core.data.Offset.offset(1e-5));
        assertThat(off.profile()).isNull();
        assertThat(on.profile().seconds()).containsKeys(StepProfile.Part.QKV, StepProfile.Part.LAYER_RECOMPUTE,
                StepProfile.Part.QKV_BACK, StepProfile.Part.HEAD).doesNotContainKey(StepProfile.Part.EMBED_BACK);
        assertThat(on.format()).contains("profile").contains("layer recompute (gradient checkpointing)");
    }

    @Test
    void modelFlopsCountLinearsLoraAndCausalAttention() {
        TrainBenchmark.Settings s = lora(2, 32, false);
        double linear = 5 * (64.0 * 64 * 2 + 64 * 32 * 2 + 64 * 172 * 3) + 512 * 64;        // per token MACs, tied head
        double lora = 5 * 8.0 * (128 + 96 + 96 + 128 + 236 * 3);
        double attention = 5 * 6 * 2 * (2.0 * 32 * 33 / 2) * 8 * 8;                       // H·D = 64
        var adapters = finetune4j.peft.LoraAdapter.attach(model,
                finetune4j.peft.LoraSpec.of(8, 16, finetune4j.peft.LoraConfig.Targets.names(
                        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")), 1);
        try {
            assertThat(TrainBenchmark.modelFlops(model, s, adapters.modules()))
                    .isCloseTo((4 * linear + 6 * lora) * 64 + attention, org.assertj.core.data.Offset.offset(1.0));
        } finally {
            adapters.detach();
        }
    }

    @Test
    void badSettingsAreConfigErrors() {
        assertThatThrownBy(() -> TrainBenchmark.run(model, "m", lora(1, 513, false), false, null))
                .isInstanceOf(ConfigException.class).hasMessageContaining("context of 512");
        assertThatThrownBy(() -> lora(0, 16, false)).isInstanceOf(ConfigException.class).hasMessageContaining("batch");
        assertThatThrownBy(() -> new TrainBenchmark.Settings(TrainBenchmark.Method.LORA, 0, 16, 0, null, 1, 16, 1, 0, false, 1, false, 0))
                .isInstanceOf(ConfigException.class).hasMessageContaining("rank");
        assertThatThrownBy(() -> TrainBenchmark.run(model, "m",
                new TrainBenchmark.Settings(TrainBenchmark.Method.LORA, 4, 8, 0, "nope_proj", 1, 16, 1, 0, false, 1, false, 0), false, null))
                .isInstanceOf(ConfigException.class).hasMessageContaining("q_proj");                // lists what exists
    }
}
