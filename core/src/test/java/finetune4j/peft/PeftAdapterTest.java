package finetune4j.peft;

import finetune4j.ConfigException;
import finetune4j.Finetune4jException;
import finetune4j.ModelFormatException;
import finetune4j.engine.io.SafetensorsWriter;
import finetune4j.engine.tensor.DType;
import finetune4j.engine.tensor.NamedParam;
import finetune4j.export.PeftAdapterWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static finetune4j.peft.PeftInteropTest.resource;
import static finetune4j.peft.PeftInteropTest.tinyLlamaLinear;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Bad adapters and configs: each gives a clear error naming the file, key and what was expected. */
class PeftAdapterTest {
    private static final String Q0 = "base_model.model.model.layers.0.self_attn.q_proj";

    @Test
    void keyMismatchListsMissingAndUnexpectedKeys() throws IOException {
        PeftAdapter a = PeftAdapter.load(resource("lora_qv"));
        Map<String, long[]> linear = tinyLlamaLinear();
        // a base with one layer only: layer 1's tensors are unexpected
        Map<String, long[]> oneLayer = new LinkedHashMap<>(linear);
        oneLayer.keySet().removeIf(k -> k.startsWith("model.layers.1."));
        assertThatThrownBy(() -> a.validate(oneLayer)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("lora_qv/adapter_model.safetensors: does not match the base model")
                .hasMessageContaining("4 unexpected keys [base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight")
                .hasMessageNotContaining("missing keys")
                .hasMessageContaining("'finetune4j/tiny-llama-golden'");
        // a tensor missing from the file, and another base with a different hidden size
        Map<String, PeftAdapter.Tensor> fewer = new LinkedHashMap<>(a.tensors());
        fewer.remove(Q0 + ".lora_B.weight");
        assertThatThrownBy(() -> new PeftAdapter(a.config(), fewer, a.metadata(), "dir").validate(linear))
                .hasMessageContaining("1 missing keys [" + Q0 + ".lora_B.weight]");
        Map<String, long[]> wider = new LinkedHashMap<>(linear);
        wider.put("model.layers.0.self_attn.q_proj", new long[]{32, 32});
        assertThatThrownBy(() -> a.validate(wider))
                .hasMessageContaining("2 shape mismatches [" + Q0 + ".lora_A.weight is [4, 16], expected [4, 32]");
    }

    @Test
    void targetsMatchingNothingListWhatExists() throws IOException {
        LoraConfig c = LoraConfig.builder().targetModules(List.of("query", "value")).build();
        assertThatThrownBy(() -> PeftAdapter.expectedTensors(c, tinyLlamaLinear(), "adapter"))
                .isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("target_modules [query, value] match none of the base model's 15 linear modules [model.layers.0.self_attn.q_proj,");
    }

    @Test
    void copyIntoChecksParametersOneToOne() {
        PeftAdapter a = PeftAdapter.load(resource("lora_qv"));
        List<NamedParam> ps = new ArrayList<>();
        for (Map.Entry<String, PeftAdapter.Tensor> e : a.tensors().entrySet()) {
            ps.add(NamedParam.zeros(e.getKey().substring(PeftAdapter.KEY_PREFIX.length()), e.getValue().shape()));
        }
        a.copyInto(ps);
        for (NamedParam p : ps) assertThat(p.data()).isEqualTo(a.tensor(PeftAdapter.KEY_PREFIX + p.name()).data());
        ps.remove(0);
        ps.add(NamedParam.zeros("model.layers.0.self_attn.k_proj.lora_A.weight", 4, 16));
        assertThatThrownBy(() -> a.copyInto(ps)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("1 missing keys [base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight]")
                .hasMessageContaining("1 unexpected keys [" + Q0 + ".lora_A.weight]");
    }

    private static Path adapterDir(Path tmp, String configJson) throws IOException {
        Path d = tmp.resolve("a");
        Files.createDirectories(d);
        Files.writeString(d.resolve(PeftAdapter.CONFIG_FILE), configJson);
        SafetensorsWriter.create().metadata("format", "pt").add(Q0 + ".lora_A.weight", new long[]{1, 2}, new float[]{1, 2})
                .write(d.resolve(PeftAdapter.WEIGHTS_FILE));
        return d;
    }

    @Test
    void unknownConfigKeysAreIgnoredWithAWarningMissingKeysTakeDefaults(@TempDir Path tmp) throws IOException {
        Path d = adapterDir(tmp, "{\"peft_type\": \"LORA\", \"r\": 2, \"zeta\": 1, \"alpha_new_thing\": {\"x\": [1]}}");
        List<String> warnings = new ArrayList<>();
        PeftAdapter a = PeftAdapter.load(d, warnings::add);
        assertThat(warnings).singleElement().asString()
                .contains("adapter_config.json: unexpected keys [alpha_new_thing, zeta]").contains("ignored");
        assertThat(a.config()).isEqualTo(LoraConfig.builder().r(2).peftVersion(null).build());
        assertThat(a.config().loraAlpha()).isEqualTo(8);
    }

    @Test
    void badConfigsNameFileAndKey(@TempDir Path tmp) throws IOException {
        record Case(String json, String message) {
        }
        for (Case c : List.of(
                new Case("{\"r\": 8}", "key 'peft_type' is missing"),
                new Case("{\"peft_type\": \"PREFIX_TUNING\", \"num_virtual_tokens\": 20}",
                        "peft_type 'PREFIX_TUNING' is a PEFT type finetune4j does not support: finetune4j reads LoRA adapters"),
                new Case("{\"peft_type\": \"LORAX\"}", "peft_type 'LORAX' is not a PEFT type"),
                new Case("{\"peft_type\": \"LORA\", \"r\": \"eight\"}", "key 'r': expected an integer, got string \"eight\""),
                new Case("{\"peft_type\": \"LORA\", \"r\": 0}", "r = 0 is not allowed: expected a positive integer"),
                new Case("{\"peft_type\": \"LORA\", \"lora_dropout\": 1.5}", "lora_dropout = 1.5 is not allowed"),
                new Case("{\"peft_type\": \"LORA\", \"target_modules\": [\"q\", 3]}", "key 'target_modules': expected a list of strings"),
                new Case("{\"peft_type\": \"LORA\", \"target_modules\": \"(unclosed\"}", "target_modules = '(unclosed' is not allowed: expected a valid regular expression"),
                new Case("{\"peft_type\": \"LORA\", \"rank_pattern\": {\"q_proj\": 2.5}}", "key 'rank_pattern.q_proj': expected an integer"),
                new Case("{\"peft_type\": \"LORA\", \"bias\": \"some\"}", "bias = 'some' is not allowed: expected one of [none, all, lora_only]"),
                new Case("{\"peft_type\": \"LORA\", \"use_dora\": true, \"lora_bias\": true}", "lora_bias = true is not supported with DoRA"),
                new Case("{\"peft_type\": \"LORA\", \"target_modules\": \"all-linear\", \"layers_to_transform\": [0]}", "layers_to_transform cannot be used"),
                new Case("{\"peft_type\": \"LORA\",\n \"r\": 4,,}", "is not valid JSON"),
                new Case("[1, 2]", "expected a JSON object, got array"))) {
            Path d = adapterDir(tmp, c.json());
            assertThatThrownBy(() -> PeftAdapter.load(d)).as(c.json()).isInstanceOf(ModelFormatException.class)
                    .hasMessageStartingWith(d.resolve(PeftAdapter.CONFIG_FILE) + ": ")
                    .hasMessageContaining(c.message());
        }
    }

    @Test
    void missingFilesAndNonFloatTensorsAreClearErrors(@TempDir Path tmp) throws IOException {
        assertThatThrownBy(() -> PeftAdapter.load(tmp.resolve("nope"))).hasMessageContaining("nope: adapter directory not found");
        Path d = adapterDir(tmp, "{\"peft_type\": \"LORA\"}");
        Files.delete(d.resolve(PeftAdapter.WEIGHTS_FILE));
        assertThatThrownBy(() -> PeftAdapter.load(d)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("adapter_model.safetensors: file not found");
        Files.writeString(d.resolve("adapter_model.bin"), "pickle");
        assertThatThrownBy(() -> PeftAdapter.load(d)).hasMessageContaining("legacy pickle adapter_model.bin");
        Files.delete(d.resolve(PeftAdapter.CONFIG_FILE));
        assertThatThrownBy(() -> PeftAdapter.load(d)).hasMessageContaining("adapter_config.json: file not found");
        Path e = adapterDir(tmp.resolve("x"), "{\"peft_type\": \"LORA\"}");
        SafetensorsWriter.create().add("k", DType.I32, new long[]{1}, java.lang.foreign.MemorySegment.ofArray(new int[]{7}))
                .write(e.resolve(PeftAdapter.WEIGHTS_FILE));
        assertThatThrownBy(() -> PeftAdapter.load(e)).hasMessageContaining("tensor 'k' is I32; adapter tensors must be F32, F16 or BF16");
        Files.write(e.resolve(PeftAdapter.WEIGHTS_FILE), new byte[]{1, 2, 3});
        assertThatThrownBy(() -> PeftAdapter.load(e)).isInstanceOf(ModelFormatException.class).hasMessageContaining("adapter_model.safetensors");
    }

    @Test
    void saveIntoExistingDirectoryKeepsOtherFilesAndReplacesTheAdapter(@TempDir Path tmp) throws IOException {
        PeftAdapter qv = PeftAdapter.load(resource("lora_qv"));
        PeftAdapter dora = PeftAdapter.load(resource("dora"));
        Path out = tmp.resolve("run");
        Files.createDirectories(out);
        Files.writeString(out.resolve("metrics.jsonl"), "{}\n");
        PeftAdapterWriter.save(qv, out);
        PeftAdapterWriter.save(dora, out);
        assertThat(Files.readString(out.resolve("metrics.jsonl"))).isEqualTo("{}\n");
        assertThat(PeftAdapter.load(out).tensors()).isEqualTo(dora.tensors());
        try (var s = Files.list(out)) {
            assertThat(s.map(p -> p.getFileName().toString()).sorted().toList())
                    .containsExactly(PeftAdapter.CONFIG_FILE, PeftAdapter.WEIGHTS_FILE, "metrics.jsonl");
        }
        try (var s = Files.list(tmp)) {
            assertThat(s.toList()).containsExactly(out);
        }
    }

    @Test
    void failedSaveLeavesNothingBehind(@TempDir Path tmp) throws IOException {
        Path file = tmp.resolve("plain-file");
        Files.writeString(file, "x");
        PeftAdapter qv = PeftAdapter.load(resource("lora_qv"));
        assertThatThrownBy(() -> PeftAdapterWriter.save(qv, file)).isInstanceOf(Finetune4jException.class)
                .hasMessageContaining("it is a file, not a directory");
        assertThatThrownBy(() -> PeftAdapterWriter.save(qv, file.resolve("sub"))).isInstanceOf(Finetune4jException.class)
                .hasMessageContaining("cannot save the adapter to");
        try (var s = Files.list(tmp)) {
            assertThat(s.toList()).containsExactly(file);
        }
    }

    @Test
    void scalingFollowsPeftPatternRules() {
        LoraConfig c = LoraConfig.builder().r(8).loraAlpha(16)
                .rankPattern(new LinkedHashMap<>(Map.of("layers.1.self_attn.q_proj", 2)))
                .alphaPattern(new LinkedHashMap<>(Map.of("q_proj", 4.0))).build();
        assertThat(c.rank("model.layers.1.self_attn.q_proj")).isEqualTo(2);
        assertThat(c.rank("model.layers.11.self_attn.q_proj")).isEqualTo(8);   // must follow a '.' boundary
        assertThat(c.scaling("model.layers.1.self_attn.q_proj")).isEqualTo(2.0);
        assertThat(c.scaling("model.layers.0.self_attn.v_proj")).isEqualTo(2.0);
        assertThat(c.toBuilder().useRslora(true).build().scaling("model.layers.0.self_attn.q_proj")).isEqualTo(4 / Math.sqrt(8));
        assertThat(c.targets("model.layers.0.self_attn.v_proj")).isTrue();   // unset: llama default q_proj, v_proj
        assertThat(c.targets("model.layers.0.mlp.up_proj")).isFalse();
        LoraConfig all = c.toBuilder().targetModules(LoraConfig.Targets.parse("all-linear")).build();
        assertThat(all.targets("lm_head")).isFalse();
        assertThat(all.targets("model.layers.0.mlp.up_proj")).isTrue();
        assertThat(LoraConfig.Targets.parse("q_proj, v_proj")).isEqualTo(LoraConfig.Targets.names("q_proj", "v_proj"));
        assertThatThrownBy(() -> LoraConfig.builder().r(0).build()).isInstanceOf(ConfigException.class);
    }

    @Test
    void unsupportedSettingsAreListed() {
        LoraConfig c = LoraConfig.builder().bias("all").initLoraWeights("pissa")
                .other("use_qalora", com.fasterxml.jackson.databind.node.BooleanNode.TRUE).build();
        assertThat(c.unsupportedSettings()).containsExactly("bias = \"all\"", "init_lora_weights = pissa", "use_qalora = true");
    }
}
