package finetune4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import finetune4j.engine.kernels.KernelSelector;
import finetune4j.engine.kernels.Kernels;
import finetune4j.engine.kernels.ScalarKernels;
import finetune4j.engine.tensor.NamedParam;
import finetune4j.testing.Numerics;
import finetune4j.testing.Numerics.Tol;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The training step against real transformers ({@code tools/golden/train_reference.py}): one
 * right-padded batch with −100 labels through three tiny models (tied F32 GQA Llama; Qwen2 with
 * q/k/v bias, untied, F16; Llama with attention/MLP bias, head_dim ≠ C/H, linear RoPE scaling,
 * tied, BF16), full fine-tuning of every parameter, loss = transformers' mean.
 *
 * <p>Tolerances: both sides compute in float32 from the same weights and differ only in summation
 * order (blocked GEMMs, fused softmax vs torch's kernels), so each gradient must agree to
 * {@code 1e-5·max|g| + 1e-4·|g|} per element (scaled by the tensor's largest entry because
 * entries near zero carry the absolute error of the large terms they were summed from); the loss
 * to 1e-6 relative.
 */
class TrainGoldenTest {
    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (String m : TrainGolden.MODELS) {
            out.add(Arguments.of(m, "vector", false));
            out.add(Arguments.of(m, "vector", true));
            out.add(Arguments.of(m, "scalar", false));
        }
        return out.stream();
    }

    static Kernels kernels(String name) {
        return name.equals("scalar") ? new ScalarKernels() : KernelSelector.get();
    }

    static Tol gradTol(float[] want) {
        double max = 0;
        for (float w : want) max = Math.max(max, Math.abs(w));
        return Tol.abs(1e-5 * max + 1e-9).rel(1e-4);
    }

    @ParameterizedTest(name = "{0} {1} checkpointing={2}")
    @MethodSource("cases")
    void fullFineTuningLossAndEveryGradientMatchTransformers(String name, String kernels, boolean ckpt) {
        try (LlamaModel m = LlamaModel.load(LlamaGolden.tinyModel(name), kernels(kernels))) {
            List<NamedParam> params = m.makeTrainable(n -> true);
            JsonNode ref = TrainGolden.manifest().get("models").get(name);
            List<String> names = params.stream().map(NamedParam::name).toList();
            List<String> want = new ArrayList<>();
            ref.get("parameters").forEach(n -> want.add(n.asText()));
            assertThat(names).as("trainable parameters in named_parameters() order").isEqualTo(want);

            int[] ids = TrainGolden.ids(), labels = TrainGolden.labels();
            int n = LlamaModel.countTargets(labels, TrainGolden.B, TrainGolden.T);
            assertThat(n).isEqualTo(TrainGolden.manifest().get("targets").intValue());
            TrainingBuffers a = TrainingBuffers.allocate(m.config(), TrainGolden.B, TrainGolden.T, ckpt, 5);
            double sum = m.forwardBackward(a, ids, labels, TrainGolden.B, TrainGolden.T, 1f / n);
            assertThat(a.lastTargets()).isEqualTo(n);
            double loss = sum / n, refLoss = TrainGolden.tensor(name + ".loss")[0];
            assertThat(Math.abs(loss - refLoss)).as("loss %s vs %s", loss, refLoss).isLessThan(1e-6 * refLoss);
            for (NamedParam p : params) {
                float[] g = TrainGolden.tensor(name + ".grad." + p.name());
                Numerics.assertClose(name + " " + kernels + " grad " + p.name(), p.grad(), g, gradTol(g));
            }
        }
    }
}
