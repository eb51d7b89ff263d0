package finetune4j.quant;

import finetune4j.engine.kernels.KernelSelector;
import finetune4j.engine.kernels.Kernels;
import finetune4j.engine.tensor.NamedParam;
import finetune4j.engine.tensor.QuantType;
import finetune4j.model.LlamaModel;
import finetune4j.model.TrainingBuffers;
import finetune4j.peft.LoraAdapter;
import finetune4j.peft.LoraConfig;
import finetune4j.peft.LoraLinear;
import finetune4j.peft.LoraSpec;
import finetune4j.train.AdamW;
import finetune4j.train.WeightDecay;
import finetune4j.testing.Numerics;
import finetune4j.testing.Numerics.Tol;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * QLoRA is LoRA on the dequantized base (torchtune's invariant): a few AdamW steps of LoRA (and
 * DoRA) over the 4-bit model — gradient checkpointing on, as QLoRA trains — give the losses and
 * adapter weights of the same steps over a dense FP32 model holding the dequantized weights
 * (checkpointing off), within float tolerance. Run on the tiny model with q/k/v/o and MLP biases.
 */
class QloraParityTest {
    static final int B = 2, T = 12, STEPS = 4;
    static final Kernels K = KernelSelector.get();

    @TempDir
    Path tmp;

    @ParameterizedTest(name = "dora={0}")
    @ValueSource(booleans = {false, true})
    void qloraTrainsLikeLoraOnTheDequantizedBase(boolean dora) {
        QuantizedModels.quantize(QuantizedModelTest.tiny("llama-bias-bf16"), tmp,
                new QuantizationConfig(QuantType.NF4, true, "bfloat16", null), 64);
        SplittableRandom rnd = new SplittableRandom(99);
        int[] ids = new int[B * T], labels = new int[B * T];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = rnd.nextInt(256);
            labels[i] = i % T < 3 ? -100 : ids[i];
        }
        float scale = 1f / LlamaModel.countTargets(labels, B, T);
        LoraSpec spec = LoraSpec.builder(4, 8).targets(LoraConfig.Targets.parse("all-linear")).dora(dora).build();
        try (LlamaModel q = QuantizedModels.load(tmp, K); DequantizedBase d = new DequantizedBase(tmp, q, K)) {
            LoraAdapter aq = LoraAdapter.attach(q, spec, 7), ad = LoraAdapter.attach(d.model, spec, 7);
            assertThat(((LoraLinear) q.linearSlots().getFirst()).base()).isInstanceOf(Nf4Linear.class);
            aq.setTraining(true);
            ad.setTraining(true);
            List<NamedParam> pq = aq.trainableParameters(), pd = ad.trainableParameters();
            for (int i = 0; i < pq.size(); i++) {
                Numerics.assertClose("initial " + pq.get(i).name(), pq.get(i).data(), pd.get(i).data(), Tol.abs(1e-6).rel(1e-6));
            }
            AdamW oq = new AdamW(AdamW.Config.defaults(), WeightDecay.NONE), od = new AdamW(AdamW.Config.defaults(), WeightDecay.NONE);
            TrainingBuffers bq = TrainingBuffers.allocate(q.config(), B, T, true);
            TrainingBuffers bd = TrainingBuffers.allocate(d.model.config(), B, T, false);
            double first = 0, last = 0;
            for (int s = 0; s < STEPS; s++) {
                q.zeroGradients();
                d.model.zeroGradients();
                double lq = q.forwardBackward(bq, ids, labels, B, T, scale);
                double ld = d.model.forwardBackward(bd, ids, labels, B, T, scale);
                assertThat(lq).as("step %d loss", s).isCloseTo(ld, org.assertj.core.data.Offset.offset(1e-5 * Math.abs(ld)));
                for (int i = 0; i < pq.size(); i++) {
                    Numerics.assertClose("step " + s + " grad " + pq.get(i).name(), pq.get(i).grad(), pd.get(i).grad(),
                            Tol.abs(1e-5).rel(1e-3));
                }
                oq.step(pq, 1e-2);
                od.step(pd, 1e-2);
                if (s == 0) first = lq;
                last = lq;
            }
            for (int i = 0; i < pq.size(); i++) {
                Numerics.assertClose("trained " + pq.get(i).name(), pq.get(i).data(), pd.get(i).data(), Tol.abs(1e-5).rel(1e-4));
            }
            assertThat(last).as("the adapter learns over the 4-bit base").isLessThan(first);
        }
    }
}
