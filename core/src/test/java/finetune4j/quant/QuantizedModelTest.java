package finetune4j.quant;

import finetune4j.ModelFormatException;
import finetune4j.engine.kernels.KernelSelector;
import finetune4j.engine.kernels.Kernels;
import finetune4j.engine.io.ModelWeights;
import finetune4j.engine.tensor.QuantType;
import finetune4j.engine.tensor.QuantizedWeight;
import finetune4j.engine.tensor.Weight;
import finetune4j.model.DenseLinear;
import finetune4j.model.LinearSlot;
import finetune4j.model.LlamaModel;
import finetune4j.testing.Numerics;
import finetune4j.testing.Numerics.Tol;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A whole model in 4 bits: quantize → save → load gives the same bits as quantizing the dense
 * weights directly; the loaded model computes what a dense model over the dequantized weights
 * computes; quantizing on load equals loading the saved checkpoint; the layers are what
 * transformers quantizes (all linear layers but lm_head) and the 4-bit data stays mapped.
 */
class QuantizedModelTest {
    static final Kernels K = KernelSelector.get();
    static final int[] IDS = {1, 17, 42, 99, 3, 250, 7, 64, 128, 5, 31};

    static Path tiny(String name) {
        return Path.of(QuantGolden.resource("codec.json").getParent().getParent().getParent().resolve("tiny-models").resolve(name).toString());
    }

    @Test
    void quantizeSaveLoadDequantizeIsBitExact(@TempDir Path tmp) {
        Path dense = tiny("llama-bias-bf16");
        QuantizationConfig qc = new QuantizationConfig(QuantType.NF4, true, "bfloat16", null);
        QuantizedModels.Result r = QuantizedModels.quantize(dense, tmp, qc, 64);
        assertThat(r.quantizedLayers()).isEqualTo(2 * 7);
        try (LlamaModel q = QuantizedModels.load(tmp, K); ModelWeights orig = ModelWeights.open(dense)) {
            List<LinearSlot> slots = q.linearSlots();
            for (LinearSlot s : slots.subList(0, slots.size() - 1)) {
                assertThat(s).as(s.name()).isInstanceOf(Nf4Linear.class);
                QuantizedWeight got = ((Nf4Linear) s).weight();
                assertThat(got.packed().isMapped()).isTrue();
                QuantizedWeight want = Nf4Codec.quantize(orig.weight(s.name() + ".weight"), QuantSpec.qlora(), Arena.ofAuto());
                Nf4CodecGoldenTest.assertBits(s.name(), got.toFloatArray(), want.toFloatArray());
                assertThat(((Nf4Linear) s).bias()).as("bias kept").isNotNull();
            }
            assertThat(slots.getLast()).as("tied lm_head stays the dense embedding").isInstanceOf(DenseLinear.class);
            assertThat(QuantizedModels.config(tmp)).isEqualTo(qc);
        }
    }

    @Test
    void fourBitModelComputesWhatTheDequantizedDenseModelComputes(@TempDir Path tmp) {
        Path dense = tiny("llama-gqa-f32");
        QuantizedModels.quantize(dense, tmp, new QuantizationConfig(QuantType.NF4, true, "float32", null), 64);
        try (LlamaModel q = QuantizedModels.load(tmp, K); DequantizedBase d = new DequantizedBase(tmp, q, K);
             LlamaModel f = LlamaModel.load(dense, K)) {
            float[] got = q.forwardAll(IDS), want = d.model.forwardAll(IDS);
            Numerics.assertClose("4-bit vs dequantized dense logits", got, want, Tol.abs(1e-5).rel(1e-5));
            float[] full = f.forwardAll(IDS);
            double maxDiff = 0, maxAbs = 0;
            for (int i = 0; i < full.length; i++) {
                maxDiff = Math.max(maxDiff, Math.abs(full[i] - got[i]));
                maxAbs = Math.max(maxAbs, Math.abs(full[i]));
            }
            // this random tiny model has logits up to ~25 that swing with every weight; ~20% is NF4 here
            assertThat(maxDiff).as("NF4 changes the logits, but not wildly").isGreaterThan(0).isLessThan(0.3 * maxAbs);
        }
    }

    @Test
    void quantizeOnLoadEqualsTheSavedCheckpoint(@TempDir Path tmp) {
        Path dense = tiny("llama-bias-bf16");
        QuantizedModels.quantize(dense, tmp, new QuantizationConfig(QuantType.FP4, false, "bfloat16", null), 32);
        try (LlamaModel saved = QuantizedModels.load(tmp, K);
             LlamaModel onLoad = QuantizedModels.loadIn4bit(dense, K, new QuantSpec(QuantType.FP4, 32, false))) {
            assertThat(onLoad.linearSlots().getFirst()).isInstanceOf(Nf4Linear.class);
            assertThat(onLoad.forwardAll(IDS)).isEqualTo(saved.forwardAll(IDS));
        }
    }

    @Test
    void openPicksTheFormat(@TempDir Path tmp) {
        Path dense = tiny("llama-gqa-f32");
        QuantizedModels.quantize(dense, tmp, new QuantizationConfig(QuantType.NF4, false, "float32", null), 64);
        try (LlamaModel a = QuantizedModels.open(tmp, K, null); LlamaModel b = QuantizedModels.open(dense, K, null);
             LlamaModel c = QuantizedModels.open(dense, K, QuantSpec.qlora())) {
            assertThat(a.linearSlots().getFirst()).isInstanceOf(Nf4Linear.class);
            assertThat(b.linearSlots().getFirst()).isInstanceOf(DenseLinear.class);
            assertThat(c.linearSlots().getFirst()).isInstanceOf(Nf4Linear.class);
            assertThat(a.weightBytes()).isLessThan(b.weightBytes());
        }
        assertThatThrownBy(() -> LlamaModel.load(tmp, K)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("quantization_config").hasMessageContaining("QuantizedModels.load");
    }

    @Test
    void quantizingRejectsNonFiniteWeights() {
        float[] v = new float[64];
        v[37] = Float.NaN;
        assertThatThrownBy(() -> Nf4Codec.quantize("w.weight", v, 8, 8, finetune4j.engine.tensor.DType.F32, QuantSpec.qlora()))
                .hasMessageContaining("'w.weight'").hasMessageContaining("[4, 5]").hasMessageContaining("NaN");
        Weight ok = Weight.ofArray("x", new float[64], 8, 8);
        assertThat(Nf4Codec.quantize(ok, QuantSpec.qlora(), Arena.ofAuto()).toFloatArray()).containsOnly(-0.0f);
    }
}
