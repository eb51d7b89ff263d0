package finetune4j.quant;

import com.fasterxml.jackson.databind.JsonNode;
import finetune4j.engine.io.SafetensorsFile;
import finetune4j.engine.tensor.DType;
import finetune4j.engine.tensor.QuantType;
import finetune4j.engine.tensor.QuantizedWeight;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The codec produces the same bytes as bitsandbytes' algorithm (tools/golden/nf4_reference.py):
 * packed codes, absmax, double-quantized absmax (codes, nested absmax, offset) and the dequantized
 * values, bit for bit, for every case of the golden (random weights at every block size 32..4096,
 * all-zero, constant, denormal, huge, mixed-scale BF16, F16, odd lengths, values on every decision
 * threshold), NF4 and FP4, with and without double quantization.
 */
class Nf4CodecGoldenTest {
    private static SafetensorsFile golden;
    private static JsonNode manifest;

    @BeforeAll
    static void open() {
        golden = SafetensorsFile.open(QuantGolden.resource("codec.safetensors"));
        manifest = QuantGolden.manifest();
    }

    @AfterAll
    static void close() {
        golden.close();
    }

    @Test
    void codeTablesAreBitsandbytesTables() {
        assertBits("nf4_code", QuantType.NF4.code(), QuantGolden.floats(golden, "nf4_code"));
        assertBits("fp4_code", QuantType.FP4.code(), QuantGolden.floats(golden, "fp4_code"));
        assertBits("dynamic_map", Nf4Codec.dynamicMap(), QuantGolden.floats(golden, "dynamic_map"));
    }

    @Test
    void eightBitQuantizerMatchesCudaBinarySearch() {
        float[] xs = QuantGolden.floats(golden, "q8.x");
        byte[] want = QuantGolden.bytes(golden, "q8.code");
        float[] map = Nf4Codec.dynamicMap();
        for (int i = 0; i < xs.length; i++) {
            int got = Nf4Codec.quantize8(map, xs[i]);
            assertThat(got).as("dQuantize<0>(%s) (probe %d)", xs[i], i).isEqualTo(want[i] & 0xFF);
        }
    }

    @Test
    void everyCaseGivesTheSameBytesAndValues() {
        List<String> checked = new ArrayList<>();
        for (JsonNode c : manifest.get("cases")) {
            String id = c.get("id").asText();
            String input = c.get("input").asText();
            QuantType type = QuantType.parse(c.get("quant_type").asText());
            int bs = c.get("blocksize").asInt();
            boolean nested = c.get("nested").asBoolean();
            JsonNode shape = c.get("shape");
            int rows = shape.size() == 2 ? shape.get(0).asInt() : 1;
            int cols = shape.size() == 2 ? shape.get(1).asInt() : shape.get(0).asInt();
            DType dtype = QuantGolden.dtype(golden, "in." + input);
            float[] x = QuantGolden.floats(golden, "in." + input);

            QuantizedWeight q = Nf4Codec.quantize(id, x, rows, cols, dtype, new QuantSpec(type, bs, nested));

            String plainId = id.replace(".nested", ".plain");
            assertThat(QuantGolden.segmentBytes(q.packed())).as(id + " packed").isEqualTo(QuantGolden.bytes(golden, plainId + ".packed"));
            if (nested) {
                QuantizedWeight.Scales.Nested s = (QuantizedWeight.Scales.Nested) q.scales();
                assertThat(QuantGolden.segmentBytes(s.q())).as(id + " qabsmax").isEqualTo(QuantGolden.bytes(golden, id + ".qabsmax"));
                assertBits(id + " absmax2", toFloats(s.absmax2()), QuantGolden.floats(golden, id + ".absmax2"));
                assertBits(id + " offset", new float[]{s.offset()}, QuantGolden.floats(golden, id + ".offset"));
                assertThat(s.blocksize()).isEqualTo(256);
            } else {
                QuantizedWeight.Scales.Absmax s = (QuantizedWeight.Scales.Absmax) q.scales();
                assertBits(id + " absmax", toFloats(s.absmax()), QuantGolden.floats(golden, id + ".absmax"));
            }
            float[] deq = q.toFloatArray();
            if (golden.info(id + ".dequant") != null) assertBits(id + " dequant", deq, QuantGolden.floats(golden, id + ".dequant"));
            assertThat(QuantGolden.sha256(deq)).as(id + " dequant sha256").isEqualTo(c.get("dequant_sha256").asText());
            checked.add(id);
        }
        assertThat(checked).hasSize(100);
    }

    @Test
    void nf4IsNearestCodeTiesLowExceptTheFourLiteralsAboveTheirMidpoint() {
        float[] code = QuantType.NF4.code();
        float[] t = Nf4Codec.nf4Thresholds();
        // ascending thresholds 1, 3, 4, 8: the FP32 literals one step above the true midpoint
        java.util.Set<Float> exceptions = java.util.Set.of(t[1], t[3], t[4], t[8]);
        List<Float> xs = new ArrayList<>();
        for (float v : t) {
            float x = v;
            for (int k = 0; k < 3; k++) x = Math.nextDown(x);
            for (int k = 0; k < 7; k++, x = Math.nextUp(x)) xs.add(x);
        }
        for (float c : code) xs.add(c);
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(5);
        for (int i = 0; i < 200_000; i++) xs.add((float) rnd.nextDouble(-1.1, 1.1));
        int exceptionsSeen = 0;
        for (float x : xs) {
            int best = 0;
            for (int i = 1; i < 16; i++) if (Math.abs((double) x - code[i]) < Math.abs((double) x - code[best])) best = i;
            int got = Nf4Codec.quantizeNf4(x);
            if (exceptions.contains(x)) {
                assertThat(got).as("literal threshold %s (nearer the upper code)", x).isEqualTo(best - 1);
                exceptionsSeen++;
            } else {
                assertThat(got).as("x = %s", x).isEqualTo(best);
            }
        }
        assertThat(exceptionsSeen).isEqualTo(4);
        assertThat(Nf4Codec.quantizeNf4(Float.NaN)).as("0 · inf of an all-zero block").isZero();
        assertThat(Nf4Codec.quantizeFp4(-1e-4f)).as("tiny negative is -0").isEqualTo(0b1000);
        assertThat(Nf4Codec.quantizeFp4(-0.0f)).isZero();
        assertThat(Nf4Codec.quantizeFp4(Float.NaN)).isZero();
    }

    static float[] toFloats(MemorySegment s) {
        return s.toArray(ValueLayout.JAVA_FLOAT_UNALIGNED);
    }

    static void assertBits(String what, float[] got, float[] want) {
        assertThat(got.length).as(what + " length").isEqualTo(want.length);
        for (int i = 0; i < got.length; i++) {
            if (Float.floatToRawIntBits(got[i]) != Float.floatToRawIntBits(want[i])) {
                throw new AssertionError(what + "[" + i + "]: got " + got[i] + " (0x" + Integer.toHexString(Float.floatToRawIntBits(got[i]))
                        + ") want " + want[i] + " (0x" + Integer.toHexString(Float.floatToRawIntBits(want[i])) + ")");
            }
        }
    }
}
