package finetune4j.quant;

import com.fasterxml.jackson.databind.node.ObjectNode;
import finetune4j.ModelFormatException;
import finetune4j.engine.io.SafetensorsFile;
import finetune4j.engine.io.SafetensorsWriter;
import finetune4j.engine.io.TensorInfo;
import finetune4j.engine.kernels.KernelSelector;
import finetune4j.engine.tensor.DType;
import finetune4j.engine.tensor.QuantType;
import finetune4j.model.ModelConfig;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Damaged 4-bit checkpoints fail to load with a {@link ModelFormatException} that names the
 * tensor and says what is wrong: a missing or inconsistent quant-state key, an unsupported quant
 * type or block size, a shape that disagrees with the stored state or with config.json, a
 * quantization other than bitsandbytes 4-bit.
 */
class Bnb4bitBadInputTest {
    static final String W = "model.layers.0.self_attn.q_proj.weight";
    static final String STATE = W + ".quant_state.bitsandbytes__nf4";
    @TempDir
    static Path good;

    @BeforeAll
    static void quantize() {
        QuantizedModels.quantize(QuantizedModelTest.tiny("llama-gqa-f32"), good,
                new QuantizationConfig(QuantType.NF4, true, "float32", null), 64);
    }

    /** A copy of the good checkpoint with tensors removed or replaced (null value: removed). */
    static Path damaged(Path tmp, Map<String, Object[]> edits) throws IOException {
        Files.createDirectories(tmp);
        for (String f : new String[]{"config.json", "generation_config.json"}) Files.copy(good.resolve(f), tmp.resolve(f));
        try (SafetensorsFile in = SafetensorsFile.open(good.resolve("model.safetensors"))) {
            SafetensorsWriter w = SafetensorsWriter.create().metadata("format", "pt");
            for (TensorInfo t : in.tensors()) {
                if (edits.containsKey(t.name())) continue;
                w.add(t.name(), t.dtype(), t.shape(), MemorySegment.ofArray(in.data(t.name()).toArray(ValueLayout.JAVA_BYTE)));
            }
            for (Map.Entry<String, Object[]> e : edits.entrySet()) {
                Object[] v = e.getValue();
                if (v != null) w.add(e.getKey(), (DType) v[0], (long[]) v[1], (MemorySegment) v[2]);
            }
            w.write(tmp.resolve("model.safetensors"));
        }
        return tmp;
    }

    static Map<String, Object[]> remove(String... names) {
        Map<String, Object[]> m = new HashMap<>();
        for (String n : names) m.put(n, null);
        return m;
    }

    static Object[] json(String text) {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        return new Object[]{DType.U8, new long[]{b.length}, MemorySegment.ofArray(b)};
    }

    /** The good quant state of W with {@code edit} applied to its JSON text. */
    static String state(UnaryOperator<String> edit) throws IOException {
        try (SafetensorsFile in = SafetensorsFile.open(good.resolve("model.safetensors"))) {
            return edit.apply(new String(in.data(STATE).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8));
        }
    }

    static void assertLoadFails(Path dir, String... parts) {
        var a = assertThatThrownBy(() -> QuantizedModels.load(dir, KernelSelector.get())).isInstanceOf(ModelFormatException.class);
        for (String p : parts) a.hasMessageContaining(p);
    }

    @Test
    void missingAbsmax(@TempDir Path tmp) throws IOException {
        assertLoadFails(damaged(tmp, remove(W + ".absmax")), W + ".absmax", "missing");
    }

    @Test
    void missingQuantStateKey(@TempDir Path tmp) throws IOException {
        assertLoadFails(damaged(tmp, remove(STATE)), W, "no quant-state key");
    }

    @Test
    void missingNestedTensorsWhileTheStateSaysNested(@TempDir Path tmp) throws IOException {
        assertLoadFails(damaged(tmp, remove(W + ".nested_absmax", W + ".nested_quant_map")), W, "inconsistent", "nested");
    }

    @Test
    void nestedTensorsWithoutNestedState(@TempDir Path tmp) throws IOException {
        String s = state(j -> j.replaceAll(", \"nested_blocksize\".*}", "}"));
        assertLoadFails(damaged(tmp, Map.of(STATE, json(s))), STATE, "inconsistent");
    }

    @Test
    void quantTypeDisagreesWithItsKey(@TempDir Path tmp) throws IOException {
        assertLoadFails(damaged(tmp, Map.of(STATE, json(state(j -> j.replace("\"nf4\"", "\"fp4\""))))), STATE, "inconsistent");
    }

    @Test
    void unsupportedQuantType(@TempDir Path tmp) throws IOException {
        Map<String, Object[]> e = remove(STATE);
        e.put(W + ".quant_state.bitsandbytes__int4", json(state(j -> j.replace("\"nf4\"", "\"int4\""))));
        assertLoadFails(damaged(tmp, e), W + ".quant_state.bitsandbytes__int4", "unsupported type", "nf4, bitsandbytes__fp4");
    }

    @Test
    void unsupportedBlocksize(@TempDir Path tmp) throws IOException {
        assertLoadFails(damaged(tmp, Map.of(STATE, json(state(j -> j.replace("\"blocksize\": 64", "\"blocksize\": 48"))))),
                STATE, "unsupported blocksize 48");
    }

    @Test
    void shapeDisagreesWithThePackedCodes(@TempDir Path tmp) throws IOException {
        assertLoadFails(damaged(tmp, Map.of(STATE, json(state(j -> j.replace("\"shape\": [32, 32]", "\"shape\": [32, 33]"))))),
                W, "quant state says shape [32, 33]");
    }

    @Test
    void shapeDisagreesWithConfig(@TempDir Path tmp) throws IOException {
        assertLoadFails(damaged(tmp, Map.of(STATE, json(state(j -> j.replace("\"shape\": [32, 32]", "\"shape\": [16, 64]"))))),
                W, "[16, 64]", "config.json implies");
    }

    @Test
    void absmaxOfTheWrongLength(@TempDir Path tmp) throws IOException {
        assertLoadFails(damaged(tmp, Map.of(W + ".absmax", new Object[]{DType.U8, new long[]{15}, MemorySegment.ofArray(new byte[15])})),
                W + ".absmax", "U8 [16]");
    }

    @Test
    void codeTableOfTheOtherType(@TempDir Path tmp) throws IOException {
        float[] fp4 = QuantType.FP4.code();
        assertLoadFails(damaged(tmp, Map.of(W + ".quant_map", new Object[]{DType.F32, new long[]{16}, MemorySegment.ofArray(fp4)})),
                W + ".quant_map", "not the nf4 table", "fp4 table");
    }

    @Test
    void unknownQuantStateKeyAndBadJson(@TempDir Path a, @TempDir Path b) throws IOException {
        assertLoadFails(damaged(a, Map.of(STATE, json(state(j -> j.replace("{", "{\"zeta\": 1, "))))), STATE, "unknown key 'zeta'");
        assertLoadFails(damaged(b, Map.of(STATE, json("{\"quant_type\": "))), STATE, "not valid JSON");
    }

    /** Not damage: what other writers legitimately produce loads, and computes what it says. */
    @Test
    void cpuWrittenNestedMapAndNonUint8StorageLoad(@TempDir Path a, @TempDir Path b) throws IOException {
        // bitsandbytes' CPU path overwrites code[0] of the dynamic map with -1.0 before quantizing the absmax (csrc/cpu_ops.cpp
        // quantize_cpu), and that map is what it stores: readers must use the stored map, not the constant
        float[] map = Nf4Codec.dynamicMap();
        map[0] = -1.0f;
        Path cpu = damaged(a, Map.of(W + ".nested_quant_map", new Object[]{DType.F32, new long[]{256}, MemorySegment.ofArray(map)}));
        // bnb_4bit_quant_storage = bfloat16 (FSDP-QLoRA): the same bytes viewed as BF16 [bytes / 2, 1]
        byte[] packed;
        try (SafetensorsFile in = SafetensorsFile.open(good.resolve("model.safetensors"))) {
            packed = in.data(W).toArray(ValueLayout.JAVA_BYTE);
        }
        Path bf16 = damaged(b, Map.of(W, new Object[]{DType.BF16, new long[]{packed.length / 2, 1}, MemorySegment.ofArray(packed)}));
        try (var g = QuantizedModels.load(good, KernelSelector.get()); var c = QuantizedModels.load(cpu, KernelSelector.get());
             var s = QuantizedModels.load(bf16, KernelSelector.get())) {
            var gw = ((Nf4Linear) g.linearSlots().getFirst()).weight();
            var cw = ((Nf4Linear) c.linearSlots().getFirst()).weight();
            var nested = (finetune4j.engine.tensor.QuantizedWeight.Scales.Nested) cw.scales();
            org.assertj.core.api.Assertions.assertThat(nested.code()[0]).isEqualTo(-1.0f);
            for (int blk = 0; blk < cw.blockCount(); blk++) {
                int q = nested.q().get(ValueLayout.JAVA_BYTE, blk) & 0xFF;
                float want = map[q] * nested.absmax2().getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, blk / 256) + nested.offset();
                org.assertj.core.api.Assertions.assertThat(cw.scales().scale(blk)).isEqualTo(want);
            }
            int[] ids = {1, 2, 3, 4, 5};
            org.assertj.core.api.Assertions.assertThat(s.forwardAll(ids)).isEqualTo(g.forwardAll(ids));
            org.assertj.core.api.Assertions.assertThat(gw.rows()).isEqualTo(cw.rows());
        }
    }

    @Test
    void otherQuantizationMethods(@TempDir Path a, @TempDir Path b) throws IOException {
        for (Path p : new Path[]{a, b}) {
            Files.copy(good.resolve("model.safetensors"), p.resolve("model.safetensors"));
            Files.copy(good.resolve("generation_config.json"), p.resolve("generation_config.json"));
        }
        ObjectNode gptq = ModelConfig.rawJson(good);
        ((ObjectNode) gptq.get("quantization_config")).put("quant_method", "gptq");
        Files.writeString(a.resolve("config.json"), gptq.toPrettyString());
        ObjectNode int8 = ModelConfig.rawJson(good);
        ((ObjectNode) int8.get("quantization_config")).put("load_in_8bit", true).put("load_in_4bit", false);
        Files.writeString(b.resolve("config.json"), int8.toPrettyString());
        assertLoadFails(a, "config.json", "quant_method is 'gptq'");
        assertLoadFails(b, "config.json", "LLM.int8");
    }
}
