package finetune4j.train;

import finetune4j.ConfigException;
import finetune4j.engine.tensor.NamedParam;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Optimizer contracts beside the torch goldens: binding, decay exclusions, bad settings, clipping edge cases. */
class OptimizerTest {
    static NamedParam param(String name, float... values) {
        NamedParam p = NamedParam.zeros(name, values.length);
        System.arraycopy(values, 0, p.data(), 0, values.length);
        return p;
    }

    @Test
    void hfWeightDecayExcludesBiasesAndNorms() {
        WeightDecay wd = WeightDecay.hf(0.1);
        for (String n : List.of("model.norm.weight", "model.layers.3.input_layernorm.weight", "model.layers.3.post_attention_layernorm.weight",
                "model.layers.0.self_attn.q_proj.bias", "model.layers.0.self_attn.q_proj.lora_B.bias", "model.layers.0.q_norm.weight", "model.RMSNorm.weight")) {
            assertThat(wd.rateFor(n)).as(n).isZero();
        }
        for (String n : List.of("model.layers.0.self_attn.q_proj.lora_A.weight", "model.embed_tokens.weight", "lm_head.weight",
                "model.layers.0.mlp.up_proj.lora_magnitude_vector", "model.normalizer.weight")) {
            assertThat(wd.rateFor(n)).as(n).isEqualTo(0.1);
        }
        assertThat(WeightDecay.all(0.1).rateFor("model.norm.weight")).isEqualTo(0.1);
        assertThatThrownBy(() -> WeightDecay.hf(-1)).isInstanceOf(ConfigException.class).hasMessageContaining("weight_decay = -1.0");
        assertThatThrownBy(() -> new WeightDecay(0.1, List.of("("))).isInstanceOf(ConfigException.class);
    }

    @Test
    void excludedParametersAreNotDecayed() {
        NamedParam w = param("layer.weight", 1f), b = param("layer.bias", 1f);
        // zero gradients: only decay moves a parameter (AdamW's update is 0/ (0 + eps) = 0)
        new AdamW(AdamW.Config.defaults(), WeightDecay.hf(0.5)).step(List.of(w, b), 0.1);
        assertThat(w.data()[0]).isEqualTo((float) (1 - 0.1 * 0.5));
        assertThat(b.data()[0]).isEqualTo(1f);
    }

    @Test
    void boundToOneParameterList() {
        NamedParam a = param("a", 1, 2), b = param("b", 3);
        Optimizer opt = new AdamW(AdamW.Config.defaults(), WeightDecay.NONE);
        opt.step(List.of(a, b), 1e-3);
        assertThatThrownBy(() -> opt.step(List.of(b, a), 1e-3)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("optimizer parameter 0 is bound to 'a' (2 elements), got 'b' (1)");
        assertThatThrownBy(() -> opt.step(List.of(a), 1e-3)).hasMessage("optimizer is bound to 2 parameters, got 1");
        assertThatThrownBy(() -> new Sgd(Sgd.Config.plain(), WeightDecay.NONE).step(List.of(a, a), 0.1)).hasMessageContaining("listed twice");
        assertThatThrownBy(() -> opt.step(List.of(a, b), Double.NaN)).hasMessageContaining("lr must be a finite number >= 0");
    }

    @Test
    void stepsAllocateNothing() {
        NamedParam a = NamedParam.zeros("a", 256);
        List<NamedParam> ps = List.of(a);
        for (Optimizer opt : List.of(new AdamW(AdamW.Config.defaults(), WeightDecay.all(0.01)),
                new Sgd(new Sgd.Config(0.9, 0, true), WeightDecay.all(0.01)))) {
            opt.step(ps, 1e-3);   // binds and allocates the state
            // Warm up until C2 compiles step() (interpreted, Math.fma falls back to BigDecimal), then
            // measure; compilation is asynchronous, so measure again after more warm-up if needed.
            var bean = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
            long allocated = Long.MAX_VALUE;
            for (int round = 0; round < 10 && allocated > 0; round++) {
                for (int i = 0; i < 20_000; i++) opt.step(ps, 1e-3);
                long before = bean.getCurrentThreadAllocatedBytes();
                for (int i = 0; i < 100; i++) opt.step(ps, 1e-3);
                allocated = bean.getCurrentThreadAllocatedBytes() - before;
            }
            assertThat(allocated).as(opt.type() + " bytes allocated by 100 steps").isZero();
        }
    }

    @Test
    void badSettingsAreConfigErrors() {
        assertThatThrownBy(() -> new AdamW.Config(1.0, 0.999, 1e-8)).isInstanceOf(ConfigException.class).hasMessageContaining("adam beta1 = 1.0");
        assertThatThrownBy(() -> new AdamW.Config(0.9, -0.1, 1e-8)).hasMessageContaining("adam beta2");
        assertThatThrownBy(() -> new Sgd.Config(0, 0, true)).hasMessageContaining("Nesterov momentum requires a momentum > 0 and zero dampening");
        assertThatThrownBy(() -> new Sgd.Config(0.9, 0.1, true)).isInstanceOf(ConfigException.class);
        assertThatThrownBy(() -> LrSchedule.Kind.parse("exponential")).isInstanceOf(ConfigException.class)
                .hasMessage("schedule = 'exponential' is not allowed: expected one of [constant, constant_with_warmup, linear, cosine]");
        assertThat(LrSchedule.Kind.parse("Constant-With-Warmup")).isEqualTo(LrSchedule.Kind.CONSTANT_WITH_WARMUP);
        assertThatThrownBy(() -> new LrSchedule(LrSchedule.Kind.LINEAR, 1e-3, -1, 10)).hasMessageContaining("warmup = -1");
        assertThatThrownBy(() -> new GradClip(-1)).hasMessageContaining("grad-clip = -1.0");
    }

    @Test
    void clipDisabledStillReportsTheNormAndNonFiniteGradientsAreNamed() {
        NamedParam a = param("a", 0, 0), b = param("b", 0);
        a.grad()[0] = 3;
        a.grad()[1] = 4;
        b.grad()[0] = 12;
        GradClip.Result r = GradClip.DISABLED.apply(List.of(a, b));
        assertThat(r.totalNorm()).isEqualTo(13f);
        assertThat(r.clipped()).isFalse();
        assertThat(a.grad()).containsExactly(3, 4);
        r = new GradClip(1.3).apply(List.of(a, b));
        assertThat(r.clipped()).isTrue();
        assertThat(r.scale()).isEqualTo((1f / (13f + 1e-6f)) * 1.3f);
        assertThat(b.grad()[0]).isEqualTo(12f * r.scale());
        b.grad()[0] = Float.POSITIVE_INFINITY;
        r = new GradClip(1).apply(List.of(a, b));
        assertThat(r.finite()).isFalse();
        assertThat(r.nonFiniteParam()).isEqualTo("b");
        assertThat(b.grad()[0]).isEqualTo(Float.POSITIVE_INFINITY);
        b.grad()[0] = 1;
        a.grad()[0] = a.grad()[1] = 3e38f;   // finite values whose norm overflows float32
        assertThat(new GradClip(1).apply(List.of(a, b)).nonFiniteParam()).isEqualTo("a (finite values, norm overflows float32)");
    }
}
