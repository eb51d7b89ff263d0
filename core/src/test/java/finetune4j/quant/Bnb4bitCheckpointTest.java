package finetune4j.quant;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import finetune4j.engine.io.ModelWeights;
import finetune4j.engine.io.SafetensorsFile;
import finetune4j.engine.io.SafetensorsWriter;
import finetune4j.engine.io.TensorInfo;
import finetune4j.engine.tensor.DType;
import finetune4j.engine.tensor.QuantType;
import finetune4j.engine.tensor.QuantizedWeight;
import finetune4j.engine.tensor.Weight;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The 4-bit checkpoint layout against transformers + bitsandbytes' serialization
 * (tools/golden/nf4_reference.py writes the state dicts with the real safetensors package):
 * our writer produces the same file bytes for the same float weights, the reader returns weights
 * whose dequantized values are bit-identical to what was quantized, and config.json's
 * quantization_config matches transformers' BitsAndBytesConfig.
 */
class Bnb4bitCheckpointTest {
    static final List<String> MODULES = List.of("model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj",
            "model.layers.0.mlp.up_proj", "model.layers.0.mlp.down_proj", "model.layers.0.odd_proj");
    static final List<String> DENSE = List.of("model.embed_tokens.weight", "lm_head.weight", "model.layers.0.self_attn.q_proj.bias",
            "model.norm.weight");

    @Test
    void nf4DoubleQuantStateDictIsByteIdenticalToTransformers() throws IOException {
        assertStateDict("nf4", new QuantSpec(QuantType.NF4, 64, true));
    }

    @Test
    void fp4StateDictIsByteIdenticalToTransformers() throws IOException {
        assertStateDict("fp4", new QuantSpec(QuantType.FP4, 128, false));
    }

    private void assertStateDict(String variant, QuantSpec spec) throws IOException {
        try (SafetensorsFile in = SafetensorsFile.open(QuantGolden.resource("state_inputs.safetensors"))) {
            SafetensorsWriter w = SafetensorsWriter.create().metadata("format", "pt");
            for (String m : MODULES) {
                TensorInfo t = in.info(variant + "." + m + ".weight");
                Weight dense = new Weight(m + ".weight", t.dtype(), (int) t.dim(0), (int) t.dim(1), in.data(t.name()));
                Bnb4bitFormat.write(w, Nf4Codec.quantize(dense, spec, Arena.ofAuto()));
            }
            for (String d : DENSE) {
                TensorInfo t = in.info(variant + "." + d);
                w.add(d, t.dtype(), t.shape(), in.data(t.name()));
            }
            byte[] want = Files.readAllBytes(QuantGolden.resource("state_" + variant + ".safetensors"));
            assertThat(w.toBytes()).as("state_%s.safetensors", variant).isEqualTo(want);
        }
    }

    @Test
    void readBackIsBitExactAndStaysMapped(@TempDir Path tmp) throws IOException {
        Files.copy(QuantGolden.resource("state_nf4.safetensors"), tmp.resolve("model.safetensors"));
        try (SafetensorsFile in = SafetensorsFile.open(QuantGolden.resource("state_inputs.safetensors"));
             ModelWeights mw = ModelWeights.open(tmp)) {
            assertThat(Bnb4bitFormat.quantizedWeights(mw)).containsExactlyInAnyOrderElementsOf(
                    MODULES.stream().map(m -> m + ".weight").toList());
            for (String m : MODULES) {
                TensorInfo t = in.info("nf4." + m + ".weight");
                Weight dense = new Weight(m + ".weight", t.dtype(), (int) t.dim(0), (int) t.dim(1), in.data(t.name()));
                QuantizedWeight want = Nf4Codec.quantize(dense, QuantSpec.qlora(), Arena.ofAuto());
                QuantizedWeight got = Bnb4bitFormat.read(mw, m + ".weight");
                assertThat(got.rows()).isEqualTo(want.rows());
                assertThat(got.cols()).isEqualTo(want.cols());
                assertThat(got.dtype()).isEqualTo(DType.BF16);
                assertThat(got.blocksize()).isEqualTo(64);
                assertThat(got.packed().isMapped()).as("packed codes are the mapped file bytes").isTrue();
                Nf4CodecGoldenTest.assertBits(m + " dequantized", got.toFloatArray(), want.toFloatArray());
            }
        }
    }

    @Test
    void quantizationConfigIsTransformersBitsAndBytesConfig() throws IOException {
        JsonNode golden = new ObjectMapper().readTree(QuantGolden.resource("config_nf4.json").toFile());
        QuantizationConfig qc = new QuantizationConfig(QuantType.NF4, true, "bfloat16", null);
        assertThat(qc.toJson()).isEqualTo(golden.get("quantization_config"));
        assertThat(QuantizationConfig.of("config_nf4.json", golden)).isEqualTo(qc);
        assertThat(qc.quantizes("lm_head")).isFalse();
        assertThat(qc.quantizes("model.layers.0.mlp.down_proj")).isTrue();
        QuantizationConfig skip = new QuantizationConfig(QuantType.NF4, true, "bfloat16", List.of("down_proj", "model.layers.1"));
        assertThat(skip.quantizes("model.layers.0.mlp.down_proj")).as("suffix").isFalse();
        assertThat(skip.quantizes("model.layers.1.self_attn.q_proj")).as("prefix regex").isFalse();
        assertThat(skip.quantizes("lm_head")).as("an explicit list replaces the default").isTrue();
    }
}
