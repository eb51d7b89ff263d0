package finetune4j.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import finetune4j.engine.tensor.NamedParam;
import finetune4j.testing.Numerics;
import finetune4j.testing.Numerics.Tol;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Optimizers, schedules and clipping against the real torch 2.13 / transformers 5.17
 * (tools/golden/make_optim_golden.py → optim_golden.json).
 *
 * <p>Tolerances: AdamW and SGD are compared <b>bit for bit</b> (every parameter and state element,
 * every step): they mirror torch's float32 operation order and its fused multiply-adds, so any
 * difference is a bug, not rounding. (If the goldens are ever regenerated on a torch build whose
 * kernels do not fuse, expect 1-ulp differences, about 6e-8 relative.) Schedules: 1e-15 relative
 * plus 1 ulp of the factor times the base lr (double arithmetic; Java's Math.cos and glibc's
 * cos may differ by an ulp, which the cancellation in 1 + cos amplifies near the end of a cosine). Clipping: 2e-7 relative on the norm, 4e-7 on the
 * clipped gradients: torch sums squares in float32 lanes, we sum in double (the correctly rounded
 * norm), so torch's norm may be an ulp or two away (1 ulp on one tensor of this golden), which
 * moves the float32 clip coefficient by as much, plus the rounding of the product.
 */
class OptimGoldenTest {
    private static JsonNode golden;

    @BeforeAll
    static void load() throws IOException {
        ObjectMapper m = JsonMapper.builder().enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build();
        try (InputStream in = OptimGoldenTest.class.getResourceAsStream("optim_golden.json")) {
            golden = m.readTree(in);
        }
    }

    static float[] floats(JsonNode arr) {
        float[] f = new float[arr.size()];
        for (int i = 0; i < f.length; i++) f[i] = (float) arr.get(i).doubleValue();
        return f;
    }

    static List<NamedParam> initialParams() {
        List<NamedParam> ps = new ArrayList<>();
        for (int i = 0; i < golden.get("names").size(); i++) {
            JsonNode shape = golden.get("shapes").get(i);
            long[] s = new long[shape.size()];
            for (int d = 0; d < s.length; d++) s[d] = shape.get(d).longValue();
            float[] data = floats(golden.get("init").get(i));
            ps.add(new NamedParam(golden.get("names").get(i).textValue(), s, data, new float[data.length]));
        }
        return ps;
    }

    static void setGrads(List<NamedParam> ps, int step) {
        for (int i = 0; i < ps.size(); i++) {
            float[] g = floats(golden.get("grads").get(step).get(i));
            System.arraycopy(g, 0, ps.get(i).grad(), 0, g.length);
        }
    }

    static Optimizer build(JsonNode c) {
        List<String> noDecay = new ArrayList<>();
        c.get("no_decay").forEach(n -> noDecay.add(java.util.regex.Pattern.quote(n.textValue().toLowerCase())));
        WeightDecay wd = new WeightDecay(c.get("weight_decay").doubleValue(), noDecay);
        return switch (c.get("optimizer").textValue()) {
            case "adamw" -> new AdamW(new AdamW.Config(c.get("beta1").doubleValue(), c.get("beta2").doubleValue(),
                    c.get("eps").doubleValue()), wd);
            case "sgd" -> new Sgd(new Sgd.Config(c.get("momentum").doubleValue(), c.get("dampening").doubleValue(),
                    c.get("nesterov").booleanValue()), wd);
            default -> throw new IllegalStateException();
        };
    }

    static void assertBitExact(String what, float[] got, float[] want) {
        assertThat(got.length).as(what + " length").isEqualTo(want.length);
        for (int j = 0; j < got.length; j++) {
            if (Float.floatToIntBits(got[j]) != Float.floatToIntBits(want[j])) {
                int ulps = Math.abs(Float.floatToIntBits(got[j]) - Float.floatToIntBits(want[j]));
                throw new AssertionFailedError(what + "[" + j + "]: got " + got[j] + " want " + want[j] + " (" + ulps + " ulp)");
            }
        }
    }

    /** Runs every golden optimizer case; on resume = true, the state is exported and re-imported mid-way. */
    private void runCases(boolean resumeHalfway) {
        int cases = 0;
        for (JsonNode c : golden.get("optimizers")) {
            String name = c.get("name").textValue();
            List<NamedParam> ps = initialParams();
            Optimizer opt = build(c);
            JsonNode steps = c.get("steps");
            for (int s = 0; s < steps.size(); s++) {
                JsonNode st = steps.get(s);
                if (resumeHalfway && s == steps.size() / 2) {
                    OptimizerState saved = opt.state(ps);
                    Map<String, float[]> copies = new java.util.LinkedHashMap<>();
                    saved.buffers().forEach((k, v) -> copies.put(k, v.clone()));
                    opt = build(c);
                    opt.load(new OptimizerState(saved.type(), saved.step(), saved.settings(), copies), ps, "test");
                    assertThat(opt.steps()).isEqualTo(s);
                }
                setGrads(ps, s);
                opt.step(ps, st.get("lr").doubleValue());
                for (int i = 0; i < ps.size(); i++) {
                    String pn = ps.get(i).name();
                    assertBitExact(name + " step " + (s + 1) + " " + pn, ps.get(i).data(), floats(st.get("params").get(pn)));
                }
                Map<String, float[]> state = opt.state(ps).buffers();
                for (String key : List.of("exp_avg", "exp_avg_sq", "momentum_buffer")) {
                    if (!st.has(key)) continue;
                    for (NamedParam p : ps) {
                        assertBitExact(name + " step " + (s + 1) + " " + key + " " + p.name(), state.get(p.name() + "." + key),
                                floats(st.get(key).get(p.name())));
                    }
                }
            }
            assertThat(opt.steps()).isEqualTo(steps.size());
            cases++;
        }
        assertThat(cases).isEqualTo(6);
    }

    @Test
    void adamwAndSgdMatchTorchBitForBit() {
        runCases(false);
    }

    @Test
    void exportImportMidRunChangesNothing() {
        runCases(true);
    }

    @Test
    void schedulesMatchTransformersGetScheduler() {
        int n = 0;
        for (JsonNode s : golden.get("schedules")) {
            LrSchedule sch = new LrSchedule(LrSchedule.Kind.parse(s.get("kind").textValue()), s.get("base_lr").doubleValue(),
                    s.get("warmup").longValue(), s.get("total").longValue());
            JsonNode lrs = s.get("lr");
            double[] got = new double[lrs.size()], want = new double[lrs.size()];
            for (int i = 0; i < lrs.size(); i++) {
                got[i] = sch.lr(i);
                want[i] = lrs.get(i).doubleValue();
                double tol = 1e-15 * Math.abs(want[i]) + 2.5e-16 * sch.baseLr();   // 1 ulp of the factor near 1
                if (!(Math.abs(got[i] - want[i]) <= tol)) {
                    throw new AssertionFailedError(sch + " at step " + i + ": got " + got[i] + " want " + want[i]);
                }
            }
            n++;
        }
        assertThat(n).isEqualTo(9);
    }

    @Test
    void clipGradNormMatchesTorch() {
        for (JsonNode c : golden.get("clip")) {
            List<NamedParam> ps = initialParams();
            for (int i = 0; i < ps.size(); i++) {
                float[] g = floats(c.get("grads").get(i));
                System.arraycopy(g, 0, ps.get(i).grad(), 0, g.length);
            }
            double maxNorm = c.get("max_norm").doubleValue();
            GradClip.Result r = new GradClip(maxNorm).apply(ps);
            double want = c.get("total_norm").doubleValue();
            if (Double.isNaN(want)) {
                assertThat(r.finite()).isFalse();
                assertThat(r.nonFiniteParam()).isEqualTo(ps.get(1).name());
                assertThat(r.totalNorm()).isNaN();
                for (int i = 0; i < ps.size(); i++) {   // untouched, unlike torch (which spreads the NaN)
                    assertBitExact("unscaled grad " + i, ps.get(i).grad(), floats(c.get("grads").get(i)));
                }
                continue;
            }
            assertThat(r.finite()).isTrue();
            Numerics.assertClose("total norm (max_norm " + maxNorm + ")", new float[]{r.totalNorm()}, new float[]{(float) want},
                    Tol.abs(0).rel(2e-7));
            assertThat(r.clipped()).isEqualTo(maxNorm < want);
            for (int i = 0; i < ps.size(); i++) {
                Numerics.assertClose("clipped grad " + ps.get(i).name() + " (max_norm " + maxNorm + ")", ps.get(i).grad(),
                        floats(c.get("clipped").get(i)), Tol.abs(1e-30).rel(4e-7));
            }
        }
    }
}
