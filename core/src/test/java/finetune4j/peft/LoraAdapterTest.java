package finetune4j.peft;

import finetune4j.peft.LoraConfig.Targets;
import finetune4j.ConfigException;
import finetune4j.engine.kernels.KernelSelector;
import finetune4j.engine.tensor.NamedParam;
import finetune4j.model.DenseLinear;
import finetune4j.model.LinearSlot;
import finetune4j.model.LlamaModel;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Attaching adapters to a model: target selection with PEFT's rules (suffix / exact names,
 * regex fullmatch, all-linear without lm_head), rank and alpha patterns, errors that list what
 * exists, exact trainable-parameter counts and PEFT's summary line, seeded initialisation,
 * the zero-B identity through the whole model, detach.
 */
class LoraAdapterTest {
    static final int[] IDS = {5, 17, 200, 3, 99, 42, 7, 128, 64, 1};

    static LlamaModel gqa() {
        return LlamaModel.load(LoraGolden.tinyModel("llama-gqa-f32"), KernelSelector.get());
    }

    static List<String> select(Targets t) {
        try (LlamaModel m = gqa()) {
            return LoraAdapter.attach(m, LoraSpec.of(2, 4, t), 0).targetedModules();
        }
    }

    @Test
    void namesMatchByDotSuffixOrExactName() {
        assertThat(select(Targets.names("q_proj"))).containsExactly(
                "model.layers.0.self_attn.q_proj", "model.layers.1.self_attn.q_proj");
        assertThat(select(Targets.names("mlp.up_proj", "model.layers.1.self_attn.o_proj"))).containsExactly(
                "model.layers.0.mlp.up_proj", "model.layers.1.self_attn.o_proj", "model.layers.1.mlp.up_proj");
        assertThat(select(Targets.names("lm_head"))).containsExactly("lm_head");
    }

    @Test
    void regexMustMatchTheWholeName() {
        assertThat(select(new Targets.Regex(".*layers\\.1\\..*_proj"))).hasSize(7);
        assertThat(select(Targets.parse("re:.*\\.(k|v)_proj"))).containsExactly(
                "model.layers.0.self_attn.k_proj", "model.layers.0.self_attn.v_proj",
                "model.layers.1.self_attn.k_proj", "model.layers.1.self_attn.v_proj");
        assertThatThrownBy(() -> select(new Targets.Regex("q_proj")))   // re.fullmatch: no partial matches
                .isInstanceOf(ConfigException.class).hasMessageContaining("'q_proj'").hasMessageContaining("full name");
    }

    @Test
    void allLinearIsEveryLinearButTheHead() {
        List<String> all = select(Targets.parse("ALL-LINEAR"));
        assertThat(all).hasSize(14).doesNotContain("lm_head");
        assertThat(all.getFirst()).isEqualTo("model.layers.0.self_attn.q_proj");
        assertThat(all.getLast()).isEqualTo("model.layers.1.mlp.down_proj");
    }

    @Test
    void aTargetMatchingNothingIsAnErrorListingTheModulesThatExist() {
        assertThatThrownBy(() -> select(Targets.names("q_proj", "v_porj")))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("[v_porj] matches none of")
                .hasMessageContaining("model.layers.{0..1}.{self_attn.q_proj, self_attn.k_proj, self_attn.v_proj, "
                        + "self_attn.o_proj, mlp.gate_proj, mlp.up_proj, mlp.down_proj}, lm_head]");
        assertThatThrownBy(() -> select(Targets.names("proj"))).isInstanceOf(ConfigException.class)
                .hasMessageContaining("[proj]");
    }

    @Test
    void badSpecsAreConfigErrors() {
        assertThatThrownBy(() -> LoraSpec.of(0, 8, new Targets.AllLinear("all-linear"))).isInstanceOf(ConfigException.class)
                .hasMessageContaining("r = 0").hasMessageContaining("positive");
        assertThatThrownBy(() -> LoraSpec.builder(8, 8).rankPattern(Map.of("down_proj", 0)).build())
                .isInstanceOf(ConfigException.class).hasMessageContaining("rank_pattern['down_proj'] = 0");
        assertThatThrownBy(() -> LoraSpec.builder(8, 8).dropout(1.0).build())
                .isInstanceOf(ConfigException.class).hasMessageContaining("lora_dropout");
        assertThatThrownBy(() -> LoraSpec.of(8, 8, new Targets.Regex("q_proj("))).isInstanceOf(ConfigException.class)
                .hasMessageContaining("target_modules");
        assertThatThrownBy(() -> LoraSpec.of(8, 8, Targets.names())).isInstanceOf(ConfigException.class)
                .hasMessageContaining("non-empty");
        assertThatThrownBy(() -> LoraSpec.builder(8, 8).exclude(new Targets.AllLinear("all-linear")).build())
                .isInstanceOf(ConfigException.class).hasMessageContaining("exclude_modules");
    }

    @Test
    void unsetTargetsArePeftsLlamaDefaultAndExcludesWin() {
        assertThat(select(Targets.UNSET)).containsExactly("model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj",
                "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj");
        try (LlamaModel m = gqa()) {
            LoraSpec spec = LoraSpec.builder(2, 2).targets(new Targets.AllLinear("all-linear"))
                    .exclude(Targets.names("mlp.down_proj", "model.layers.0.self_attn.q_proj")).build();
            assertThat(LoraAdapter.attach(m, spec, 0).targetedModules()).hasSize(11)
                    .doesNotContain("model.layers.0.mlp.down_proj", "model.layers.1.mlp.down_proj", "model.layers.0.self_attn.q_proj");
        }
        try (LlamaModel m = gqa()) {
            LoraSpec spec = LoraSpec.builder(2, 2).targets(Targets.names("q_proj")).exclude(new Targets.Regex(".*q_proj")).build();
            assertThatThrownBy(() -> LoraAdapter.attach(m, spec, 0)).isInstanceOf(ConfigException.class)
                    .hasMessageContaining("exclude_modules").hasMessageContaining("are excluded");
        }
    }

    @Test
    void specFromLoraConfigKeepsEveryLayerSettingAndRefusesWhatIsNotImplemented() {
        LoraConfig c = LoraConfig.builder().r(6).loraAlpha(12).loraDropout(0.1).useRslora(true).useDora(true)
                .targetModules(new Targets.Regex(".*\\.(q|v)_proj")).excludeModules(Targets.names("model.layers.1.self_attn.v_proj"))
                .rankPattern(Map.of("q_proj", 3)).alphaPattern(Map.of("v_proj", 5.0)).initLoraWeights("gaussian").build();
        LoraSpec s = LoraSpec.from(c);
        assertThat(s).isEqualTo(new LoraSpec(6, 12, 0.1, true, true, c.targetModules(), c.excludeModules(), List.of(), List.of(),
                Map.of("q_proj", 3), Map.of("v_proj", 5.0), LoraSpec.InitWeights.GAUSSIAN));
        List<String> modules = new java.util.ArrayList<>();
        try (LlamaModel m = gqa()) {
            for (LinearSlot sl : m.linearSlots()) modules.add(sl.name());
            LoraAdapter a = LoraAdapter.attach(m, c, 0);
            assertThat(a.targetedModules()).isEqualTo(c.selectTargets(modules));   // the config's own PEFT matching
            for (LoraWeights w : a.modules()) {
                assertThat(w.r()).isEqualTo(c.rank(w.module()));
                assertThat(w.scaling()).isEqualTo((float) c.scaling(w.module()));
            }
        }
        assertThat(LoraSpec.from(c.toBuilder().initLoraWeights("false").build()).init()).isEqualTo(LoraSpec.InitWeights.NONE);
        assertThat(LoraSpec.from(LoraConfig.builder().build()).init()).isEqualTo(LoraSpec.InitWeights.KAIMING_UNIFORM);
        assertThatThrownBy(() -> LoraSpec.from(c.toBuilder().initLoraWeights("pissa").build()))
                .isInstanceOf(ConfigException.class).hasMessageContaining("init_lora_weights");
        LoraConfig layered = c.toBuilder().targetModules(Targets.names("q_proj", "mlp.up_proj")).excludeModules(Targets.UNSET)
                .layersToTransform(List.of(1)).build();
        try (LlamaModel m = gqa()) {
            LoraAdapter a = LoraAdapter.attach(m, layered, 0);
            assertThat(a.targetedModules()).containsExactly("model.layers.1.self_attn.q_proj", "model.layers.1.mlp.up_proj")
                    .isEqualTo(layered.selectTargets(modules));
        }
        assertThatThrownBy(() -> LoraSpec.builder(2, 2).targets(new Targets.AllLinear("all-linear")).layers(List.of(0), List.of()).build())
                .isInstanceOf(ConfigException.class).hasMessageContaining("layers_to_transform");
        LoraSpec patterned = LoraSpec.builder(2, 2).targets(Targets.names("q_proj")).layers(List.of(0), List.of("layers")).build();
        assertThat(TargetSelector.inLayers(patterned, "model.layers.0.self_attn.q_proj")).isTrue();
        assertThat(TargetSelector.inLayers(patterned, "model.layers.1.self_attn.q_proj")).isFalse();
        LoraSpec wrongPattern = LoraSpec.builder(2, 2).targets(Targets.names("q_proj")).layers(List.of(0), List.of("blocks")).build();
        assertThat(TargetSelector.inLayers(wrongPattern, "model.layers.0.self_attn.q_proj")).isFalse();
        assertThatThrownBy(() -> LoraSpec.from(c.toBuilder().bias("all").build()))
                .isInstanceOf(ConfigException.class).hasMessageContaining("bias");
    }

    @Test
    void rankAndAlphaPatternsFollowPeftGetPatternKey() {
        Map<String, Integer> ranks = new LinkedHashMap<>();
        ranks.put("layers.1.mlp.down_proj", 6);   // more specific first: first match wins, as in PEFT
        ranks.put("down_proj", 2);
        ranks.put("own_proj", 9);                 // needs a '.' boundary: matches nothing
        LoraSpec spec = LoraSpec.builder(4, 8).rankPattern(ranks)
                .alphaPattern(Map.of("model\\.layers\\.[01]\\.self_attn\\.q_proj", 3.0)).build();
        assertThat(spec.rankFor("model.layers.0.mlp.down_proj")).isEqualTo(2);
        assertThat(spec.rankFor("model.layers.1.mlp.down_proj")).isEqualTo(6);
        assertThat(spec.rankFor("model.layers.1.mlp.up_proj")).isEqualTo(4);
        assertThat(spec.alphaFor("model.layers.1.self_attn.q_proj")).isEqualTo(3.0);
        assertThat(spec.alphaFor("model.layers.1.self_attn.k_proj")).isEqualTo(8.0);
        assertThat(spec.scalingFor("model.layers.0.mlp.down_proj")).isEqualTo(4f);
        assertThat(LoraSpec.builder(4, 8).rslora(true).build().scalingFor("x")).isEqualTo(4f);
        try (LlamaModel m = gqa()) {
            LoraAdapter a = LoraAdapter.attach(m, LoraSpec.builder(4, 8).targets(new Targets.AllLinear("all-linear")).rankPattern(ranks).build(), 1);
            assertThat(a.warnings()).containsExactly("rank_pattern['own_proj'] matches no targeted module and is ignored");
            assertThat(a.modules().get(13).r()).isEqualTo(6);
            assertThat(a.modules().get(13).a().shape()).containsExactly(6, 64);
        }
    }

    @Test
    void trainableParamCountForRank8OnQAndVIs1792AsPeftCounts() {
        var want = LoraGolden.manifest().get("count_gqa_r8_qv");
        try (LlamaModel m = gqa()) {
            LoraAdapter a = LoraAdapter.attach(m, LoraSpec.of(8, 16, Targets.names("q_proj", "v_proj")), 0);
            // per layer: q (32 out) 8·32 + 32·8 = 512, v (16 out) 8·32 + 16·8 = 384
            assertThat(a.trainableCount()).isEqualTo(1792).isEqualTo(want.get("trainable_params").longValue());
            assertThat(a.allParameterCount()).isEqualTo(want.get("all_params").longValue());
            assertThat(a.summary()).isEqualTo("trainable params: 1,792 || all params: 28,576 || trainable%: 6.2710");
            assertThat(a.trainableParameters()).extracting(NamedParam::name).containsExactly(
                    "model.layers.0.self_attn.q_proj.lora_A.weight", "model.layers.0.self_attn.q_proj.lora_B.weight",
                    "model.layers.0.self_attn.v_proj.lora_A.weight", "model.layers.0.self_attn.v_proj.lora_B.weight",
                    "model.layers.1.self_attn.q_proj.lora_A.weight", "model.layers.1.self_attn.q_proj.lora_B.weight",
                    "model.layers.1.self_attn.v_proj.lora_A.weight", "model.layers.1.self_attn.v_proj.lora_B.weight");
            assertThat(a.trainableParameters().get(2).shape()).containsExactly(8, 32);
            assertThat(a.trainableParameters().get(3).shape()).containsExactly(16, 8);
        }
    }

    @Test
    void aDoraAdapterOnATiedHeadCountsItsParametersAndWarns() {
        try (LlamaModel m = gqa()) {
            long base = m.parameterCount();
            LoraAdapter a = LoraAdapter.attach(m, LoraSpec.builder(2, 2).dora(true).targets(Targets.names("lm_head")).build(), 0);
            assertThat(a.trainableCount()).isEqualTo(2 * 32 + 256 * 2 + 256);
            assertThat(a.allParameterCount()).isEqualTo(base + a.trainableCount());
            assertThat(a.warnings()).anyMatch(w -> w.contains("tied"));
            assertThat(a.trainableParameters().getLast().name()).isEqualTo("lm_head.lora_magnitude_vector");
        }
    }

    @Test
    void kaimingInitIsSeededPerModuleAndBoundedByOneOverSqrtIn() {
        try (LlamaModel m1 = gqa(); LlamaModel m2 = gqa()) {
            LoraAdapter qv = LoraAdapter.attach(m1, LoraSpec.of(8, 16, Targets.names("q_proj", "v_proj")), 42);
            LoraAdapter q = LoraAdapter.attach(m2, LoraSpec.of(8, 16, Targets.names("q_proj")), 42);
            // same seed, same module → same A whatever else is targeted; B starts at zero
            assertThat(q.modules().getFirst().aData()).isEqualTo(qv.modules().getFirst().aData());
            assertThat(qv.modules().get(1).aData()).isNotEqualTo(qv.modules().getFirst().aData());
            for (LoraWeights w : qv.modules()) {
                assertThat(w.bData()).containsOnly(0f);
                float bound = (float) (1 / Math.sqrt(w.in()));
                assertThat(maxAbs(w.aData())).isLessThanOrEqualTo(bound);
            }
        }
        LoraWeights big = LoraWeights.zeros("model.layers.0.mlp.down_proj", 4, 4096, 1, 1f, 0, false);
        LoraAdapter.initialise(big, LoraSpec.InitWeights.KAIMING_UNIFORM, 7);
        double bound = 1 / 64.0;   // 1/√4096
        assertThat(variance(big.aData()) * 3 / (bound * bound)).isBetween(0.97, 1.03);   // U(−b, b): var = b²/3
        LoraWeights other = LoraWeights.zeros("model.layers.0.mlp.down_proj", 4, 4096, 1, 1f, 0, false);
        LoraAdapter.initialise(other, LoraSpec.InitWeights.KAIMING_UNIFORM, 8);
        assertThat(other.aData()).isNotEqualTo(big.aData());
    }

    @Test
    void gaussianInitHasStdOneOverRankAndNoneInitsBothLikeNnLinear() {
        LoraWeights g = LoraWeights.zeros("m", 4, 4096, 3, 1f, 0, false);
        LoraAdapter.initialise(g, LoraSpec.InitWeights.GAUSSIAN, 1);
        assertThat(Math.sqrt(variance(g.aData())) * 4).isBetween(0.98, 1.02);   // PEFT: normal_(std = 1/r)
        assertThat(g.bData()).containsOnly(0f);
        LoraWeights n = LoraWeights.zeros("m", 4, 100, 50, 1f, 0, false);
        LoraAdapter.initialise(n, LoraSpec.InitWeights.NONE, 1);
        assertThat(maxAbs(n.bData())).isLessThanOrEqualTo(0.5f);   // 1/√r
        assertThat(variance(n.bData()) * 3 / 0.25).isBetween(0.85, 1.15);
    }

    @Test
    void zeroInitialisedBLeavesModelLogitsBitIdentical() {
        try (LlamaModel m = LlamaModel.load(LoraGolden.tinyModel("llama-bias-bf16"), KernelSelector.get())) {
            float[] base = m.forwardAll(IDS);
            LoraAdapter a = LoraAdapter.attach(m, LoraSpec.builder(8, 16).rslora(true).targets(new Targets.AllLinear("all-linear")).build(), 3);
            LoraAdapter.attach(m, LoraSpec.builder(4, 4).targets(Targets.names("lm_head", "q_proj"))
                    .init(LoraSpec.InitWeights.GAUSSIAN).build(), 4, 0.5f);
            assertThat(m.forwardAll(IDS)).isEqualTo(base);
            a.setTraining(true);
            assertThat(m.forwardAll(IDS)).isEqualTo(base);
        }
    }

    @Test
    void detachRestoresTheBaseLayers() {
        try (LlamaModel m = gqa()) {
            float[] base = m.forwardAll(IDS);
            LoraAdapter a = LoraAdapter.attach(m, LoraSpec.builder(4, 8).init(LoraSpec.InitWeights.NONE)
                    .targets(Targets.names("q_proj", "down_proj")).build(), 1);
            LoraAdapter b = LoraAdapter.attach(m, LoraSpec.builder(2, 8).init(LoraSpec.InitWeights.NONE)
                    .targets(Targets.names("q_proj")).build(), 2, 0.5f);
            float[] both = m.forwardAll(IDS);
            assertThat(both).isNotEqualTo(base);
            a.detach();
            assertThat(slot(m, "model.layers.0.mlp.down_proj")).isInstanceOf(DenseLinear.class);
            assertThat(((LoraLinear) slot(m, "model.layers.0.self_attn.q_proj")).adapters()).hasSize(1);
            b.detach();
            for (LinearSlot s : m.linearSlots()) assertThat(s).isInstanceOf(DenseLinear.class);
            assertThat(m.forwardAll(IDS)).isEqualTo(base);
        }
    }

    @Test
    void doraNeedsADenseBaseWeight() {
        try (LlamaModel m = gqa()) {
            String name = "model.layers.0.self_attn.q_proj";
            m.replaceLinear(name, s -> new GemmBase((DenseLinear) s, m.kernels()));   // hides the weight
            assertThatThrownBy(() -> LoraAdapter.attach(m, LoraSpec.builder(2, 2).dora(true).targets(Targets.names("q_proj")).build(), 0))
                    .isInstanceOf(ConfigException.class).hasMessageContaining("use_dora").hasMessageContaining(name)
                    .hasMessageContaining("GemmBase");
            assertThat(slot(m, "model.layers.1.self_attn.q_proj")).isInstanceOf(DenseLinear.class);   // nothing half-attached
        }
    }

    static LinearSlot slot(LlamaModel m, String name) {
        for (LinearSlot s : m.linearSlots()) if (s.name().equals(name)) return s;
        throw new IllegalArgumentException(name);
    }

    static float maxAbs(float[] a) {
        float m = 0;
        for (float v : a) m = Math.max(m, Math.abs(v));
        return m;
    }

    static double variance(float[] a) {
        double mean = 0;
        for (float v : a) mean += v;
        mean /= a.length;
        double var = 0;
        for (float v : a) var += (v - mean) * (v - mean);
        return var / a.length;
    }
}
