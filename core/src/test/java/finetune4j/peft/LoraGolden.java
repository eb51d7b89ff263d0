package finetune4j.peft;

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
import java.util.HashMap;
import java.util.Map;

/**
 * The goldens of {@code tools/golden/lora_reference.py} (real transformers + peft 0.21):
 * {@code golden/lora/reference.safetensors} and {@code manifest.json}, plus the tiny models.
 */
final class LoraGolden {
    private static JsonNode manifest;
    private static Map<String, float[]> tensors;

    private LoraGolden() {
    }

    static Path resource(String rel) {
        URL url = LoraGolden.class.getResource("/" + rel);
        if (url == null) throw new IllegalStateException("test resource missing: " + rel + " (run tools/golden/lora_reference.py)");
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
                manifest = new ObjectMapper().readTree(resource("golden/lora/manifest.json").toFile());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return manifest;
    }

    static int[] ints(JsonNode array) {
        int size = 0;
        for (JsonNode row : array) size += row.isArray() ? row.size() : 1;
        int[] out = new int[size];
        int i = 0;
        for (JsonNode row : array) {
            if (row.isArray()) for (JsonNode v : row) out[i++] = v.intValue();
            else out[i++] = row.intValue();
        }
        return out;
    }

    /** An F32 golden tensor, flattened row-major. */
    static synchronized float[] tensor(String name) {
        if (tensors == null) {
            tensors = new HashMap<>();
            try (SafetensorsFile f = SafetensorsFile.open(resource("golden/lora/reference.safetensors"))) {
                for (TensorInfo info : f.tensors()) {
                    if (info.dtype() != DType.F32) throw new IllegalStateException(info.name() + " is " + info.dtype());
                    MemorySegment seg = f.data(info.name());
                    float[] out = new float[(int) info.numel()];
                    for (int i = 0; i < out.length; i++) out[i] = DType.F32.getFloat(seg, i);
                    tensors.put(info.name(), out);
                }
            }
        }
        float[] t = tensors.get(name);
        if (t == null) throw new IllegalStateException("no golden tensor " + name);
        return t.clone();
    }
}
