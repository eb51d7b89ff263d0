package finetune4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import finetune4j.engine.io.SafetensorsFile;
import finetune4j.engine.io.TensorInfo;
import finetune4j.engine.tensor.DType;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Path;

/**
 * The goldens of {@code tools/golden/llama_reference.py}: the tiny random models under
 * {@code tiny-models/}, and {@code golden/llama/reference.safetensors} + {@code manifest.json}
 * (reference logits from a plain-torch re-implementation of transformers' LlamaForCausalLM).
 */
final class LlamaGolden {
    static final String[] TINY = {"llama-gqa-f32", "qwen2-bias-f16", "llama3-rope-bf16", "llama-bias-bf16"};

    private static JsonNode manifest;

    private LlamaGolden() {
    }

    /** A test resource directory or file as a path. */
    static Path resource(String rel) {
        URL url = LlamaGolden.class.getResource("/" + rel);
        if (url == null) throw new IllegalStateException("test resource missing: " + rel + " (run tools/golden/llama_reference.py)");
        try {
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static Path tinyModel(String name) {
        return resource("tiny-models/" + name);
    }

    static synchronized JsonNode manifest() {
        if (manifest == null) {
            try {
                manifest = new ObjectMapper().readTree(resource("golden/llama/manifest.json").toFile());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return manifest;
    }

    static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) out[i] = array.get(i).intValue();
        return out;
    }

    /** An F32 tensor of reference.safetensors, flattened row-major. */
    static float[] tensor(String name) {
        try (SafetensorsFile f = SafetensorsFile.open(resource("golden/llama/reference.safetensors"))) {
            TensorInfo info = f.info(name);
            if (info == null) throw new IllegalStateException("no golden tensor " + name);
            if (info.dtype() != DType.F32) throw new IllegalStateException(name + " is " + info.dtype());
            MemorySegment seg = f.data(name);
            float[] out = new float[(int) info.numel()];
            for (int i = 0; i < out.length; i++) out[i] = DType.F32.getFloat(seg, i);
            return out;
        }
    }
}
