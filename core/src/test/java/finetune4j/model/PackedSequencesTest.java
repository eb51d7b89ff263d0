package finetune4j.model;

import finetune4j.batch.Batch;
import finetune4j.batch.Packer;
import finetune4j.batch.Tokenized;
import finetune4j.engine.kernels.KernelSelector;
import finetune4j.engine.kernels.Kernels;
import finetune4j.engine.kernels.ScalarKernels;
import finetune4j.engine.tensor.NamedParam;
import finetune4j.peft.LoraAdapter;
import finetune4j.testing.Numerics;
import finetune4j.testing.Numerics.Tol;
import finetune4j.testing.PackedBatches;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Packing in the model ({@code --packing}): a packed row is computed as if each of its examples ran
 * alone — positions restart per example and attention is block-diagonal causal — in the forward
 * pass (logits), the loss, and the backward pass (every gradient), for full fine-tuning and LoRA,
 * with and without gradient checkpointing, on both kernel sets.
 */
class PackedSequencesTest {
    static final int SEQ = 48;

    /** Random examples of 1..maxLen tokens with about a third of the labels masked. */
    static List<Tokenized> examples(int n, int maxLen, int vocab, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<Tokenized> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int len = 1 + r.nextInt(maxLen);
            int[] ids = new int[len], labels = new int[len];
            for (int k = 0; k < len; k++) {
                ids[k] = r.nextInt(vocab);
                labels[k] = r.nextInt(3) == 0 ? Tokenized.IGNORE : ids[k];
            }
            out.add(new Tokenized(ids, labels, "ex:" + i));
        }
        return out;
    }

    static Kernels[] kernels() {
        return new Kernels[]{new ScalarKernels(), KernelSelector.get()};
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-gqa-f32", "qwen2-bias-f16", "llama3-rope-bf16"})
    void packedLogitsEqualEachExampleRunAlone(String name) {
        for (Kernels k : kernels()) {
            try (LlamaModel m = LlamaModel.load(LlamaGolden.tinyModel(name), k)) {
                int vocab = m.config().vocabSize();
                List<Tokenized> ex = examples(14, 20, vocab, 7);     // lengths 1..20: both attention paths (< and ≥ 16 rows)
                assertThat(Packer.pack(ex, SEQ)).as("several examples per row").hasSizeLessThan(ex.size() / 2);
                PackedBatches.assertPackedEqualsSeparate(name + " " + k.name(), ex, SEQ, vocab,
                        batch -> m.forwardPacked(Arrays.copyOf(batch.ids, batch.b() * batch.t()), batch.segmentIds, batch.b(), batch.t()),
                        k instanceof ScalarKernels ? Tol.abs(1e-6).rel(1e-6) : Tol.abs(1e-5).rel(1e-4));
            }
        }
    }

    /** Without packing the plain causal path runs: forwardPacked of one example per row equals forwardBatch. */
    @Test
    void onlyOneExamplePerRowIsThePlainPath() {
        try (LlamaModel m = LlamaModel.load(LlamaGolden.tinyModel("llama-gqa-f32"), new ScalarKernels())) {
            int[] ids = {5, 9, 200, 31, 7, 7, 1, 2};
            float[] plain = m.forwardBatch(ids, 2, 4, null, true);
            float[] packed = m.forwardPacked(ids, new int[]{1, 1, 1, 1, 1, 1, 1, 1}, 2, 4);
            assertThat(packed).containsExactly(plain);
        }
    }

    record Step(double loss, List<float[]> grads) {
    }

    static Step step(LlamaModel m, TrainingBuffers a, Batch b, boolean packed, float scale) {
        m.zeroGradients();
        double loss = m.forwardBackward(a, b.ids, b.labels, packed ? b.segmentIds : null, b.b(), b.t(), scale);
        List<float[]> g = new ArrayList<>();
        for (NamedParam p : m.trainableParameters()) g.add(p.grad().clone());
        return new Step(loss, g);
    }

    /**
     * A packed batch and the same examples one per row give the same summed loss and, with the
     * same 1/N scale (N = target tokens, equal in both), the same gradient of every trainable
     * parameter: token weighting is unchanged by packing.
     */
    @ParameterizedTest
    @ValueSource(strings = {"full", "lora", "full-checkpointing"})
    void packedLossAndGradientsEqualUnpacked(String mode) {
        for (Kernels k : kernels()) {
            try (LlamaModel m = LlamaModel.load(LlamaGolden.tinyModel("llama-gqa-f32"), k)) {
                if (mode.equals("lora")) {
                    LoraAdapter.attach(m, LoraModelFiniteDiffTest.spec("rslora"), 3).setTraining(true);   // B ≠ 0
                } else {
                    m.makeTrainable(n -> true);
                }
                boolean ckpt = mode.endsWith("checkpointing");
                List<Tokenized> ex = examples(12, 20, m.config().vocabSize(), 11);
                List<Tokenized> rows = Packer.pack(ex, SEQ);
                Batch packed = new Batch(rows.size(), SEQ);
                packed.fill(rows.toArray(new Tokenized[0]), rows.size(), 0);
                assertThat(packed.packed()).isTrue();
                int maxLen = ex.stream().mapToInt(Tokenized::length).max().orElseThrow();
                Batch separate = new Batch(ex.size(), maxLen);
                separate.fill(ex.toArray(new Tokenized[0]), ex.size(), 0);
                assertThat(packed.targetTokens()).isEqualTo(separate.targetTokens()).isPositive();
                float scale = 1f / packed.targetTokens();

                Step p = step(m, TrainingBuffers.allocate(m.config(), packed.b(), packed.t(), ckpt), packed, true, scale);
                Step s = step(m, TrainingBuffers.allocate(m.config(), separate.b(), separate.t(), ckpt), separate, false, scale);
                String what = mode + " " + k.name();
                assertThat(p.loss()).as(what + " summed loss").isCloseTo(s.loss(), org.assertj.core.data.Offset.offset(1e-5 * s.loss()));
                List<NamedParam> params = m.trainableParameters();
                assertThat(params).isNotEmpty();
                for (int i = 0; i < params.size(); i++) {
                    float[] want = s.grads().get(i);
                    assertThat(Arrays.stream(box(want)).anyMatch(x -> x != 0)).as(what + " gradient of " + params.get(i).name() + " is not zero")
                            .isTrue();
                    Numerics.assertClose(what + " packed grad " + params.get(i).name(), p.grads().get(i), want, TrainGoldenTest.gradTol(want));
                }

                // packed, with the attention probabilities recomputed per segment in backward
                Step r = step(m, TrainingBuffers.allocate(m.config(), packed.b(), packed.t(), ckpt, packed.b() * packed.t(), false),
                        packed, true, scale);
                assertThat(r.loss()).as(what + " recomputed-P loss").isCloseTo(s.loss(), org.assertj.core.data.Offset.offset(1e-5 * s.loss()));
                for (int i = 0; i < params.size(); i++) {
                    float[] want = s.grads().get(i);
                    Numerics.assertClose(what + " packed, recomputed-P grad " + params.get(i).name(), r.grads().get(i), want,
                            TrainGoldenTest.gradTol(want));
                }

                // the loss alone (evaluation) as well
                TrainingBuffers ev = TrainingBuffers.allocate(m.config(), packed.b(), packed.t(), false);
                double lp = m.forwardLoss(ev, packed.ids, packed.labels, packed.segmentIds, packed.b(), packed.t());
                assertThat(lp).as(what + " forwardLoss").isCloseTo(s.loss(), org.assertj.core.data.Offset.offset(1e-5 * s.loss()));
            }
        }
    }

    private static Float[] box(float[] a) {
        Float[] out = new Float[a.length];
        for (int i = 0; i < a.length; i++) out[i] = a[i];
        return out;
    }

    /**
     * The model itself never scores the last position of one example against the first token of
     * the next: raw labels (without the IGNORE that {@link Tokenized#concat} writes at each boundary)
     * give the same loss.
     */
    @Test
    void noTargetCrossesAnExampleBoundary() {
        try (LlamaModel m = LlamaModel.load(LlamaGolden.tinyModel("llama-gqa-f32"), new ScalarKernels())) {
            int[] ids = {3, 4, 5, 6, 7, 8, 9, 10};
            int[] seg = {1, 1, 1, 2, 2, 2, 2, 0};
            int[] masked = {3, 4, 5, -100, 7, 8, 9, -100};
            int[] raw = {3, 4, 5, 6, 7, 8, 9, -100};
            TrainingBuffers a = TrainingBuffers.allocate(m.config(), 1, 8, false);
            double want = m.forwardLoss(a, ids, masked, seg, 1, 8);
            assertThat(a.lastTargets()).isEqualTo(5);
            assertThat(m.forwardLoss(a, ids, raw, seg, 1, 8)).isEqualTo(want);
            assertThat(a.lastTargets()).isEqualTo(5);
        }
    }

    @Test
    void segmentsMustBeContiguous() {
        try (LlamaModel m = LlamaModel.load(LlamaGolden.tinyModel("llama-gqa-f32"), new ScalarKernels())) {
            TrainingBuffers a = TrainingBuffers.allocate(m.config(), 1, 6, false);
            int[] ids = {1, 2, 3, 4, 5, 6}, labels = ids.clone();
            assertThatThrownBy(() -> m.forwardLoss(a, ids, labels, new int[]{1, 1, 2, 2, 1, 1}, 1, 6))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("segment 1 of row 0 is not contiguous");
            assertThatThrownBy(() -> m.forwardLoss(a, ids, labels, new int[]{1, 1, -1, 2, 2, 2}, 1, 6))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("negative");
        }
    }
}
