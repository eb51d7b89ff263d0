package finetune4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import finetune4j.engine.kernels.KernelSelector;
import finetune4j.engine.kernels.Kernels;
import finetune4j.engine.kernels.ScalarKernels;
import finetune4j.engine.io.ModelWeights;
import finetune4j.engine.io.TensorInfo;
import finetune4j.testing.Numerics;
import finetune4j.testing.Numerics.Tol;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The model against the plain-torch reference of transformers' LlamaForCausalLM
 * ({@code tools/golden/llama_reference.py}) on four tiny random models: F32 tied GQA Llama,
 * Qwen2 with q/k/v bias in F16, llama3 rope_scaling in BF16, Llama with attention/mlp bias,
 * head_dim ≠ C/H and linear rope scaling in BF16. Prefill, KV-cache decode, chunked prefill and
 * right-padded batches must all give the reference logits.
 */
class LlamaModelTest {
    /** FP32 compute of the same stored weights: only summation order differs from torch. */
    static final Tol LOGITS = Tol.abs(1e-4).rel(1e-5);

    private static int[] seq(String model, String which) {
        return LlamaGolden.ints(LlamaGolden.manifest().get("tiny").get(model).get("seq_" + which));
    }

    private static float[] ref(String model, String which) {
        return LlamaGolden.tensor(model + "." + which + ".logits");
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-gqa-f32", "qwen2-bias-f16", "llama3-rope-bf16", "llama-bias-bf16"})
    void prefillLogitsMatchReferenceAtEveryPosition(String name) {
        for (Kernels k : new Kernels[]{new ScalarKernels(), KernelSelector.get()}) {
            try (LlamaModel m = LlamaModel.load(LlamaGolden.tinyModel(name), k)) {
                for (String which : new String[]{"a", "b"}) {
                    float[] want = ref(name, which);
                    float[] got = m.forwardAll(seq(name, which));
                    assertThat(got).hasSameSizeAs(want);
                    Numerics.assertClose(name + " " + k.name() + " prefill logits seq " + which, got, want, LOGITS);
                    int[] ids = seq(name, which);
                    int V = m.config().vocabSize();
                    Numerics.assertClose(name + " last-position logits", m.forward(ids), 0, want, (ids.length - 1) * V, V, LOGITS);
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-gqa-f32", "qwen2-bias-f16", "llama3-rope-bf16", "llama-bias-bf16"})
    void decodeWithKvCacheMatchesReferenceStepByStep(String name) {
        try (LlamaModel m = LlamaModel.load(LlamaGolden.tinyModel(name))) {
            int[] ids = seq(name, "a");
            float[] want = ref(name, "a");
            int V = m.config().vocabSize();
            Session s = m.newSession(ids.length);
            for (int t = 0; t < ids.length; t++) {
                float[] logits = s.step(ids[t]);
                Numerics.assertClose(name + " decode step " + t, logits, 0, want, t * V, V, LOGITS);
                assertThat(s.position()).isEqualTo(t + 1);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-gqa-f32", "llama3-rope-bf16"})
    void prefillThenDecodeMatchesReference(String name) {
        try (LlamaModel m = LlamaModel.load(LlamaGolden.tinyModel(name))) {
            int[] ids = seq(name, "a");
            float[] want = ref(name, "a");
            int V = m.config().vocabSize();
            Session s = m.newSession(32);
            float[] logits = s.feed(Arrays.copyOf(ids, 5));                       // prompt in one pass
            Numerics.assertClose(name + " prefill(5) last", logits, 0, want, 4 * V, V, LOGITS);
            for (int t = 5; t < 9; t++) {
                Numerics.assertClose(name + " step " + t, s.step(ids[t]), 0, want, t * V, V, LOGITS);
            }
            logits = s.feed(Arrays.copyOfRange(ids, 9, ids.length));              // a second chunk with past > 0
            Numerics.assertClose(name + " feed(9..) last", logits, 0, want, (ids.length - 1) * V, V, LOGITS);

            s.rewind(5);                                                           // forget and redo positions 5..
            logits = s.feed(Arrays.copyOfRange(ids, 5, ids.length));
            Numerics.assertClose(name + " after rewind", logits, 0, want, (ids.length - 1) * V, V, LOGITS);
        }
    }

    @Test
    void promptLongerThanOneChunkIsPrefilledInSeveralPassesWithTheSameResult() throws Exception {
        // the tiny weights under a config with a longer context, so a prompt can exceed Session.CHUNK
        java.nio.file.Path dir = LlamaGolden.tinyModel("llama-gqa-f32");
        String json = java.nio.file.Files.readString(dir.resolve("config.json"))
                .replace("\"max_position_embeddings\": 128", "\"max_position_embeddings\": 1024");
        ModelConfig cfg = ModelConfig.parse("config.json", json);
        assertThat(cfg.maxContext()).isEqualTo(1024);
        try (SafetensorsSource src = SafetensorsSource.open(dir)) {
            LlamaModel m = LlamaModel.fromWeights(cfg, GenerationConfig.defaults(), src, KernelSelector.get());
            int n = Session.CHUNK + 44;
            int[] ids = new int[n];
            for (int i = 0; i < n; i++) ids[i] = (i * 37 + 11) % cfg.vocabSize();
            float[] whole = m.forwardAll(ids);                                  // one pass, M = n
            int V = cfg.vocabSize();
            Session s = m.newSession(n + 1);
            float[] logits = s.feed(ids);                                       // passes of CHUNK, then 44
            Numerics.assertClose("chunked prefill", logits, 0, whole, (n - 1) * V, V, Tol.abs(1e-5).rel(1e-5));
            assertThat(s.position()).isEqualTo(n);
            s.rewind(Session.CHUNK - 3);                                        // a step after a rewind across the chunk edge
            Numerics.assertClose("step after rewind", s.step(ids[Session.CHUNK - 3]), 0, whole,
                    (Session.CHUNK - 3) * V, V, Tol.abs(1e-5).rel(1e-5));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-gqa-f32", "qwen2-bias-f16", "llama-bias-bf16"})
    void rightPaddedBatchGivesEachSequencesOwnLogits(String name) {
        try (LlamaModel m = LlamaModel.load(LlamaGolden.tinyModel(name))) {
            int[] a = seq(name, "a"), b = seq(name, "b");
            int T = a.length, V = m.config().vocabSize();
            int[] ids = new int[2 * T];
            System.arraycopy(a, 0, ids, 0, T);
            System.arraycopy(b, 0, ids, T, b.length);
            Arrays.fill(ids, T + b.length, 2 * T, 0);                           // padding
            int[] lengths = {T, b.length};
            float[] all = m.forwardBatch(ids, 2, T, lengths, true);               // (2T, V)
            Numerics.assertClose(name + " batch row 0", all, 0, ref(name, "a"), 0, T * V, LOGITS);
            Numerics.assertClose(name + " batch row 1", all, T * V, ref(name, "b"), 0, b.length * V, LOGITS);
            float[] last = m.forwardBatch(ids, 2, T, lengths, false);             // (2, V)
            Numerics.assertClose(name + " batch last 0", last, 0, ref(name, "a"), (T - 1) * V, V, LOGITS);
            Numerics.assertClose(name + " batch last 1", last, V, ref(name, "b"), (b.length - 1) * V, V, LOGITS);
        }
    }

    @Test
    void trainingActivationsGiveTheSameLogitsAndKeepEveryLayer() {
        String name = "llama-gqa-f32";
        try (LlamaModel m = LlamaModel.load(LlamaGolden.tinyModel(name))) {
            int[] a = seq(name, "a");
            Activations acts = Activations.forTraining(m.config(), 1, a.length);
            m.forward(acts, a, 1, a.length, null, LlamaModel.Logits.ALL);
            Numerics.assertClose("training-layout logits", acts.logits(), ref(name, "a"), LOGITS);
            assertThat(acts.resid[0]).isNotSameAs(acts.resid[1]);                 // per-layer buffers kept
            assertThat(acts.q[0]).isNotSameAs(acts.q[1]);
            // attention probabilities: causal rows summing to 1
            float[] att = acts.att[1];
            int H = m.config().numAttentionHeads(), T = a.length;
            for (int h = 0; h < H; h++) {
                for (int i = 0; i < T; i++) {
                    double sum = 0;
                    for (int j = 0; j < T; j++) {
                        float p = att[(h * T + i) * T + j];
                        if (j > i) assertThat(p).isZero();
                        sum += p;
                    }
                    assertThat(sum).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-5));
                }
            }
        }
    }

    @Test
    void parameterCountAndBytesMatchTheFile() {
        for (String name : LlamaGolden.TINY) {
            try (LlamaModel m = LlamaModel.load(LlamaGolden.tinyModel(name));
                 ModelWeights w = ModelWeights.open(LlamaGolden.tinyModel(name))) {
                long numel = 0, bytes = 0;
                for (String t : w.names()) {
                    TensorInfo info = w.info(t);
                    numel += info.numel();
                    bytes += info.rank() == 1 ? 4 * info.numel() : info.byteSize();   // vectors are held as FP32
                }
                assertThat(m.parameterCount()).as(name).isEqualTo(numel);
                assertThat(m.weightBytes()).as(name).isEqualTo(bytes);
            }
        }
        try (LlamaModel m = LlamaModel.load(LlamaGolden.tinyModel("llama-gqa-f32"))) {
            // V·C + L·(2C + C·C + 2·(C/2)·C + C·C + 3·F·C) + C with V=256, C=32, F=64, KVH·D=16, L=2
            assertThat(m.parameterCount()).isEqualTo(256 * 32 + 2 * (64 + 1024 + 512 + 512 + 1024 + 3 * 2048) + 32);
            // one decode step reads every matrix, the tied head (= the whole embedding) and one embedding row
            long perToken = 4L * (256 * 32 + 32 + 2 * (64 + 1024 + 512 + 512 + 1024 + 3 * 2048) + 32);
            assertThat(m.decodeBytesPerToken()).isEqualTo(perToken);
        }
    }

    @Test
    void slotsCarryHfNamesAndCanBeWrapped() {
        try (LlamaModel m = LlamaModel.load(LlamaGolden.tinyModel("qwen2-bias-f16"))) {
            assertThat(m.linearSlots()).hasSize(2 * 7 + 1);
            assertThat(m.linearSlots().getFirst().name()).isEqualTo("model.layers.0.self_attn.q_proj");
            assertThat(m.linearSlots().getLast().name()).isEqualTo("lm_head");
            int[] a = seq("qwen2-bias-f16", "a");
            float[] before = m.forward(a);

            // a pass-through wrapper (what a LoRA with B = 0 is) changes nothing
            m.replaceLinear("model.layers.1.mlp.down_proj", Delegate::new);
            Numerics.assertClose("identity wrapper", m.forward(a), before, Tol.abs(0));
            assertThat(m.linearSlots().get(13)).isInstanceOf(Delegate.class);

            // a wrapper that changes its output changes the logits
            m.replaceLinear("model.layers.0.self_attn.v_proj", base -> new Delegate(base) {
                @Override
                public void forward(float[] out, int outOff, float[] x, int xOff, int rows) {
                    super.forward(out, outOff, x, xOff, rows);
                    for (int i = 0; i < rows * outFeatures(); i++) out[outOff + i] *= 1.5f;
                }
            });
            float[] after = m.forward(a);
            double diff = 0;
            for (int i = 0; i < after.length; i++) diff = Math.max(diff, Math.abs(after[i] - before[i]));
            assertThat(diff).isGreaterThan(1e-3);
        }
    }

    /** A LinearSlot that forwards to the slot it wraps, as PEFT's base_layer. */
    static class Delegate implements LinearSlot {
        final LinearSlot base;

        Delegate(LinearSlot base) {
            this.base = base;
        }

        public String name() {
            return base.name();
        }

        public int inFeatures() {
            return base.inFeatures();
        }

        public int outFeatures() {
            return base.outFeatures();
        }

        public void forward(float[] out, int outOff, float[] x, int xOff, int m) {
            base.forward(out, outOff, x, xOff, m);
        }

        public long parameterCount() {
            return base.parameterCount();
        }

        public long weightBytes() {
            return base.weightBytes();
        }
    }

    @Test
    void modelBuiltFromInMemoryWeightsEqualsTheLoadedOne() {
        String name = "llama-gqa-f32";
        try (ModelWeights w = ModelWeights.open(LlamaGolden.tinyModel(name))) {
            java.util.Map<String, finetune4j.engine.tensor.Weight> mats = new java.util.HashMap<>();
            java.util.Map<String, float[]> vecs = new java.util.HashMap<>();
            for (String t : w.names()) {
                if (w.info(t).rank() == 2) {
                    finetune4j.engine.tensor.Weight wt = w.weight(t);
                    mats.put(t, finetune4j.engine.tensor.Weight.ofArray(t, wt.toFloatArray(), wt.rows(), wt.cols()));
                } else {
                    vecs.put(t, w.floats(t));
                }
            }
            ModelConfig cfg = ModelConfig.load(LlamaGolden.tinyModel(name));
            LlamaModel m = LlamaModel.fromWeights(cfg, GenerationConfig.defaults(), WeightSource.of("memory", mats, vecs),
                    KernelSelector.get());
            Numerics.assertClose("in-memory model", m.forwardAll(seq(name, "a")), ref(name, "a"), LOGITS);
        }
    }

    @Test
    void manifestRecordsTheInputs() {
        JsonNode tiny = LlamaGolden.manifest().get("tiny");
        for (String name : LlamaGolden.TINY) assertThat(tiny.has(name)).as(name).isTrue();
    }
}
