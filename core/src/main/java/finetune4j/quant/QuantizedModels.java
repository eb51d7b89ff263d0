package finetune4j.quant;

import com.fasterxml.jackson.databind.node.ObjectNode;
import finetune4j.ConfigException;
import finetune4j.Finetune4jException;
import finetune4j.ModelFormatException;
import finetune4j.engine.io.ModelWeights;
import finetune4j.engine.io.SafetensorsWriter;
import finetune4j.engine.io.TensorInfo;
import finetune4j.engine.kernels.KernelSelector;
import finetune4j.engine.kernels.KernelThreads;
import finetune4j.engine.kernels.Kernels;
import finetune4j.engine.tensor.DType;
import finetune4j.engine.tensor.QuantizedWeight;
import finetune4j.engine.tensor.Weight;
import finetune4j.internal.AtomicFiles;
import finetune4j.model.GenerationConfig;
import finetune4j.model.LinearSlot;
import finetune4j.model.LlamaModel;
import finetune4j.model.ModelConfig;
import finetune4j.model.RandomInit;
import finetune4j.model.WeightSource;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Loading and writing bitsandbytes 4-bit models (QLoRA's frozen base):
 *
 * {@snippet :
 * // a checkpoint transformers saved with BitsAndBytesConfig(load_in_4bit=True, ...), or one quantize wrote:
 * try (LlamaModel m = QuantizedModels.load(dir, kernels)) { ... }          // 4-bit data stays memory-mapped
 * // an F32/BF16/F16 model quantized while loading (off-heap), like from_pretrained(..., load_in_4bit=True):
 * try (LlamaModel m = QuantizedModels.loadIn4bit(dir, kernels, QuantSpec.qlora())) { ... }
 * // write a 4-bit checkpoint (the quantize command):
 * QuantizedModels.quantize(dir, out, new QuantizationConfig(QuantType.NF4, true, "bfloat16", null), 64);
 * }
 *
 * Which layers are quantized follows transformers: every {@code nn.Linear} except the output
 * embedding {@code lm_head} (and except {@code llm_int8_skip_modules} when given, which then
 * replaces that default); embeddings and norms are not linear layers and stay as they are.
 */
public final class QuantizedModels {
    private QuantizedModels() {
    }

    /** The {@code quantization_config} of {@code dir/config.json}, or null when the model is not quantized. */
    public static QuantizationConfig config(Path dir) {
        return QuantizationConfig.of(dir.resolve("config.json").toString(), ModelConfig.rawJson(dir));
    }

    /**
     * A model directory that may be 4-bit: loaded as such when its config.json has a
     * {@code quantization_config}; otherwise quantized on load when {@code loadIn4bit} is not null,
     * or loaded as stored.
     */
    public static LlamaModel open(Path dir, Kernels kernels, QuantSpec loadIn4bit) {
        if (config(dir) != null) return load(dir, kernels);
        if (loadIn4bit != null) return loadIn4bit(dir, kernels, loadIn4bit);
        return LlamaModel.load(dir, kernels);
    }

    /**
     * Loads a bitsandbytes 4-bit checkpoint: every weight with a quant state becomes an
     * {@link Nf4Linear} over the memory-mapped bytes (nothing of it is read into the heap).
     *
     * @throws ModelFormatException naming the tensor for a missing or inconsistent quant-state key,
     *                              an unsupported quant type or block size, or a shape that
     *                              disagrees with the stored state or with config.json
     */
    public static LlamaModel load(Path dir, Kernels kernels) {
        QuantizationConfig qc = config(dir);
        if (qc == null) {
            throw new ModelFormatException(dir.resolve("config.json").toString(), "has no quantization_config: not a 4-bit"
                    + " checkpoint (hint: load it as is, or quantize it on load with --load-in-4bit)");
        }
        ModelWeights w = ModelWeights.open(dir);
        QuantizedSource src;
        try {
            src = QuantizedSource.open(w, null, null);
        } catch (RuntimeException e) {
            w.close();
            throw e;
        }
        if (src.stored().isEmpty()) {
            src.close();
            throw new ModelFormatException(dir.toString(), "config.json has a quantization_config but no weight carries a"
                    + " quant state ('<module>.weight.quant_state.bitsandbytes__nf4|fp4')");
        }
        return LlamaModel.load(dir, kernels, src, src);
    }

    /** {@link #load(Path, Kernels)} with the default kernels. */
    public static LlamaModel load(Path dir) {
        return load(dir, KernelSelector.get());
    }

    /**
     * Loads an F32/BF16/F16 model and quantizes its linear layers (all but {@code lm_head}) into
     * off-heap memory with {@code spec}: transformers' {@code from_pretrained(..., load_in_4bit=True)}.
     * The dense weights are read from the mapped files once, while quantizing.
     */
    public static LlamaModel loadIn4bit(Path dir, Kernels kernels, QuantSpec spec) {
        ModelWeights w = ModelWeights.open(dir);
        QuantizedSource src;
        try {
            src = QuantizedSource.open(w, new QuantizationConfig(spec.type(), spec.doubleQuant(), "float32", null), spec);
        } catch (RuntimeException e) {
            w.close();
            throw e;
        }
        return LlamaModel.load(dir, kernels, src, src);
    }

    /** What {@link #quantize} wrote. */
    public record Result(Path dir, List<Path> files, int quantizedLayers, long inputBytes, long outputBytes) {
    }

    /**
     * Writes a bitsandbytes 4-bit checkpoint of the model in {@code src} to {@code out}: the
     * linear weights {@code qc} quantizes (with {@code blocksize}) in bitsandbytes' layout, every
     * other tensor copied as stored, {@code config.json} with {@code quantization_config}, and the
     * tokenizer and generation files. transformers loads the result with bitsandbytes installed;
     * finetune4j with {@link #load}.
     *
     * @throws ConfigException      when {@code src} is already quantized or {@code out} is {@code src}
     * @throws ModelFormatException for an unreadable source
     */
    public static Result quantize(Path src, Path out, QuantizationConfig qc, int blocksize) {
        QuantSpec spec = qc.spec(blocksize);
        if (config(src) != null) throw new ConfigException("--model", src.toString(), "an unquantized model (it already has a quantization_config)");
        ModelConfig c = ModelConfig.load(src);
        try {
            Files.createDirectories(out);
            if (Files.isSameFile(out, src)) throw new ConfigException("--out", out.toString(), "a directory other than the model's");
        } catch (IOException e) {
            throw new Finetune4jException("cannot create " + out + ": " + e.getMessage(), e);
        }
        Set<String> linear = linearWeights(c);
        try (ModelWeights w = ModelWeights.open(src); Arena arena = Arena.ofShared()) {
            SafetensorsWriter sw = SafetensorsWriter.create().metadata("format", "pt");
            int quantized = 0;
            long inBytes = 0;
            for (String name : w.names()) {
                TensorInfo t = w.info(name);
                inBytes += t.byteSize();
                if (linear.contains(name) && qc.quantizes(name.substring(0, name.length() - ".weight".length()))) {
                    QuantizedWeight q = Nf4Codec.quantize(w.weight(name), spec, arena);
                    Bnb4bitFormat.write(sw, q);
                    quantized++;
                } else {
                    sw.add(name, t.dtype(), t.shape(), w.data(name));
                }
            }
            long outBytes = sw.dataSize();
            List<Path> files = new ArrayList<>(sw.writeSharded(out, LlamaModel.DEFAULT_SHARD_BYTES));
            ObjectNode raw = ModelConfig.rawJson(src);
            raw.set(QuantizationConfig.KEY, qc.toJson());
            c.write(out, raw);
            files.add(out.resolve("config.json"));
            for (String f : LlamaModel.COPIED_FILES) {
                Path p = src.resolve(f);
                if (Files.isRegularFile(p)) {
                    AtomicFiles.copy(p, out.resolve(f));
                    files.add(out.resolve(f));
                }
            }
            return new Result(out, files, quantized, inBytes, outBytes);
        }
    }

    /**
     * Writes a random-initialised 4-bit model ({@link RandomInit}'s values for {@code seed}: what
     * {@code init-model} writes densely) whose linear layers are quantized straight from the
     * generator, so a 7B-shaped checkpoint is made without its 13 GB of BF16 ever existing: the
     * 4-bit layers are held off-heap until written, the other tensors are generated while
     * writing. Writes the weights and a config.json with {@code quantization_config}.
     *
     * @param dtype the dtype of the unquantized tensors (embedding, lm_head, norms) and of the
     *              quant states' {@code "dtype"}
     */
    public static List<Path> writeRandom(ModelConfig c, Path dir, long seed, double std, DType dtype, QuantizationConfig qc,
                                         int blocksize) {
        QuantSpec spec = qc.spec(blocksize);
        Set<String> linear = linearWeights(c);
        try (Arena arena = Arena.ofShared()) {
            SafetensorsWriter w = SafetensorsWriter.create().metadata("format", "pt");
            for (Object[] e : RandomInit.tensorList(c)) {
                String name = (String) e[0];
                long[] shape = (long[]) e[1];
                if (linear.contains(name) && qc.quantizes(name.substring(0, name.length() - ".weight".length()))) {
                    Bnb4bitFormat.write(w, Nf4Codec.quantize(name, (int) shape[0], (int) shape[1], dtype,
                            (first, out, n) -> RandomInit.values(seed, name, std, first, out, n), spec, arena));
                } else {
                    boolean norm = name.endsWith("norm.weight"), bias = name.endsWith(".bias");
                    w.add(name, dtype, shape, norm ? (first, out, n) -> Arrays.fill(out, 0, n, 1f)
                            : bias ? (first, out, n) -> Arrays.fill(out, 0, n, 0f)
                            : (first, out, n) -> RandomInit.values(seed, name, std, first, out, n));
                }
            }
            try {
                Files.createDirectories(dir);
            } catch (IOException ex) {
                throw new Finetune4jException("cannot create " + dir + ": " + ex.getMessage(), ex);
            }
            List<Path> files = new ArrayList<>(w.writeSharded(dir, LlamaModel.DEFAULT_SHARD_BYTES));
            ObjectNode raw = c.toJson();
            raw.set(QuantizationConfig.KEY, qc.toJson());
            c.write(dir, raw);
            files.add(dir.resolve("config.json"));
            return files;
        }
    }

    /**
     * The same random 4-bit model as {@link #writeRandom}, built in memory instead of written:
     * the 4-bit layers and the dense embedding / lm_head live off-heap (freed with the model
     * once it is unreachable), nothing of the base on the Java heap. For {@code bench train}.
     */
    public static LlamaModel random(ModelConfig c, long seed, double std, DType dtype, QuantizationConfig qc, int blocksize,
                                    Kernels kernels) {
        QuantSpec spec = qc.spec(blocksize);
        Set<String> linear = linearWeights(c);
        Arena arena = Arena.ofAuto();
        Map<String, Weight> matrices = new HashMap<>();
        Map<String, float[]> vectors = new HashMap<>();
        Map<String, QuantizedWeight> quantized = new HashMap<>();
        for (Object[] e : RandomInit.tensorList(c)) {
            String name = (String) e[0];
            long[] shape = (long[]) e[1];
            if (shape.length == 1) {
                float[] v = new float[(int) shape[0]];
                if (name.endsWith("norm.weight")) Arrays.fill(v, 1f);
                vectors.put(name, v);
            } else if (linear.contains(name) && qc.quantizes(name.substring(0, name.length() - ".weight".length()))) {
                quantized.put(name, Nf4Codec.quantize(name, (int) shape[0], (int) shape[1], dtype,
                        (first, out, n) -> RandomInit.values(seed, name, std, first, out, n), spec, arena));
            } else {
                long numel = shape[0] * shape[1];
                MemorySegment seg = arena.allocate(dtype.byteSize(numel), 64);
                int chunk = 1 << 16;
                ThreadLocal<float[]> buffer = ThreadLocal.withInitial(() -> new float[chunk]);
                KernelThreads.run((int) ((numel + chunk - 1) / chunk), ch -> {
                    long first = (long) ch * chunk;
                    int n = (int) Math.min(chunk, numel - first);
                    float[] buf = buffer.get();
                    RandomInit.values(seed, name, std, first, buf, n);
                    for (int i = 0; i < n; i++) dtype.setFloat(seg, first + i, buf[i]);
                });
                matrices.put(name, new Weight(name, dtype, (int) shape[0], (int) shape[1], seg));
            }
        }
        WeightSource dense = WeightSource.of("random " + c.architecture() + " (seed " + seed + ", 4-bit " + qc.type().bnbName()
                + ", in memory)", matrices, vectors);
        WeightSource src = new WeightSource() {
            @Override
            public String origin() {
                return dense.origin();
            }

            @Override
            public boolean contains(String name) {
                return quantized.containsKey(name) || dense.contains(name);
            }

            @Override
            public long[] shape(String name) {
                QuantizedWeight q = quantized.get(name);
                return q != null ? new long[]{q.rows(), q.cols()} : dense.shape(name);
            }

            @Override
            public Weight weight(String name) {
                return dense.weight(name);
            }

            @Override
            public float[] floats(String name) {
                return dense.floats(name);
            }

            @Override
            public LinearSlot linear(String module, int outFeatures, int inFeatures, float[] bias, Kernels k) {
                QuantizedWeight q = quantized.get(module + ".weight");
                return q == null ? null : new Nf4Linear(module, q, bias, k);
            }
        };
        return LlamaModel.fromWeights(c, GenerationConfig.defaults(), src, kernels);
    }

    /** The weight names of the model's linear layers (q/k/v/o, gate/up/down, and an untied lm_head). */
    static Set<String> linearWeights(ModelConfig c) {
        Set<String> out = new HashSet<>();
        for (Object[] e : RandomInit.tensorList(c)) {
            String name = (String) e[0];
            if (name.endsWith("_proj.weight") || name.equals("lm_head.weight")) out.add(name);
        }
        return out;
    }
}
