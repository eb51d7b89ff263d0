package finetune4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import finetune4j.engine.io.SafetensorsFile;
import finetune4j.engine.io.TensorInfo;
import finetune4j.engine.tensor.DType;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;

/**
 * The goldens of {@code tools/golden/train_reference.py} (real transformers): one labelled batch
 * (B = 2, T = 12, right padding) and, per tiny model, the mean loss and the gradient of every
 * parameter ({@code golden/train/}).
 */
final class TrainGolden {
    static final String[] MODELS = {"llama-gqa-f32", "qwen2-bias-f16", "llama-bias-bf16"};
    static final int B = 2, T = 12;
    /** Row 0 of the batch (no padding). */
    static final int[] SEQ_A = {1, 17, 200, 45, 3, 99, 128, 7, 255, 64, 31, 88};

    private static JsonNode manifest;

    private TrainGolden() {
    }

    static synchronized JsonNode manifest() {
        if (manifest == null) {
            try {
                manifest = new ObjectMapper().readTree(LlamaGolden.resource("golden/train/manifest.json").toFile());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return manifest;
    }

    /** A (B, T) int matrix of the manifest, flattened. */
    static int[] flat(String key) {
        JsonNode rows = manifest().get(key);
        int[] out = new int[B * T];
        for (int b = 0; b < B; b++) for (int t = 0; t < T; t++) out[b * T + t] = rows.get(b).get(t).intValue();
        return out;
    }

    static int[] ids() {
        return flat("ids");
    }

    static int[] labels() {
        return flat("labels");
    }

    /** An F32 tensor of train_reference.safetensors, flattened; null when absent. */
    static float[] tensor(String name) {
        try (SafetensorsFile f = SafetensorsFile.open(LlamaGolden.resource("golden/train/train_reference.safetensors"))) {
            TensorInfo info = f.info(name);
            if (info == null) return null;
            if (info.dtype() != DType.F32) throw new IllegalStateException(name + " is " + info.dtype());
            MemorySegment seg = f.data(name);
            float[] out = new float[(int) info.numel()];
            for (int i = 0; i < out.length; i++) out[i] = DType.F32.getFloat(seg, i);
            return out;
        }
    }
}
