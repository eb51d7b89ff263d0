package finetune4j.peft;

import finetune4j.peft.LoraConfig.Targets;
import com.fasterxml.jackson.databind.JsonNode;
import finetune4j.ModelFormatException;
import finetune4j.engine.kernels.KernelSelector;
import finetune4j.engine.kernels.Kernels;
import finetune4j.engine.kernels.ScalarKernels;
import finetune4j.engine.tensor.NamedParam;
import finetune4j.model.DenseLinear;
import finetune4j.model.LinearSlot;
import finetune4j.model.LlamaModel;
import finetune4j.model.TrainingBuffers;
import finetune4j.testing.Numerics;
import finetune4j.testing.Numerics.Tol;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * LoRA, rsLoRA and DoRA against the real Hugging Face PEFT 0.21 + transformers 5.17
 * ({@code tools/golden/lora_reference.py}) on {@code tiny-models/llama-bias-bf16} (biases
 * everywhere, so DoRA's bias exclusion is exercised):
 * <ul>
 *   <li>one {@code lora.Linear} (layer 0 q_proj): output, dx and the A/B/m gradients, without
 *       dropout and with dropout p = 0.25 where PEFT runs finetune4j's counter-based mask;</li>
 *   <li>the whole model: targeted modules, per-module rank and scaling (rank/alpha patterns,
 *       rsLoRA, regex and all-linear targets), trainable and total parameter counts, DoRA's
 *       initial magnitude, logits and the causal-LM loss of a batch with ignored labels;</li>
 *   <li>adapter directories PEFT saved (F32/F16/BF16, LoRA, all-linear, rsLoRA, DoRA) read with
 *       {@link PeftAdapter#load} and attached: the logits of {@code PeftModel.from_pretrained}.</li>
 * </ul>
 * Through the whole model ({@link LlamaModel#forwardBackward}, with and without gradient
 * checkpointing): the loss and every trainable gradient (lora_A, lora_B, magnitude).
 */
class LoraPeftGoldenTest {
    static final String LAYER = "model.layers.0.self_attn.q_proj";
    /** FP32 vs torch FP32: same math, different summation order, values O(1)–O(10). */
    static final Tol LAYER_TOL = Tol.abs(2e-5).rel(2e-5);
    static final Tol LOGITS = Tol.abs(1e-4).rel(1e-5);
    /** Whole-model gradients (FP32 backward through 2 layers vs torch autograd in FP32). */
    static final Tol GRAD = Tol.abs(2e-6).rel(1e-4);

    static LoraSpec spec(String variant) {
        return switch (variant) {
            case "lora" -> LoraSpec.of(4, 8, Targets.names("q_proj", "v_proj"));
            case "rslora" -> LoraSpec.builder(4, 6).rslora(true).targets(new Targets.AllLinear("all-linear"))
                    .rankPattern(Map.of("down_proj", 2)).alphaPattern(Map.of("model.layers.1.self_attn.q_proj", 3.0)).build();
            case "dora" -> LoraSpec.builder(4, 8).dora(true).targets(new Targets.Regex(".*\\.(q_proj|v_proj|o_proj|down_proj)")).build();
            default -> throw new IllegalArgumentException(variant);
        };
    }

    static JsonNode variant(String v) {
        return LoraGolden.manifest().get("variants").get(v);
    }

    static LlamaModel model(Kernels k) {
        return LlamaModel.load(LoraGolden.tinyModel("llama-bias-bf16"), k);
    }

    static Kernels[] kernels() {
        return new Kernels[]{new ScalarKernels(), KernelSelector.get()};
    }

    @ParameterizedTest
    @ValueSource(strings = {"lora", "rslora", "dora"})
    void singleLayerOutputAndGradientsMatchPeft(String v) {
        for (Kernels kern : kernels()) {
            for (String tag : new String[]{"layer", "drop"}) {
                try (LlamaModel model = model(kern)) {
                    DenseLinear dense = (DenseLinear) slot(model, LAYER);
                    LoraLinear slot = new GemmBase(dense, kern).lora();
                    JsonNode mod = variant(v).get("modules").get(LAYER);
                    int r = mod.get("r").intValue();
                    boolean drop = tag.equals("drop");
                    JsonNode d = LoraGolden.manifest().get("dropout");
                    LoraWeights w = LoraWeights.zeros(LAYER, r, dense.inFeatures(), dense.outFeatures(),
                            (float) mod.get("scaling").doubleValue(), drop ? d.get("p").doubleValue() : 0, v.equals("dora"));
                    load(w, v + ".param.");
                    LoraLinear.Branch b = slot.addBranch(w, 1f, d.get("seed").longValue());
                    b.training = true;
                    b.dropoutKey = d.get("key").longValue();
                    String p = v + "." + tag + ".";
                    float[] x = LoraGolden.tensor(p + "x"), g = LoraGolden.tensor(p + "g");
                    int m = x.length / dense.inFeatures();
                    String name = v + " " + tag + " " + kern.name();
                    if (drop) {   // the mask PEFT used is the documented finetune4j mask
                        float[] keep = LoraGolden.tensor(p + "keep");
                        long base = b.dropoutBase();
                        for (int e = 0; e < keep.length; e++) {
                            assertThat(Dropout.keep(base, e, w.dropout())).as("mask[" + e + "]").isEqualTo(keep[e] == 1f);
                        }
                    }
                    float[] y = new float[m * dense.outFeatures()];
                    slot.forward(y, 0, x, 0, m);
                    Numerics.assertClose(name + " y", y, LoraGolden.tensor(p + "y"), LAYER_TOL);
                    float[] dx = new float[x.length];
                    slot.backward(dx, 0, false, g, 0, x, 0, m);
                    Numerics.assertClose(name + " dx", dx, LoraGolden.tensor(p + "dx"), LAYER_TOL);
                    for (NamedParam np : slot.trainableParameters()) {
                        Numerics.assertClose(name + " grad " + np.name(), np.grad(), LoraGolden.tensor(p + "grad." + np.name()), LAYER_TOL);
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"lora", "rslora", "dora"})
    void wholeModelTargetsCountsLogitsAndLossMatchPeft(String v) {
        JsonNode want = variant(v);
        for (Kernels kern : kernels()) {
            try (LlamaModel model = model(kern)) {
                LoraAdapter lora = LoraAdapter.attach(model, spec(v), 42);
                List<String> targeted = new ArrayList<>(lora.targetedModules());
                List<String> peftTargets = new ArrayList<>();
                want.get("targeted_modules").forEach(n -> peftTargets.add(n.textValue()));
                assertThat(targeted.stream().sorted().toList()).isEqualTo(peftTargets);
                for (LoraWeights w : lora.modules()) {
                    JsonNode mod = want.get("modules").get(w.module());
                    assertThat(w.r()).as(w.module() + " r").isEqualTo(mod.get("r").intValue());
                    assertThat(w.scaling()).as(w.module() + " scaling").isEqualTo((float) mod.get("scaling").doubleValue());
                }
                assertThat(lora.trainableCount()).isEqualTo(want.get("trainable_params").longValue());
                assertThat(lora.allParameterCount()).isEqualTo(want.get("all_params").longValue());
                if (v.equals("dora")) {   // m starts at ‖W‖ per row (B = 0)
                    for (LoraWeights w : lora.modules()) {
                        Numerics.assertClose("initial " + w.magnitude().name(), w.magnitude().data(),
                                LoraGolden.tensor(v + ".init." + w.magnitude().name()), Tol.abs(1e-6).rel(1e-6));
                    }
                }
                for (LoraWeights w : lora.modules()) load(w, v + ".param.");

                int[] ids = LoraGolden.ints(LoraGolden.manifest().get("ids"));
                int[] labels = LoraGolden.ints(LoraGolden.manifest().get("labels"));
                int B = 2, T = ids.length / B, V = model.config().vocabSize();
                float[] logits = model.forwardBatch(ids, B, T, new int[]{T, T}, true);
                Numerics.assertClose(v + " " + kern.name() + " logits", logits, LoraGolden.tensor(v + ".logits"), LOGITS);
                double loss = causalLmLoss(logits, labels, B, T, V);
                assertThat(loss).as(v + " loss").isCloseTo(want.get("loss").doubleValue(),
                        org.assertj.core.data.Offset.offset(1e-5 * want.get("loss").doubleValue()));
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"lora", "rslora", "dora"})
    void wholeModelLossAndEveryTrainableGradientMatchPeft(String v) {
        int[] ids = LoraGolden.ints(LoraGolden.manifest().get("ids"));
        int[] labels = LoraGolden.ints(LoraGolden.manifest().get("labels"));
        int b = 2, t = ids.length / b, n = LlamaModel.countTargets(labels, b, t);
        double wantLoss = variant(v).get("loss").doubleValue();
        for (Kernels kern : kernels()) {
            for (boolean checkpointing : new boolean[]{false, true}) {
                try (LlamaModel model = model(kern)) {
                    LoraAdapter lora = LoraAdapter.attach(model, spec(v), 42);
                    for (LoraWeights w : lora.modules()) load(w, v + ".param.");
                    lora.setTraining(true);
                    assertThat(model.trainableParameters()).containsExactlyElementsOf(lora.trainableParameters());
                    TrainingBuffers buf = TrainingBuffers.allocate(model.config(), b, t, checkpointing);
                    for (int step = 0; step < 2; step++) {   // twice: buffers reused, gradients zeroed in between
                        for (NamedParam p : lora.trainableParameters()) Arrays.fill(p.grad(), 0f);
                        double sum = model.forwardBackward(buf, ids, labels, b, t, 1f / n);
                        String tag = v + " " + kern.name() + (checkpointing ? " checkpointed" : "") + " step " + step;
                        assertThat(sum / n).as(tag + " loss").isCloseTo(wantLoss, org.assertj.core.data.Offset.offset(1e-5 * wantLoss));
                        for (NamedParam p : lora.trainableParameters()) {
                            Numerics.assertClose(tag + " grad " + p.name(), p.grad(), LoraGolden.tensor(v + ".grad." + p.name()), GRAD);
                        }
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"lora_qv", "lora_all_linear", "rslora", "dora", "lora_qv_f16", "lora_qv_bf16"})
    void adaptersPeftSavedLoadAndGiveThePeftModelsLogits(String name) {
        int[] ids = LoraGolden.ints(LoraGolden.manifest().get("peftdir_ids"));
        PeftAdapter file = PeftAdapter.load(LoraGolden.resource("finetune4j/peft/" + name));
        try (LlamaModel model = LlamaModel.load(LoraGolden.resource("finetune4j/peft/tiny-llama"), KernelSelector.get())) {
            float[] base = model.forwardAll(ids);
            Numerics.assertClose("tiny-llama base logits", base, LoraGolden.tensor("peftdir.base.logits"), LOGITS);
            LoraAdapter lora = LoraAdapter.attach(model, file, 0, 1f);
            assertThat(lora.trainableCount()).isEqualTo(file.tensors().values().stream().mapToLong(t -> t.data().length).sum());
            float[] want = LoraGolden.tensor("peftdir." + name + ".logits");
            float[] got = model.forwardAll(ids);
            assertThat(LoraMergeTest.maxAbsDiff(want, base)).as("the adapter changes PEFT's logits").isGreaterThan(1e-4);
            Numerics.assertClose(name + " logits vs PeftModel.from_pretrained", got, want, LOGITS);
        }
    }

    @org.junit.jupiter.api.Test
    void anAdapterForAnotherBaseModelIsRefusedListingTheKeys() {
        PeftAdapter file = PeftAdapter.load(LoraGolden.resource("finetune4j/peft/lora_qv"));
        try (LlamaModel model = model(KernelSelector.get())) {   // hidden 32, not tiny-llama's 16
            assertThatThrownBy(() -> LoraAdapter.attach(model, file, 0, 1f)).isInstanceOf(ModelFormatException.class)
                    .hasMessageContaining("does not match the base model").hasMessageContaining("shape mismatches");
            for (LinearSlot s : model.linearSlots()) assertThat(s).isInstanceOf(DenseLinear.class);   // nothing attached
        }
    }

    /** transformers' ForCausalLMLoss: mean over non-ignored next-token targets (labels shifted left). */
    static double causalLmLoss(float[] logits, int[] labels, int b, int t, int v) {
        double sum = 0;
        int count = 0;
        for (int s = 0; s < b; s++) {
            for (int p = 0; p + 1 < t; p++) {
                int label = labels[s * t + p + 1];
                if (label == -100) continue;
                int o = (s * t + p) * v;
                double max = Double.NEGATIVE_INFINITY;
                for (int i = 0; i < v; i++) max = Math.max(max, logits[o + i]);
                double z = 0;
                for (int i = 0; i < v; i++) z += Math.exp(logits[o + i] - max);
                sum += max + Math.log(z) - logits[o + label];
                count++;
            }
        }
        return sum / count;
    }

    static void load(LoraWeights w, String prefix) {
        List<NamedParam> ps = new ArrayList<>(List.of(w.a(), w.b()));
        if (w.isDora()) ps.add(w.magnitude());
        for (NamedParam p : ps) {
            float[] src = LoraGolden.tensor(prefix + p.name());
            assertThat(src.length).as(p.name()).isEqualTo(p.numel());
            System.arraycopy(src, 0, p.data(), 0, src.length);
        }
    }

    static LinearSlot slot(LlamaModel model, String name) {
        for (LinearSlot s : model.linearSlots()) if (s.name().equals(name)) return s;
        throw new IllegalArgumentException(name);
    }
}
