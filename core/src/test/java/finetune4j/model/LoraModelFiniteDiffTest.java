package finetune4j.model;

import finetune4j.engine.kernels.KernelSelector;
import finetune4j.engine.tensor.NamedParam;
import finetune4j.peft.LoraAdapter;
import finetune4j.peft.LoraConfig.Targets;
import finetune4j.peft.LoraSpec;
import finetune4j.peft.LoraWeights;
import finetune4j.testing.FiniteDiff;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * LoRA, rsLoRA and DoRA gradients (lora_A, lora_B, magnitude) through the WHOLE tiny model
 * ({@link LlamaModel#forwardBackward} with {@link finetune4j.peft.LoraLinear} slots) against
 * central finite differences of the model's loss in {@code double} ({@link DoubleLlama}).
 *
 * <p>The double model sees each adapted module through its merged weight, which is the same
 * function of the adapter parameters as the unmerged layer (dropout 0): LoRA
 * {@code W + s·B·A}; DoRA {@code (m / n₀) ⊙ (W + s·B·A)} with the row norm {@code n₀} of the
 * unperturbed weights held fixed, as PEFT detaches it. Biases stay outside, as in PEFT. Gradients
 * of lower layers' adapters flow through every upper slot's {@code dx}, so this checks
 * {@code LoraLinear.backward}'s input gradient inside the model too. Tolerance as
 * {@link ModelFiniteDiffTest}: {@code 1e-6 + 1e-4·|num|}.
 */
class LoraModelFiniteDiffTest {
    static LoraSpec spec(String v) {
        var b = LoraSpec.builder(3, 6).init(LoraSpec.InitWeights.NONE);   // B ≠ 0: every gradient is informative
        return switch (v) {
            case "lora" -> b.targets(Targets.names("q_proj", "v_proj", "mlp.down_proj")).build();
            case "rslora" -> b.rslora(true).targets(new Targets.AllLinear("all-linear")).rankPattern(Map.of("up_proj", 2)).build();
            case "dora" -> b.dora(true).targets(new Targets.Regex(".*\\.(k_proj|o_proj|gate_proj)")).build();
            default -> throw new IllegalArgumentException(v);
        };
    }

    @ParameterizedTest
    @ValueSource(strings = {"lora", "rslora", "dora"})
    void adapterGradientsThroughTheModelMatchFiniteDifferences(String variant) {
        String name = "llama-bias-bf16";
        int b = TrainGolden.B, t = TrainGolden.T;
        int[] ids = TrainGolden.ids(), labels = TrainGolden.labels();
        int n = LlamaModel.countTargets(labels, b, t);
        try (LlamaModel m = LlamaModel.load(LlamaGolden.tinyModel(name), KernelSelector.get());
             LlamaModel full = LlamaModel.load(LlamaGolden.tinyModel(name), KernelSelector.get())) {
            LoraAdapter lora = LoraAdapter.attach(m, spec(variant), 11);
            SplittableRandom rnd = new SplittableRandom(variant.hashCode());
            for (LoraWeights w : lora.modules()) {
                float[] bw = w.bData();
                for (int i = 0; i < bw.length; i++) bw[i] *= 0.3f;
                if (w.isDora()) {
                    float[] mag = w.magnitude().data();
                    for (int j = 0; j < mag.length; j++) mag[j] *= (float) (0.8 + 0.4 * rnd.nextDouble());
                }
            }
            lora.setTraining(true);
            TrainingBuffers a = TrainingBuffers.allocate(m.config(), b, t, false);
            double sum = m.forwardBackward(a, ids, labels, b, t, 1f / n);

            DoubleLlama ref = new DoubleLlama(full.config(), full.makeTrainable(x -> true), full.rope.ensure(t));
            Map<String, Merged> merged = new HashMap<>();
            for (LoraWeights w : lora.modules()) {
                Merged mg = new Merged(w, ref.param(w.module() + ".weight"));
                merged.put(w.module(), mg);
                mg.write();
            }
            double exact = ref.loss(ids, labels, b, t);
            assertThat(Math.abs(sum - exact)).as("summed loss %s vs double %s", sum, exact).isLessThan(1e-5 * exact);

            int checked = 0;
            for (LoraWeights w : lora.modules()) {
                Merged mg = merged.get(w.module());
                List<NamedParam> ps = w.isDora() ? List.of(w.a(), w.b(), w.magnitude()) : List.of(w.a(), w.b());
                List<double[]> live = w.isDora() ? List.of(mg.a, mg.b, mg.m) : List.of(mg.a, mg.b);
                for (int pi = 0; pi < ps.size(); pi++) {
                    NamedParam p = ps.get(pi);
                    int[] idx = {rnd.nextInt(p.numel()), rnd.nextInt(p.numel())};
                    double[] num = FiniteDiff.gradient(live.get(pi), idx, x -> {
                        mg.write();
                        return ref.loss(ids, labels, b, t) / n;
                    });
                    mg.write();
                    for (int i = 0; i < idx.length; i++) {
                        double got = p.grad()[idx[i]];
                        assertThat(Math.abs(got - num[i])).as("%s %s[%d]: backward %s, finite difference %s",
                                variant, p.name(), idx[i], got, num[i]).isLessThanOrEqualTo(1e-6 + 1e-4 * Math.abs(num[i]));
                        checked++;
                    }
                }
            }
            assertThat(checked).isEqualTo(2 * lora.trainableParameters().size());
        }
    }

    /** One adapted module in double: its adapter parameters and the merged weight they define. */
    private static final class Merged {
        final int r, in, out;
        final double s;
        final double[] w0, a, b, m, n0, target;

        Merged(LoraWeights w, double[] target) {
            this.r = w.r();
            this.in = w.in();
            this.out = w.out();
            this.s = w.scaling();
            this.target = target;
            this.w0 = target.clone();
            this.a = finetune4j.testing.DoubleOps.toDouble(w.aData());
            this.b = finetune4j.testing.DoubleOps.toDouble(w.bData());
            this.m = w.isDora() ? finetune4j.testing.DoubleOps.toDouble(w.magnitude().data()) : null;
            this.n0 = w.isDora() ? new double[out] : null;
            if (n0 != null) {   // detached norms of W + s·B·A at the unperturbed parameters
                double[] d = directional();
                for (int j = 0; j < out; j++) {
                    double ss = 0;
                    for (int c = 0; c < in; c++) ss += d[j * in + c] * d[j * in + c];
                    n0[j] = Math.sqrt(ss);
                }
            }
        }

        /** W + s·B·A. */
        double[] directional() {
            double[] d = w0.clone();
            for (int j = 0; j < out; j++) {
                for (int p = 0; p < r; p++) {
                    double bjp = s * b[j * r + p];
                    for (int c = 0; c < in; c++) d[j * in + c] += bjp * a[p * in + c];
                }
            }
            return d;
        }

        /** Writes the merged weight into the double model's live weight array. */
        void write() {
            double[] d = directional();
            if (m != null) {
                for (int j = 0; j < out; j++) {
                    double f = m[j] / n0[j];
                    for (int c = 0; c < in; c++) d[j * in + c] *= f;
                }
            }
            System.arraycopy(d, 0, target, 0, d.length);
        }
    }
}
