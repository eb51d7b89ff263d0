package finetune4j.peft;

import com.fasterxml.jackson.databind.JsonNode;
import finetune4j.engine.tensor.DType;
import finetune4j.engine.tensor.NamedParam;
import finetune4j.export.PeftAdapterWriter;
import finetune4j.internal.PyJson;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Interoperability with the real Hugging Face PEFT 0.21, both directions.
 * PEFT → Java: adapter directories written by {@code PeftModel.save_pretrained}
 * (tools/golden/make_peft_golden.py) are read (config fields, keys, shapes, dtypes, values; the
 * modules PEFT wrapped and their r and scaling) and written back byte-identical.
 * Java → PEFT: {@link #writesAdaptersForPython} writes adapters into {@code target/peft-interop/}
 * that tools/golden/check_peft_adapter.py loads with {@code PeftModel.from_pretrained}.
 */
class PeftInteropTest {
    static Path resource(String rel) {
        try {
            return Path.of(PeftInteropTest.class.getResource("/finetune4j/peft/" + rel).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static JsonNode json(Path p) throws IOException {
        return PyJson.parse(Files.readString(p));
    }

    /** tiny-llama's linear modules, name → [out, in], in named_modules() order. */
    static Map<String, long[]> tinyLlamaLinear() throws IOException {
        Map<String, long[]> m = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = json(resource("tiny-llama-linear.json")).fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            m.put(e.getKey(), new long[]{e.getValue().get(0).longValue(), e.getValue().get(1).longValue()});
        }
        return m;
    }

    @ParameterizedTest
    @ValueSource(strings = {"lora_qv", "lora_all_linear", "rslora", "dora", "lora_qv_f16", "lora_qv_bf16"})
    void readsWhatPeftWrote(String name) throws IOException {
        List<String> warnings = new ArrayList<>();
        PeftAdapter a = PeftAdapter.load(resource(name), warnings::add);
        assertThat(warnings).isEmpty();
        JsonNode m = json(resource("manifest.json")).get(name);

        // tensors: keys, shapes, dtypes, values
        JsonNode want = m.get("tensors");
        assertThat(a.tensors().keySet()).containsExactlyInAnyOrderElementsOf(iterable(want.fieldNames()));
        for (Map.Entry<String, PeftAdapter.Tensor> e : a.tensors().entrySet()) {
            JsonNode w = want.get(e.getKey());
            PeftAdapter.Tensor t = e.getValue();
            long[] shape = new long[w.get("shape").size()];
            for (int i = 0; i < shape.length; i++) shape[i] = w.get("shape").get(i).longValue();
            assertThat(t.shape()).as(e.getKey()).isEqualTo(shape);
            assertThat(t.dtype()).as(e.getKey()).isEqualTo(switch (w.get("dtype").textValue()) {
                case "float32" -> DType.F32;
                case "float16" -> DType.F16;
                case "bfloat16" -> DType.BF16;
                default -> throw new IllegalStateException();
            });
            for (int i = 0; i < 3; i++) assertThat(t.data()[i]).as(e.getKey() + "[" + i + "]").isEqualTo((float) w.get("first").get(i).doubleValue());
            double sum = 0;
            for (float f : t.data()) sum += f;
            assertThat(sum).as(e.getKey() + " sum").isCloseTo(w.get("sum").doubleValue(), org.assertj.core.data.Offset.offset(1e-9));
        }

        // modules: what PEFT wrapped, with its r and scaling (rank_pattern, alpha_pattern, rsLoRA, all-linear, excludes)
        Map<String, long[]> linear = tinyLlamaLinear();
        JsonNode modules = m.get("modules");
        assertThat(a.config().selectTargets(linear.keySet())).containsExactlyInAnyOrderElementsOf(iterable(modules.fieldNames()));
        for (Iterator<Map.Entry<String, JsonNode>> it = modules.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            assertThat(a.config().rank(e.getKey())).as("r of " + e.getKey()).isEqualTo(e.getValue().get("r").intValue());
            assertThat(a.config().scaling(e.getKey())).as("scaling of " + e.getKey()).isEqualTo(e.getValue().get("scaling").doubleValue());
        }
        a.validate(linear);
    }

    private static List<String> iterable(Iterator<String> it) {
        List<String> l = new ArrayList<>();
        it.forEachRemaining(l::add);
        return l;
    }

    @ParameterizedTest
    @ValueSource(strings = {"lora_qv", "lora_all_linear", "rslora", "dora", "lora_qv_f16", "lora_qv_bf16"})
    void writesBackByteIdentical(String name, @TempDir Path tmp) throws IOException {
        PeftAdapter a = PeftAdapter.load(resource(name));
        Path out = tmp.resolve("out");
        PeftAdapterWriter.save(a, out);
        for (String f : List.of(PeftAdapter.CONFIG_FILE, PeftAdapter.WEIGHTS_FILE)) {
            assertThat(Files.readAllBytes(out.resolve(f))).as(name + "/" + f).isEqualTo(Files.readAllBytes(resource(name).resolve(f)));
        }
        try (var s = Files.list(tmp)) {
            assertThat(s.map(p -> p.getFileName().toString()).toList()).containsExactly("out");   // no temp dirs left
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"default", "kitchen_sink"})
    void configJsonRoundTripsByteIdentical(String name) throws IOException {
        String text = Files.readString(resource("configs/" + name + ".json"));
        LoraConfig.Parsed p = LoraConfig.fromJson(text, name);
        assertThat(p.ignoredKeys()).isEmpty();
        assertThat(p.config().toJson()).isEqualTo(text);
    }

    @Test
    void defaultsAreThoseOfPeft() throws IOException {
        String python = Files.readString(resource("configs/default.json"));
        // PEFT's LoraConfig() differs from our builder's defaults only in the version it claims
        assertThat(LoraConfig.builder().build().toJson()).isEqualTo(python);
        assertThat(LoraConfig.fromJson("{\"peft_type\": \"LORA\"}", "x").config()).isEqualTo(LoraConfig.builder().peftVersion(null).build());
    }

    @Test
    void configFieldsAsPeftWroteThem() {
        LoraConfig qv = PeftAdapter.load(resource("lora_qv")).config();
        assertThat(qv.r()).isEqualTo(4);
        assertThat(qv.loraAlpha()).isEqualTo(8.0);
        assertThat(qv.loraDropout()).isEqualTo(0.05);
        assertThat(qv.targetModules()).isEqualTo(new LoraConfig.Targets.Names(List.of("v_proj", "q_proj")));
        assertThat(qv.taskType()).isEqualTo("CAUSAL_LM");
        assertThat(qv.baseModelNameOrPath()).isEqualTo("finetune4j/tiny-llama-golden");
        assertThat(qv.inferenceMode()).isTrue();
        assertThat(qv.peftVersion()).isEqualTo("0.21.0");
        assertThat(qv.useDora() || qv.useRslora()).isFalse();
        assertThat(qv.unsupportedSettings()).isEmpty();

        LoraConfig all = PeftAdapter.load(resource("lora_all_linear")).config();
        assertThat(all.rankPattern()).containsExactly(Map.entry("down_proj", 2), Map.entry("model.layers.1.self_attn.q_proj", 8));
        assertThat(all.alphaPattern()).containsExactly(Map.entry("v_proj", 4.0));
        assertThat(all.excludeModules()).isEqualTo(new LoraConfig.Targets.Names(List.of("model.layers.0.mlp.up_proj")));
        assertThat(all.targetModules()).isInstanceOf(LoraConfig.Targets.Names.class);   // PEFT expands all-linear on save

        LoraConfig rs = PeftAdapter.load(resource("rslora")).config();
        assertThat(rs.useRslora()).isTrue();
        assertThat(rs.layersToTransform()).containsExactly(1);
        assertThat(rs.scaling("model.layers.1.self_attn.q_proj")).isEqualTo(8 / Math.sqrt(4));

        assertThat(PeftAdapter.load(resource("dora")).config().useDora()).isTrue();
    }

    /**
     * Writes adapters for tools/golden/check_peft_adapter.py into target/peft-interop/ (each with a
     * {@code <dir>.expected.json} of the modules, ranks and scalings Java expects PEFT to build),
     * and checks here that they read back unchanged.
     */
    @Test
    void writesAdaptersForPython() throws IOException {
        Path root = Path.of("target", "peft-interop");
        Map<String, long[]> linear = tinyLlamaLinear();
        Map<String, LoraConfig> configs = new LinkedHashMap<>();
        LoraConfig.Builder base = LoraConfig.builder().taskType("CAUSAL_LM").baseModelNameOrPath("finetune4j/tiny-llama-golden");
        configs.put("java_lora_qv", base.r(4).loraAlpha(8).targetModules(List.of("q_proj", "v_proj")).build());
        configs.put("java_dora_all_linear_patterns", LoraConfig.builder().taskType("CAUSAL_LM").r(4).loraAlpha(8).useDora(true)
                .targetModules(new LoraConfig.Targets.AllLinear("all-linear"))
                .rankPattern(Map.of("down_proj", 2)).alphaPattern(Map.of("o_proj", 2.5)).build());
        configs.put("java_rslora_layer0_regex", LoraConfig.builder().taskType("CAUSAL_LM").r(8).loraAlpha(16).useRslora(true).loraDropout(0.1)
                .targetModules(new LoraConfig.Targets.Regex("model\\.layers\\.0\\..*_proj")).build());
        SplittableRandom rng = new SplittableRandom(20240607);
        for (Map.Entry<String, LoraConfig> c : configs.entrySet()) {
            LoraConfig cfg = c.getValue();
            List<NamedParam> params = new ArrayList<>();
            for (Map.Entry<String, long[]> t : PeftAdapter.expectedTensors(cfg, linear, c.getKey()).entrySet()) {
                NamedParam p = NamedParam.zeros(t.getKey().substring(PeftAdapter.KEY_PREFIX.length()), t.getValue());
                boolean magnitude = t.getKey().endsWith("lora_magnitude_vector");
                for (int i = 0; i < p.numel(); i++) p.data()[i] = (float) (magnitude ? 0.5 + rng.nextDouble() : rng.nextGaussian() * 0.2);
                params.add(p);
            }
            PeftAdapter a = PeftAdapter.of(cfg, params);
            Path dir = root.resolve(c.getKey());
            PeftAdapterWriter.save(a, dir);
            Map<String, Object> expected = new TreeMap<>();
            for (String m : cfg.selectTargets(linear.keySet())) {
                expected.put(m, Map.of("r", cfg.rank(m), "scaling", cfg.scaling(m)));
            }
            Files.writeString(root.resolve(c.getKey() + ".expected.json"), PyJson.dumpsIndent2Sorted(expected));

            PeftAdapter back = PeftAdapter.load(dir);
            assertThat(back.config()).isEqualTo(cfg.toBuilder().inferenceMode(true).build());
            assertThat(back.tensors()).isEqualTo(a.tensors());
            assertThat(back.metadata()).isEqualTo(PeftAdapter.DEFAULT_METADATA);
            back.validate(linear);
        }
    }
}
