package finetune4j.model;

import finetune4j.engine.kernels.KernelSelector;
import finetune4j.engine.tensor.NamedParam;
import finetune4j.testing.FiniteDiff;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Gradients through the WHOLE tiny model against central finite differences of the model's loss
 * evaluated in {@code double} ({@link DoubleLlama}): for every parameter tensor (embedding, both
 * norms of each layer, q/k/v/o, gate/up/down, their biases where the architecture has them, the
 * final norm, lm_head or the tied embedding) a few random entries, plus an embedding row that no
 * input id uses (for a tied head it still gets a gradient from the logits).
 *
 * <p>The batch is the golden one (B = 2, T = 12, right padding, −100 labels), the loss the mean
 * over its targets. Tolerance {@code 1e-6 + 1e-4·|num|}: the double loss is exact to ~1e-14, so
 * the numeric gradient to ~1e-9; the float backward's error on these O(1e-2) gradients measured
 * below 5e-7.
 */
class ModelFiniteDiffTest {
    @ParameterizedTest
    @ValueSource(strings = {"llama-gqa-f32", "qwen2-bias-f16", "llama-bias-bf16"})
    void everyKindOfParameterMatchesFiniteDifferences(String name) {
        try (LlamaModel m = LlamaModel.load(LlamaGolden.tinyModel(name), KernelSelector.get())) {
            List<NamedParam> params = m.makeTrainable(n -> true);
            int b = TrainGolden.B, t = TrainGolden.T;
            int[] ids = TrainGolden.ids(), labels = TrainGolden.labels();
            int n = LlamaModel.countTargets(labels, b, t);
            TrainingBuffers a = TrainingBuffers.allocate(m.config(), b, t, false);
            double sum = m.forwardBackward(a, ids, labels, b, t, 1f / n);

            DoubleLlama ref = new DoubleLlama(m.config(), params, m.rope.ensure(t));
            double exact = ref.loss(ids, labels, b, t);
            assertThat(Math.abs(sum - exact)).as("summed loss %s vs double %s", sum, exact).isLessThan(1e-5 * exact);

            SplittableRandom rnd = new SplittableRandom(name.hashCode());
            int C = m.config().hiddenSize();
            int checked = 0;
            for (NamedParam p : params) {
                int[] idx = new int[3];
                for (int i = 0; i < idx.length; i++) idx[i] = rnd.nextInt(p.numel());
                if (p.name().equals("model.embed_tokens.weight")) {
                    idx[0] = ids[5] * C + rnd.nextInt(C);                      // a row used by the input
                    idx[1] = unusedRow(ids, m.config().vocabSize()) * C + rnd.nextInt(C);
                }
                double[] num = FiniteDiff.gradient(ref.param(p.name()), idx, x -> ref.loss(ids, labels, b, t) / n);
                for (int i = 0; i < idx.length; i++) {
                    double got = p.grad()[idx[i]];
                    double tol = 1e-6 + 1e-4 * Math.abs(num[i]);
                    assertThat(Math.abs(got - num[i])).as("%s %s[%d]: backward %s, finite difference %s",
                            name, p.name(), idx[i], got, num[i]).isLessThanOrEqualTo(tol);
                    checked++;
                }
            }
            assertThat(checked).isEqualTo(3 * params.size());
        }
    }

    private static int unusedRow(int[] ids, int vocab) {
        for (int v = vocab - 1; ; v--) {
            boolean used = false;
            for (int id : ids) used |= id == v;
            if (!used) return v;
        }
    }
}
