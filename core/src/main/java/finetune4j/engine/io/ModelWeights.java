package finetune4j.engine.io;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import finetune4j.ModelFormatException;
import finetune4j.engine.tensor.DType;
import finetune4j.engine.tensor.Weight;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The weights of a Hugging Face model directory: either one {@code model.safetensors}, or
 * {@code model.safetensors.index.json} plus the shards it names
 * ({@code model-00001-of-00003.safetensors}, …), presented as one name → tensor map.
 *
 * <p>Like transformers, a single {@code model.safetensors} is preferred when both are present.
 * For a sharded model every shard is opened and validated, and the index must agree with the
 * shards exactly: each {@code weight_map} entry is in the shard it names, and each tensor of a
 * shard is listed for that shard.
 *
 * <p><b>Lifetime.</b> All shards stay memory-mapped until {@link #close()}; the segments and
 * {@link Weight}s handed out are views of the mappings and must not be used after it.
 *
 * {@snippet :
 * try (ModelWeights w = ModelWeights.open(modelDir)) {
 *     Weight q = w.weight("model.layers.0.self_attn.q_proj.weight");   // (H*D, C)
 *     float[] norm = w.floats("model.norm.weight");                   // (C)
 * }
 * }
 */
public final class ModelWeights implements AutoCloseable {
    public static final String SINGLE_FILE = "model.safetensors";
    public static final String INDEX_FILE = "model.safetensors.index.json";

    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Path dir;
    private final List<SafetensorsFile> files;
    private final Map<String, SafetensorsFile> owner;   // tensor name → file, sorted by name

    private ModelWeights(Path dir, List<SafetensorsFile> files, Map<String, SafetensorsFile> owner) {
        this.dir = dir;
        this.files = List.copyOf(files);
        this.owner = Collections.unmodifiableMap(owner);
    }

    /**
     * Opens the weights of the model directory {@code dir}.
     *
     * @throws ModelFormatException when the directory, a weights file or a shard is missing, a file is
     *                              invalid, or the index disagrees with the shards; the message names
     *                              the file and the tensor key
     */
    public static ModelWeights open(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new ModelFormatException(dir.toString(), Files.exists(dir)
                    ? "is not a directory (expected a Hugging Face model directory holding " + SINGLE_FILE + ")"
                    : "model directory not found");
        }
        Path single = dir.resolve(SINGLE_FILE);
        if (Files.exists(single)) {
            SafetensorsFile f = SafetensorsFile.open(single);
            Map<String, SafetensorsFile> owner = new TreeMap<>();
            for (TensorInfo t : f.tensors()) owner.put(t.name(), f);
            return new ModelWeights(dir, List.of(f), owner);
        }
        Path index = dir.resolve(INDEX_FILE);
        if (Files.exists(index)) return openSharded(dir, index);
        String hint = Files.exists(dir.resolve("pytorch_model.bin")) || Files.exists(dir.resolve("pytorch_model.bin.index.json"))
                ? " (it holds PyTorch .bin weights, which finetune4j does not read: convert them to safetensors, "
                  + "e.g. load and save_pretrained(safe_serialization=True) in transformers)"
                : "";
        throw new ModelFormatException(dir.toString(), "no weights: expected " + SINGLE_FILE + " or " + INDEX_FILE
                + " with its shards" + hint);
    }

    private static ModelWeights openSharded(Path dir, Path index) {
        String indexName = index.toString();
        Map<String, String> weightMap = readWeightMap(index);
        Map<String, SafetensorsFile> byShard = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, String> e : weightMap.entrySet()) {
                String shard = e.getValue();
                if (byShard.containsKey(shard)) continue;
                Path p = dir.resolve(shard);
                if (!Files.exists(p)) {
                    throw new ModelFormatException(indexName, "weight_map entry '" + e.getKey() + "' names shard '"
                            + shard + "', which is missing from " + dir + " (download incomplete?)");
                }
                byShard.put(shard, SafetensorsFile.open(p));
            }
            Map<String, SafetensorsFile> owner = new TreeMap<>();
            for (Map.Entry<String, SafetensorsFile> s : byShard.entrySet()) {
                for (TensorInfo t : s.getValue().tensors()) {
                    String listed = weightMap.get(t.name());
                    if (!s.getKey().equals(listed)) {
                        throw new ModelFormatException(indexName, "shard '" + s.getKey() + "' holds tensor '" + t.name()
                                + "' but weight_map " + (listed == null ? "does not list it"
                                : "assigns it to '" + listed + "'") + "; the index does not match the shards");
                    }
                    owner.put(t.name(), s.getValue());
                }
            }
            for (Map.Entry<String, String> e : weightMap.entrySet()) {
                if (!owner.containsKey(e.getKey())) {
                    throw new ModelFormatException(indexName, "weight_map assigns tensor '" + e.getKey() + "' to shard '"
                            + e.getValue() + "', which has no such tensor; the index does not match the shards");
                }
            }
            return new ModelWeights(dir, new ArrayList<>(byShard.values()), owner);
        } catch (RuntimeException e) {
            byShard.values().forEach(SafetensorsFile::close);
            throw e;
        }
    }

    /** Reads {@code weight_map} of an index: tensor name → shard file name (plain names only). */
    private static Map<String, String> readWeightMap(Path index) {
        String name = index.toString();
        JsonNode root;
        try {
            ObjectMapper om = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
            root = om.readTree(index.toFile());
        } catch (JsonProcessingException e) {
            throw new ModelFormatException(name, "is not valid JSON: " + e.getOriginalMessage()
                    + (e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr()), e);
        } catch (IOException e) {
            throw new ModelFormatException(name, "cannot read: " + e, e);
        }
        if (root == null || !root.isObject()) {
            throw new ModelFormatException(name, "expected a JSON object {\"metadata\": …, \"weight_map\": {…}}");
        }
        JsonNode wm = root.get("weight_map");
        if (wm == null || !wm.isObject()) {
            throw new ModelFormatException(name, "'weight_map' must be an object {tensor name: shard file}, got "
                    + (wm == null ? "nothing" : wm.getNodeType().toString().toLowerCase()));
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = wm.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode v = e.getValue();
            if (!v.isTextual()) {
                throw new ModelFormatException(name, "weight_map entry '" + e.getKey() + "' must be a shard file name, got " + v);
            }
            String shard = v.asText();
            if (shard.isEmpty() || shard.contains("/") || shard.contains("\\") || shard.equals("..") || shard.equals(".")) {
                throw new ModelFormatException(name, "weight_map entry '" + e.getKey() + "' names '" + shard
                        + "'; expected a file name in the same directory");
            }
            out.put(e.getKey(), shard);
        }
        if (out.isEmpty()) throw new ModelFormatException(name, "weight_map lists no tensors");
        return out;
    }

    /** The model directory. */
    public Path dir() {
        return dir;
    }

    /** The safetensors files opened, in index order. */
    public List<Path> files() {
        return files.stream().map(SafetensorsFile::path).toList();
    }

    /** All tensor names, sorted. */
    public Set<String> names() {
        return owner.keySet();
    }

    public boolean contains(String name) {
        return owner.containsKey(name);
    }

    /** The entry of {@code name} (offsets relative to its file's data buffer), or {@code null}. */
    public TensorInfo info(String name) {
        SafetensorsFile f = owner.get(name);
        return f == null ? null : f.info(name);
    }

    /** The file holding {@code name}, or {@code null} when no file does. */
    public Path fileOf(String name) {
        SafetensorsFile f = owner.get(name);
        return f == null ? null : f.path();
    }

    /**
     * The stored bytes of {@code name} (read-only mapped slice, valid until {@link #close()}).
     *
     * @throws ModelFormatException naming the directory and the key when absent
     */
    public MemorySegment data(String name) {
        return file(name).data(name);
    }

    /**
     * Tensor {@code name} as a 2-D {@link Weight} over the mapped bytes (no copy).
     *
     * @throws ModelFormatException naming the file and key when absent, not rank 2, or not F32/BF16/F16
     */
    public Weight weight(String name) {
        SafetensorsFile f = file(name);
        TensorInfo t = f.info(name);
        if (!t.dtype().isComputeFloat()) {
            boolean bnb = owner.keySet().stream().anyMatch(k -> k.startsWith(name + ".quant_state.bitsandbytes__"));
            throw new ModelFormatException(f.path().toString(), "tensor '" + name + "' has dtype " + t.dtype()
                    + " " + t.shapeString() + "; expected F32, BF16 or F16" + (bnb
                    ? " (it is a bitsandbytes 4-bit weight: load the model with finetune4j.quant.QuantizedModels.load,"
                      + " which the CLI does for a directory whose config.json has a quantization_config)"
                    : " (quantized weights need their own loader)"));
        }
        if (t.rank() != 2) {
            throw new ModelFormatException(f.path().toString(), "tensor '" + name + "' has shape " + t.shapeString()
                    + " (" + t.dtype() + ", rank " + t.rank() + "); expected a rank-2 matrix (out_features, in_features)");
        }
        if (t.dim(0) > Integer.MAX_VALUE || t.dim(1) > Integer.MAX_VALUE) {
            throw new ModelFormatException(f.path().toString(), "tensor '" + name + "' has shape " + t.shapeString()
                    + "; a dimension above " + Integer.MAX_VALUE + " is not supported");
        }
        return new Weight(name, t.dtype(), (int) t.dim(0), (int) t.dim(1), f.data(t));
    }

    /**
     * Tensor {@code name} (any rank, F32/BF16/F16) converted to a new row-major {@code float[]}.
     * Meant for small tensors: norm weights, biases.
     *
     * @throws ModelFormatException naming the file and key when absent, of another dtype or too large
     */
    public float[] floats(String name) {
        SafetensorsFile f = file(name);
        TensorInfo t = f.info(name);
        if (!t.dtype().isComputeFloat()) {
            throw new ModelFormatException(f.path().toString(), "tensor '" + name + "' has dtype " + t.dtype()
                    + " " + t.shapeString() + "; expected F32, BF16 or F16");
        }
        long n = t.numel();
        if (n > Integer.MAX_VALUE - 8) {
            throw new ModelFormatException(f.path().toString(), "tensor '" + name + "' " + t.shapeString()
                    + " has " + n + " elements, too many for a float[]");
        }
        return toFloats(t.dtype(), f.data(t), (int) n);
    }

    /** Converts {@code n} little-endian elements of {@code dtype} to FP32. */
    static float[] toFloats(DType dtype, MemorySegment src, int n) {
        float[] out = new float[n];
        switch (dtype) {
            case F32 -> MemorySegment.copy(src, F32_LE, 0, out, 0, n);
            case BF16 -> {
                for (int i = 0; i < n; i++) out[i] = DType.bf16ToFloat(src.get(I16_LE, 2L * i));
            }
            case F16 -> {
                for (int i = 0; i < n; i++) out[i] = Float.float16ToFloat(src.get(I16_LE, 2L * i));
            }
            default -> throw new IllegalArgumentException(dtype + " is not a float type");
        }
        return out;
    }

    private SafetensorsFile file(String name) {
        SafetensorsFile f = owner.get(name);
        if (f == null) {
            String hint = name.equals("lm_head.weight") && owner.containsKey("model.embed_tokens.weight")
                    ? " (tied embeddings store no lm_head.weight: use model.embed_tokens.weight)" : "";
            throw new ModelFormatException(dir.toString(), "no tensor '" + name + "' in the model weights ("
                    + owner.size() + " tensors in " + files.size() + " file" + (files.size() == 1 ? "" : "s") + ")" + hint);
        }
        return f;
    }

    /** Unmaps every file. Idempotent. */
    @Override
    public void close() {
        for (SafetensorsFile f : files) f.close();
    }

    @Override
    public String toString() {
        return "ModelWeights[" + dir + ", " + owner.size() + " tensors in " + files.size() + " files]";
    }
}
