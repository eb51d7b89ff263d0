package finetune4j.peft;

import finetune4j.peft.LoraConfig.Targets;
import finetune4j.Finetune4jException;
import finetune4j.engine.kernels.KernelSelector;
import finetune4j.engine.tensor.Weight;
import finetune4j.model.DenseLinear;
import finetune4j.model.LinearSlot;
import finetune4j.model.LlamaModel;
import finetune4j.testing.Numerics;
import finetune4j.testing.Numerics.Tol;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Merging is exact enough to replace the adapter: the model with merged FP32 weights
 * ({@link LoraMath}) gives the logits of the unmerged model (adapter slots) within 1e-5 of the
 * logits' scale, for
 * LoRA, rsLoRA, DoRA and two weighted adapters on shared modules; merged weights are
 * finite-checked.
 */
class LoraMergeTest {
    /**
     * 1e-5 relative to the logits' scale: both paths are FP32 and round differently (the unmerged
     * one adds s·(x·Aᵀ)·Bᵀ to x·Wᵀ, the merged one multiplies by W + s·B·A), so an element's error
     * follows the size of the sums it came from, not its own size (logits here reach ~30).
     */
    static Tol merged(float[] want) {
        double max = 1;
        for (float v : want) max = Math.max(max, Math.abs(v));
        return Tol.abs(1e-5 * max);
    }
    static final int[] IDS = {5, 17, 200, 3, 99, 42, 7, 128, 64, 1, 250, 33, 8, 19, 77, 150};

    static LlamaModel model() {
        return LlamaModel.load(LoraGolden.tinyModel("llama-bias-bf16"), KernelSelector.get());
    }

    static LoraSpec spec(String v) {
        var b = LoraSpec.builder(4, 8).init(LoraSpec.InitWeights.NONE);   // B ≠ 0 from the start
        return switch (v) {
            case "lora" -> b.targets(Targets.names("q_proj", "v_proj", "down_proj")).build();
            case "rslora" -> b.rslora(true).targets(new Targets.AllLinear("all-linear")).build();
            case "dora" -> b.dora(true).targets(new Targets.AllLinear("all-linear")).build();
            case "dora-head" -> b.dora(true).targets(Targets.names("o_proj", "lm_head")).build();
            default -> throw new IllegalArgumentException(v);
        };
    }

    /** Replaces every adapter slot by a DenseLinear over its merged weight. */
    static void mergeInto(LlamaModel model) {
        for (LinearSlot s : model.linearSlots()) {
            if (s instanceof LoraLinear l) {
                float[] merged = LoraMath.merged(l.baseWeight(), l.adapters());
                model.replaceLinear(s.name(), cur -> new DenseLinear(s.name(),
                        Weight.ofArray(s.name() + ".weight", merged, l.outFeatures(), l.inFeatures()), l.baseBias(), model.kernels()));
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"lora", "rslora", "dora", "dora-head"})
    void mergedEqualsUnmerged(String v) {
        try (LlamaModel model = model()) {
            float[] base = model.forwardAll(IDS);
            LoraAdapter lora = LoraAdapter.attach(model, spec(v), 3);
            shrinkB(lora);
            perturbMagnitudes(lora, 4);
            float[] unmerged = model.forwardAll(IDS);
            assertThat(maxAbsDiff(unmerged, base)).as("the adapter changes the output").isGreaterThan(1e-2);
            // the adapter's own single-module merge agrees with the slot-level one
            String first = lora.targetedModules().getFirst();
            LoraLinear slot = (LoraLinear) slotNamed(model, first);
            assertThat(lora.mergedWeight(first)).isEqualTo(LoraMath.merged(slot.baseWeight(), slot.adapters()));
            mergeInto(model);
            Numerics.assertClose(v + " merged vs unmerged logits", model.forwardAll(IDS), unmerged, merged(unmerged));
        }
    }

    @Test
    void twoWeightedAdaptersMergeToTheSumOfWeightedDeltas() {
        try (LlamaModel model = model()) {
            LoraAdapter a = LoraAdapter.attach(model, spec("lora"), 1, 0.5f);
            LoraAdapter d = LoraAdapter.attach(model, spec("dora"), 2, 0.7f);
            shrinkB(a);
            shrinkB(d);
            perturbMagnitudes(d, 5);
            assertThat(((LoraLinear) slotNamed(model, "model.layers.0.self_attn.q_proj")).adapters()).hasSize(2);
            float[] unmerged = model.forwardAll(IDS);
            mergeInto(model);
            Numerics.assertClose("0.5·lora + 0.7·dora merged vs unmerged", model.forwardAll(IDS), unmerged, merged(unmerged));
            assertThat(a.trainableCount()).isPositive();
        }
    }

    @Test
    void deltaIsScalingTimesBA() {
        LoraWeights w = LoraWeights.zeros("m", 3, 6, 5, 1.7f, 0, false);
        Random rnd = new Random(1);
        for (int i = 0; i < w.aData().length; i++) w.aData()[i] = (float) rnd.nextGaussian();
        for (int i = 0; i < w.bData().length; i++) w.bData()[i] = (float) rnd.nextGaussian();
        float[] d = LoraMath.delta(w);
        for (int j = 0; j < 5; j++) {
            for (int c = 0; c < 6; c++) {
                double ba = 0;
                for (int p = 0; p < 3; p++) ba += (double) w.bData()[j * 3 + p] * w.aData()[p * 6 + c];
                assertThat((double) d[j * 6 + c]).isCloseTo(1.7 * ba, org.assertj.core.data.Offset.offset(1e-6 * (1 + Math.abs(ba))));
            }
        }
    }

    @Test
    void nonFiniteAdapterWeightsAreRefusedWithTheModuleAndPosition() {
        LoraWeights w = LoraWeights.zeros("model.layers.0.self_attn.q_proj", 2, 4, 3, 1f, 0, false);
        w.aData()[5] = Float.NaN;   // A[1, 1]: column 1 of ΔW is NaN in every row (0·NaN = NaN), first at [0, 1]
        assertThatThrownBy(() -> LoraMath.delta(w)).isInstanceOf(Finetune4jException.class)
                .hasMessageContaining("model.layers.0.self_attn.q_proj").hasMessageContaining("NaN at [0, 1]");
        LoraWeights big = LoraWeights.zeros("big", 1, 2, 2, 1e30f, 0, false);
        big.aData()[0] = 1e20f;
        big.bData()[0] = 1e20f;
        assertThatThrownBy(() -> LoraMath.merged(Weight.ofArray("w", new float[4], 2, 2), big))
                .isInstanceOf(Finetune4jException.class).hasMessageContaining("big");
    }

    /**
     * B = U(±1/√r)/4: deltas a few tens of percent of W, the size a trained adapter reaches (the
     * nn.Linear-default B alone with rsLoRA's s = 4 makes ΔW larger than W, and FP32 rounding
     * differences between the two paths grow with it).
     */
    static void shrinkB(LoraAdapter a) {
        for (LoraWeights w : a.modules()) {
            float[] b = w.bData();
            for (int i = 0; i < b.length; i++) b[i] *= 0.25f;
        }
    }

    static void perturbMagnitudes(LoraAdapter a, long seed) {
        Random rnd = new Random(seed);
        for (LoraWeights w : a.modules()) {
            if (!w.isDora()) continue;
            float[] m = w.magnitude().data();
            for (int j = 0; j < m.length; j++) m[j] *= (float) (1 + 0.2 * rnd.nextGaussian());
        }
    }

    static LinearSlot slotNamed(LlamaModel model, String name) {
        for (LinearSlot s : model.linearSlots()) if (s.name().equals(name)) return s;
        throw new IllegalArgumentException(name);
    }

    static double maxAbsDiff(float[] a, float[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }
}
