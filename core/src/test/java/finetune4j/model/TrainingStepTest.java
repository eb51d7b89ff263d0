package finetune4j.model;

import finetune4j.ConfigException;
import finetune4j.Finetune4jException;
import finetune4j.engine.io.ModelWeights;
import finetune4j.engine.kernels.KernelSelector;
import finetune4j.engine.kernels.Kernels;
import finetune4j.engine.kernels.ScalarKernels;
import finetune4j.engine.tensor.DType;
import finetune4j.engine.tensor.NamedParam;
import finetune4j.testing.Numerics;
import finetune4j.testing.Numerics.Tol;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Invariants of the training step on the tiny models and the golden batch (B = 2, T = 12):
 * gradient checkpointing changes nothing, the chunked head equals one chunk, micro-batches
 * accumulate to the full batch (token-weighted), a frozen base yields no weight gradients but
 * passes gradients through, selection by name/regex, input errors, and saving a full fine-tune.
 */
class TrainingStepTest {
    static final int B = TrainGolden.B, T = TrainGolden.T;

    static LlamaModel load(String name) {
        return LlamaModel.load(LlamaGolden.tinyModel(name), KernelSelector.get());
    }

    /** Loss and copies of every gradient after one step on the golden batch. */
    record Step(double loss, List<float[]> grads) {
    }

    static Step step(LlamaModel m, TrainingBuffers a, int[] ids, int[] labels, int b, float scale) {
        m.zeroGradients();
        double loss = m.forwardBackward(a, ids, labels, b, T, scale);
        List<float[]> g = new ArrayList<>();
        for (NamedParam p : m.trainableParameters()) g.add(p.grad().clone());
        return new Step(loss, g);
    }

    /**
     * The recomputed layer runs the same kernels on the same inputs, so with the scalar kernels
     * the loss and every gradient are bit-identical. With the Vector API kernels they agree to the
     * last ulp or so: {@code lanewise(EXP)} is the SVML intrinsic once C2 has compiled a loop but
     * a per-lane {@code Math.exp} before (measured: 16 of 1024 lanes differ in the last bit), so
     * the same forward call can round differently depending on when it runs in the JVM's life.
     */
    @ParameterizedTest
    @ValueSource(strings = {"llama-gqa-f32", "qwen2-bias-f16", "llama-bias-bf16"})
    void checkpointingGivesTheSameLossAndGradients(String name) {
        for (Kernels k : new Kernels[]{new ScalarKernels(), KernelSelector.get()}) {
            boolean exact = k instanceof ScalarKernels;
            try (LlamaModel m = LlamaModel.load(LlamaGolden.tinyModel(name), k)) {
                m.makeTrainable(n -> true);
                int[] ids = TrainGolden.ids(), labels = TrainGolden.labels();
                Step off = step(m, TrainingBuffers.allocate(m.config(), B, T, false), ids, labels, B, 0.1f);
                Step on = step(m, TrainingBuffers.allocate(m.config(), B, T, true), ids, labels, B, 0.1f);
                if (exact) assertThat(on.loss()).isEqualTo(off.loss());
                else assertThat(on.loss()).isCloseTo(off.loss(), org.assertj.core.data.Offset.offset(1e-6 * off.loss()));
                List<NamedParam> params = m.trainableParameters();
                for (int i = 0; i < on.grads().size(); i++) {
                    float[] want = off.grads().get(i);
                    Numerics.assertClose(name + " " + k.name() + " checkpointed grad " + params.get(i).name(), on.grads().get(i),
                            want, exact ? Tol.abs(0) : TrainGoldenTest.gradTol(want));
                }
            }
        }
    }

    /**
     * Without the (B, H, T, T) probability buffer the backward recomputes P a block of query rows
     * at a time: the forward is untouched (the same loss bits), the gradients agree within the
     * rounding of a differently blocked product (scalar kernels: the reference recomputes in
     * double, so not bit for bit either).
     */
    @ParameterizedTest
    @ValueSource(strings = {"llama-gqa-f32", "qwen2-bias-f16", "llama-bias-bf16"})
    void recomputedAttentionProbabilitiesGiveTheSameLossAndGradients(String name) {
        for (Kernels k : new Kernels[]{new ScalarKernels(), KernelSelector.get()}) {
            try (LlamaModel m = LlamaModel.load(LlamaGolden.tinyModel(name), k)) {
                m.makeTrainable(n -> true);
                int[] ids = TrainGolden.ids(), labels = TrainGolden.labels();
                for (boolean ckpt : new boolean[]{false, true}) {
                    TrainingBuffers kept = TrainingBuffers.allocate(m.config(), B, T, ckpt, B * T, true);
                    TrainingBuffers recomputed = TrainingBuffers.allocate(m.config(), B, T, ckpt, B * T, false);
                    assertThat(kept.keepsAttentionProbabilities()).isTrue();
                    assertThat(recomputed.keepsAttentionProbabilities()).isFalse();
                    assertThat(recomputed.bytes()).isLessThan(kept.bytes());
                    Step want = step(m, kept, ids, labels, B, 0.1f), got = step(m, recomputed, ids, labels, B, 0.1f);
                    assertThat(got.loss()).as("the forward is the same").isEqualTo(want.loss());
                    List<NamedParam> params = m.trainableParameters();
                    for (int i = 0; i < got.grads().size(); i++) {
                        float[] w = want.grads().get(i);
                        Numerics.assertClose(name + " " + k.name() + " ckpt=" + ckpt + " recomputed-P grad " + params.get(i).name(),
                                got.grads().get(i), w, TrainGoldenTest.gradTol(w));
                    }
                }
            }
        }
    }

    @Test
    void longSequencesRecomputeTheAttentionProbabilitiesByDefault() {
        try (LlamaModel m = load("llama-gqa-f32")) {
            ModelConfig c = m.config();
            int h = c.numAttentionHeads();
            int shortT = 64, longT = (int) Math.sqrt(TrainingBuffers.KEEP_ATTENTION_MAX_BYTES / 4.0 / h) + 1;
            assertThat(TrainingBuffers.allocate(c, 1, shortT, false).keepsAttentionProbabilities()).isTrue();
            assertThat(TrainingBuffers.allocate(c, 1, longT, true).keepsAttentionProbabilities())
                    .as("1 × %d heads × %d² floats is over %d bytes", h, longT, TrainingBuffers.KEEP_ATTENTION_MAX_BYTES).isFalse();
        }
    }

    @Test
    void checkpointingKeepsOneLayerOfActivations() {
        try (LlamaModel m = load("llama-gqa-f32")) {
            ModelConfig c = m.config();
            TrainingBuffers all = TrainingBuffers.allocate(c, B, T, false), ckpt = TrainingBuffers.allocate(c, B, T, true);
            int L = c.numHiddenLayers(), bt = B * T, C = c.hiddenSize(), F = c.intermediateSize();
            // mid; rstd1, rstd2; q; k, v; gate, up
            long perLayer = 4L * ((long) bt * C + 2L * bt + (long) bt * c.qDim() + 2L * bt * c.kvDim() + 2L * bt * F);
            long resid = 4L * (L + 1) * bt * C;
            assertThat(all.activationBytes()).isEqualTo(resid + L * perLayer);
            assertThat(ckpt.activationBytes()).isEqualTo(resid + perLayer);
            assertThat(all.bytes() - all.activationBytes()).isEqualTo(ckpt.bytes() - ckpt.activationBytes());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-gqa-f32", "qwen2-bias-f16"})
    void chunkedHeadEqualsOneChunk(String name) {
        try (LlamaModel m = load(name)) {
            m.makeTrainable(n -> true);
            int[] ids = TrainGolden.ids(), labels = TrainGolden.labels();
            Step whole = step(m, TrainingBuffers.allocate(m.config(), B, T, false, B * T), ids, labels, B, 0.1f);
            for (int rows : new int[]{1, 3, 5}) {
                Step chunked = step(m, TrainingBuffers.allocate(m.config(), B, T, false, rows), ids, labels, B, 0.1f);
                // per row the same arithmetic; only the lm_head weight gradient (and the embedding's
                // when tied) is summed over rows in chunk order, and rows ≤ 4 take the GEMV path
                assertThat(chunked.loss()).isCloseTo(whole.loss(), org.assertj.core.data.Offset.offset(1e-6 * whole.loss()));
                for (int i = 0; i < whole.grads().size(); i++) {
                    Numerics.assertClose(name + " chunk " + rows + " grad " + i, chunked.grads().get(i), whole.grads().get(i),
                            TrainGoldenTest.gradTol(whole.grads().get(i)));
                }
            }
        }
    }

    @Test
    void microBatchesAccumulateToTheFullBatchTokenWeighted() {
        try (LlamaModel m = load("qwen2-bias-f16")) {
            m.makeTrainable(n -> true);
            int[] ids = TrainGolden.ids(), labels = TrainGolden.labels();
            int n = LlamaModel.countTargets(labels, B, T);
            TrainingBuffers a = TrainingBuffers.allocate(m.config(), B, T, false);
            Step full = step(m, a, ids, labels, B, 1f / n);
            m.zeroGradients();
            double loss = 0;
            for (int s = 0; s < B; s++) {                                   // 2 × 1 with the same 1/N scale
                int[] i1 = Arrays.copyOfRange(ids, s * T, (s + 1) * T), l1 = Arrays.copyOfRange(labels, s * T, (s + 1) * T);
                loss += m.forwardBackward(a, i1, l1, 1, T, 1f / n);
            }
            assertThat(loss).isCloseTo(full.loss(), org.assertj.core.data.Offset.offset(1e-5));
            List<NamedParam> params = m.trainableParameters();
            for (int i = 0; i < params.size(); i++) {
                Numerics.assertClose("accumulated " + params.get(i).name(), params.get(i).grad(), full.grads().get(i),
                        TrainGoldenTest.gradTol(full.grads().get(i)));
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen2-bias-f16", "llama-bias-bf16"})
    void frozenBaseGivesNoWeightGradientsButPassesGradientsThrough(String name) {
        try (LlamaModel m = load(name)) {
            List<NamedParam> params = m.makeTrainable(List.of(".*input_layernorm.weight"));
            assertThat(params).extracting(NamedParam::name)
                    .containsExactly("model.layers.0.input_layernorm.weight", "model.layers.1.input_layernorm.weight");
            for (LinearSlot s : m.linearSlots()) {
                assertThat(s).isInstanceOf(DenseLinear.class);              // still the stored-dtype base
                assertThat(s.trainableParameters()).isEmpty();
            }
            int[] ids = TrainGolden.ids(), labels = TrainGolden.labels();
            int n = LlamaModel.countTargets(labels, B, T);
            for (boolean ckpt : new boolean[]{false, true}) {
                m.zeroGradients();
                m.forwardBackward(TrainingBuffers.allocate(m.config(), B, T, ckpt), ids, labels, B, T, 1f / n);
                // layer 0's norm gradient needs the backward through every frozen layer above it
                for (NamedParam p : params) {
                    float[] want = TrainGolden.tensor(name + ".grad." + p.name());
                    Numerics.assertClose(name + " " + p.name(), p.grad(), want, TrainGoldenTest.gradTol(want));
                }
            }
        }
    }

    @Test
    void nothingTrainableStillGivesTheLossAndForwardLossAgrees() {
        try (LlamaModel m = load("llama3-rope-bf16")) {
            int[] ids = TrainGolden.ids(), labels = TrainGolden.labels();
            TrainingBuffers a = TrainingBuffers.allocate(m.config(), B, T, false);
            double sum = m.forwardBackward(a, ids, labels, B, T, 1f);
            assertThat(m.forwardLoss(a, ids, labels, B, T)).isEqualTo(sum);
            assertThat(a.lastTargets()).isEqualTo(LlamaModel.countTargets(labels, B, T));
            // the logits of the full forward give the same loss
            float[] logits = m.forwardBatch(ids, B, T, new int[]{T, 7}, true);
            double want = 0;
            int V = m.config().vocabSize();
            for (int r = 0; r < B * T; r++) {
                if (r % T == T - 1 || labels[r + 1] == -100) continue;
                double max = Double.NEGATIVE_INFINITY, s = 0;
                for (int j = 0; j < V; j++) max = Math.max(max, logits[r * V + j]);
                for (int j = 0; j < V; j++) s += Math.exp(logits[r * V + j] - max);
                want += Math.log(s) + max - logits[r * V + labels[r + 1]];
            }
            assertThat(sum).isCloseTo(want, org.assertj.core.data.Offset.offset(1e-4));
        }
    }

    @Test
    void forwardLossLeavesGradientsAlone() {
        try (LlamaModel m = load("llama-gqa-f32")) {
            List<NamedParam> params = m.makeTrainable(List.of("model\\.norm\\.weight", "model\\.layers\\.1\\..*"));
            m.forwardLoss(TrainingBuffers.allocate(m.config(), B, T, false), TrainGolden.ids(), TrainGolden.labels(), B, T);
            for (NamedParam p : params) for (float g : p.grad()) assertThat(g).isZero();
        }
    }

    @Test
    void selectionByNameOrRegexAndItsErrors() {
        try (LlamaModel m = load("llama-gqa-f32")) {
            assertThat(m.parameterNames()).hasSize(1 + 2 * 9 + 1).doesNotContain("lm_head.weight");
            assertThatThrownBy(() -> m.makeTrainable(List.of("lm_head.weight")))
                    .isInstanceOf(ConfigException.class)
                    .hasMessageContaining("'lm_head.weight'")
                    .hasMessageContaining("model.layers.{i}.self_attn.q_proj.weight")
                    .hasMessageContaining("tied");
            assertThatThrownBy(() -> m.makeTrainable(List.of("model.layers.(")))
                    .isInstanceOf(ConfigException.class).hasMessageContaining("regular expression");
            List<NamedParam> p = m.makeTrainable(List.of("model.embed_tokens.weight", ".*\\.mlp\\.down_proj\\.weight"));
            assertThat(p).extracting(NamedParam::name).containsExactly("model.embed_tokens.weight",
                    "model.layers.0.mlp.down_proj.weight", "model.layers.1.mlp.down_proj.weight");
            assertThat(m.linearSlots().getLast()).isInstanceOf(TrainableLinear.class);   // the tied head shares it
            assertThat(m.makeTrainable(List.of("model.embed_tokens.weight"))).hasSize(3); // idempotent
        }
        try (LlamaModel m = load("qwen2-bias-f16")) {
            List<NamedParam> p = m.makeTrainable(List.of(".*k_proj.bias", "lm_head.weight"));
            assertThat(p).extracting(NamedParam::name).containsExactly("model.layers.0.self_attn.k_proj.bias",
                    "model.layers.1.self_attn.k_proj.bias", "lm_head.weight");
        }
    }

    @Test
    void badInputsAreRejectedWithTheirPosition() {
        try (LlamaModel m = load("llama-gqa-f32")) {
            TrainingBuffers a = TrainingBuffers.allocate(m.config(), B, T, false);
            int[] ids = TrainGolden.ids(), labels = TrainGolden.labels();
            int[] badLabel = labels.clone();
            badLabel[T + 3] = 256;
            assertThatThrownBy(() -> m.forwardBackward(a, ids, badLabel, B, T, 1f))
                    .isInstanceOf(Finetune4jException.class).hasMessageContaining("label 256 at row 1, position 3");
            int[] badId = ids.clone();
            badId[2] = -1;
            assertThatThrownBy(() -> m.forwardBackward(a, badId, labels, B, T, 1f))
                    .isInstanceOf(Finetune4jException.class).hasMessageContaining("token id -1 at row 0, position 2");
            assertThatThrownBy(() -> m.forwardBackward(a, ids, labels, B, T + 1, 1f))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("exceeds the training buffers");
            assertThatThrownBy(() -> m.forwardBackward(a, ids, Arrays.copyOf(labels, 5), B, T, 1f))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("labels 5");
            TrainingBuffers big = TrainingBuffers.allocate(m.config(), 1, 200, false);
            assertThatThrownBy(() -> m.forwardBackward(big, new int[200], new int[200], 1, 200, 1f))
                    .isInstanceOf(Finetune4jException.class).hasMessageContaining("context of 128");
        }
    }

    @Test
    void fullFineTuneSavesAsAHfModelDirectory(@TempDir Path tmp) throws IOException {
        Path src = tmp.resolve("src");
        Files.createDirectories(src);
        for (String f : List.of("config.json", "generation_config.json", "model.safetensors")) {
            Files.copy(LlamaGolden.tinyModel("llama-bias-bf16").resolve(f), src.resolve(f));
        }
        Files.writeString(src.resolve("tokenizer.json"), "{\"version\": \"1.0\"}");
        try (LlamaModel m = LlamaModel.load(src, KernelSelector.get())) {
            List<NamedParam> params = m.makeTrainable(List.of("model.embed_tokens.weight", ".*o_proj.*", "model.norm.weight"));
            int[] ids = TrainGolden.ids(), labels = TrainGolden.labels();
            m.forwardBackward(TrainingBuffers.allocate(m.config(), B, T, false), ids, labels, B, T, 0.1f);
            for (NamedParam p : params) {                                    // one SGD step: values off the BF16 grid
                for (int i = 0; i < p.numel(); i++) p.data()[i] -= 0.37f * p.grad()[i];
            }
            float[] before = m.forwardAll(TrainGolden.SEQ_A);

            Path f32 = tmp.resolve("out-f32");
            List<Path> files = m.saveModel(f32, DType.F32, 40_000);         // small shards: an index
            assertThat(files).contains(f32.resolve("model.safetensors.index.json"), f32.resolve("config.json"),
                    f32.resolve("tokenizer.json"), f32.resolve("generation_config.json"));
            assertThat(Files.readString(f32.resolve("config.json"))).contains("\"torch_dtype\": \"float32\"");
            try (LlamaModel back = LlamaModel.load(f32)) {
                Numerics.assertClose("reloaded F32 logits", back.forwardAll(TrainGolden.SEQ_A), before, Tol.abs(0));
            }
            try (ModelWeights w = ModelWeights.open(f32)) {
                assertThat(w.names()).doesNotContain("lm_head.weight").hasSize(m.parameterNames().size());
                for (NamedParam p : params) assertThat(w.floats(p.name())).containsExactly(p.data());
            }

            Path bf16 = tmp.resolve("out-base-dtype");
            m.saveModel(bf16, null);
            try (ModelWeights w = ModelWeights.open(bf16); ModelWeights orig = ModelWeights.open(src)) {
                for (String name : orig.names()) {
                    assertThat(w.info(name).dtype()).as(name).isEqualTo(DType.BF16);
                    NamedParam p = params.stream().filter(q -> q.name().equals(name)).findFirst().orElse(null);
                    float[] want = p == null ? orig.floats(name) : roundBf16(p.data());
                    assertThat(w.floats(name)).as(name).containsExactly(want);  // frozen: the same bits; trained: rounded
                }
            }
            assertThatThrownBy(() -> m.saveModel(src, null)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("loaded from");
        }
    }

    private static float[] roundBf16(float[] a) {
        float[] out = new float[a.length];
        for (int i = 0; i < a.length; i++) out[i] = DType.bf16ToFloat(DType.floatToBf16(a[i]));
        return out;
    }
}
