package finetune4j.peft;

import finetune4j.Finetune4jException;
import finetune4j.ModelFormatException;
import finetune4j.engine.io.SafetensorsFile;
import finetune4j.engine.io.TensorInfo;
import finetune4j.engine.tensor.DType;
import finetune4j.engine.tensor.NamedParam;
import finetune4j.internal.Messages;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.charset.CharacterCodingException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Consumer;

/**
 * A Hugging Face PEFT LoRA adapter in memory: its {@link LoraConfig} and its tensors under their
 * file keys (SPECS.md §3a): {@code base_model.model.<hf module>.lora_A.weight} [r, in],
 * {@code .lora_B.weight} [out, r], DoRA {@code .lora_magnitude_vector} [out] (no {@code .weight}).
 *
 * <p>{@link #load(Path)} reads a PEFT directory ({@code adapter_config.json} +
 * {@code adapter_model.safetensors}; F32, F16 and BF16 tensors, converted to float and
 * remembered so they are written back in their dtype). Writing is
 * {@code finetune4j.export.PeftAdapterWriter}. A trainer builds one from its trainable parameters
 * with {@link #of}, whose names are the keys without the {@code base_model.model.} prefix, and
 * restores parameters from one with {@link #copyInto}.
 *
 * {@snippet :
 * PeftAdapter a = PeftAdapter.load(Path.of("out/adapter"));
 * a.validate(model.linearModules());          // {name: [out, in]}; throws listing missing/unexpected keys
 * a.copyInto(trainableParams);                // --init-adapter
 * }
 */
public final class PeftAdapter {
    /** {@code CONFIG_NAME}. */
    public static final String CONFIG_FILE = "adapter_config.json";
    /** {@code SAFETENSORS_WEIGHTS_NAME}. */
    public static final String WEIGHTS_FILE = "adapter_model.safetensors";
    /** Prefix of every LoRA key of a causal-LM adapter ({@code PeftModelForCausalLM.base_model.model}). */
    public static final String KEY_PREFIX = "base_model.model.";
    /** Safetensors metadata written with new adapters: PEFT's {@code {"format": "pt"}} plus who wrote it. */
    public static final Map<String, String> DEFAULT_METADATA = defaultMetadata();

    private static final System.Logger LOG = System.getLogger(PeftAdapter.class.getName());

    private final LoraConfig config;
    private final Map<String, Tensor> tensors;
    private final Map<String, String> metadata;
    private final String source;

    /**
     * One adapter tensor: values as float, and the dtype it is stored in.
     *
     * @param dtype F32, F16 or BF16
     * @param shape PyTorch shape
     * @param data  row-major values, {@code prod(shape)} of them
     */
    public record Tensor(DType dtype, long[] shape, float[] data) {
        public Tensor {
            if (!dtype.isComputeFloat()) throw new IllegalArgumentException("adapter tensors are F32, F16 or BF16, got " + dtype);
            shape = shape.clone();
            long n = 1;
            for (long d : shape) n *= d;
            if (n != data.length) throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " holds " + n + " values, got " + data.length);
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Tensor t && dtype == t.dtype && Arrays.equals(shape, t.shape) && Arrays.equals(data, t.data);
        }

        @Override
        public int hashCode() {
            return dtype.hashCode() * 31 + Arrays.hashCode(shape) * 17 + Arrays.hashCode(data);
        }

        @Override
        public String toString() {
            return dtype + Arrays.toString(shape);
        }
    }

    /**
     * @param config   the adapter configuration
     * @param tensors  file key → tensor; iteration order is kept
     * @param metadata the safetensors {@code __metadata__} to write
     * @param source   where it was read from (for messages), or {@code null}
     */
    public PeftAdapter(LoraConfig config, Map<String, Tensor> tensors, Map<String, String> metadata, String source) {
        this.config = config;
        this.tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
        this.metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
        this.source = source;
    }

    private static Map<String, String> defaultMetadata() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("format", "pt");
        m.put("producer", "finetune4j");
        return Collections.unmodifiableMap(m);
    }

    public LoraConfig config() {
        return config;
    }

    /** File key → tensor, in file (or parameter) order; unmodifiable. */
    public Map<String, Tensor> tensors() {
        return tensors;
    }

    /** The safetensors {@code __metadata__}; unmodifiable. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** The directory or file it was read from, or {@code null}. */
    public String source() {
        return source;
    }

    /** The same tensors with another config (e.g. a new {@code base_model_name_or_path}). */
    public PeftAdapter withConfig(LoraConfig c) {
        return new PeftAdapter(c, tensors, metadata, source);
    }

    /**
     * An F32 adapter from trainable parameters: key = {@link #KEY_PREFIX} + parameter name, data
     * copied (so training may continue while it is written), metadata {@link #DEFAULT_METADATA}.
     */
    public static PeftAdapter of(LoraConfig config, List<NamedParam> params) {
        Map<String, Tensor> t = new LinkedHashMap<>();
        for (NamedParam p : params) {
            if (t.put(KEY_PREFIX + p.name(), new Tensor(DType.F32, p.shape(), p.data().clone())) != null) {
                throw new IllegalArgumentException("parameter '" + p.name() + "' listed twice");
            }
        }
        return new PeftAdapter(config, t, DEFAULT_METADATA, null);
    }

    // ---------------------------------------------------------------------------------------
    // Reading

    /** {@link #load(Path, Consumer)} that reports ignored config keys as a warning on {@link System.Logger}. */
    public static PeftAdapter load(Path dir) {
        return load(dir, w -> LOG.log(System.Logger.Level.WARNING, w));
    }

    /**
     * Reads a PEFT adapter directory.
     *
     * @param warnings receives one message per problem PEFT would only warn about (unknown config keys)
     * @throws ModelFormatException naming the file (and key) when a file is missing, malformed, has
     *                              a non-float tensor, or the config is not LoRA
     */
    public static PeftAdapter load(Path dir, Consumer<String> warnings) {
        if (!Files.isDirectory(dir)) {
            throw new ModelFormatException(dir, Files.exists(dir) ? "is a file; expected a PEFT adapter directory holding "
                    + CONFIG_FILE + " and " + WEIGHTS_FILE : "adapter directory not found");
        }
        Path cfgFile = dir.resolve(CONFIG_FILE);
        String json;
        try {
            json = StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(Files.readAllBytes(cfgFile))).toString();
        } catch (NoSuchFileException e) {
            throw new ModelFormatException(cfgFile, "file not found (a PEFT adapter directory holds " + CONFIG_FILE + " and " + WEIGHTS_FILE + ")");
        } catch (CharacterCodingException e) {
            throw new ModelFormatException(cfgFile, "is not UTF-8 text");
        } catch (IOException e) {
            throw new ModelFormatException(cfgFile.toString(), "cannot read: " + e, e);
        }
        LoraConfig.Parsed parsed = LoraConfig.fromJson(json, cfgFile.toString());
        if (!parsed.ignoredKeys().isEmpty()) {
            warnings.accept(cfgFile + ": unexpected keys " + parsed.ignoredKeys() + " for a PEFT 0.21 LoraConfig are ignored"
                    + " (the file was probably written by a newer PEFT)");
        }
        Path weights = dir.resolve(WEIGHTS_FILE);
        if (!Files.exists(weights) && Files.exists(dir.resolve("adapter_model.bin"))) {
            throw new ModelFormatException(weights, "not found; the directory has the legacy pickle adapter_model.bin, which finetune4j"
                    + " does not read (hint: in Python, PeftModel.from_pretrained(...).save_pretrained(dir, safe_serialization=True))");
        }
        return new PeftAdapter(parsed.config(), readTensors(weights), readMetadata(weights), dir.toString());
    }

    private static Map<String, String> readMetadata(Path weights) {
        try (SafetensorsFile f = SafetensorsFile.open(weights)) {
            return f.metadata();
        }
    }

    private static Map<String, Tensor> readTensors(Path weights) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (SafetensorsFile f = SafetensorsFile.open(weights)) {
            for (TensorInfo t : f.tensors()) {
                if (!t.dtype().isComputeFloat()) {
                    throw new ModelFormatException(weights.toString(), "tensor '" + t.name() + "' is " + t.dtype()
                            + "; adapter tensors must be F32, F16 or BF16");
                }
                long n = t.numel();
                if (n > Integer.MAX_VALUE - 8) throw new ModelFormatException(weights.toString(), "tensor '" + t.name() + "' is too large (" + n + " values)");
                float[] data = new float[(int) n];
                MemorySegment seg = f.data(t.name());
                for (int i = 0; i < data.length; i++) data[i] = t.dtype().getFloat(seg, i);
                out.put(t.name(), new Tensor(t.dtype(), t.shape(), data));
            }
        }
        return out;
    }

    // ---------------------------------------------------------------------------------------
    // Checks against a base model and parameters

    /**
     * Checks that the tensors are exactly what PEFT would create for this config on a base model
     * whose linear modules are {@code linearModules} (full HF name → PyTorch weight shape
     * {@code [out_features, in_features]}, e.g. {@code model.layers.0.self_attn.q_proj → [2048, 2048]}):
     * {@code lora_A} [rank, in], {@code lora_B} [out, rank] (rank from {@code rank_pattern}),
     * {@code lora_B.bias} [out] with {@code lora_bias}, {@code lora_magnitude_vector} [out] with DoRA.
     * Keys under {@code modules_to_save} modules are accepted as they are.
     *
     * @throws ModelFormatException listing the missing keys, the unexpected keys and the shape
     *                              mismatches, or naming the targets that match no module
     */
    public void validate(Map<String, long[]> linearModules) {
        Map<String, long[]> expected = expectedTensors(linearModules);
        List<String> missing = new ArrayList<>(), shapes = new ArrayList<>();
        Set<String> unexpected = new TreeSet<>();
        for (Map.Entry<String, long[]> e : expected.entrySet()) {
            Tensor t = tensors.get(e.getKey());
            if (t == null) missing.add(e.getKey());
            else if (!Arrays.equals(t.shape, e.getValue())) {
                shapes.add(e.getKey() + " is " + Arrays.toString(t.shape) + ", expected " + Arrays.toString(e.getValue()));
            }
        }
        for (String k : tensors.keySet()) if (!expected.containsKey(k) && !isModuleToSaveKey(k)) unexpected.add(k);
        if (missing.isEmpty() && unexpected.isEmpty() && shapes.isEmpty()) return;
        StringBuilder sb = new StringBuilder("does not match the base model");
        if (!missing.isEmpty()) sb.append("; ").append(missing.size()).append(" missing keys ").append(Messages.abbreviate(missing));
        if (!unexpected.isEmpty()) sb.append("; ").append(unexpected.size()).append(" unexpected keys ").append(Messages.abbreviate(unexpected));
        if (!shapes.isEmpty()) sb.append("; ").append(shapes.size()).append(" shape mismatches ").append(Messages.abbreviate(shapes));
        sb.append(" (hint: the adapter was made for ")
                .append(config.baseModelNameOrPath() == null ? "another base model" : "'" + config.baseModelNameOrPath() + "'")
                .append("; check that the base model and the adapter's target_modules/rank_pattern belong together)");
        throw new ModelFormatException(weightsName(), sb.toString());
    }

    /**
     * The tensors PEFT would create for this config on a base with these linear modules, key →
     * shape, in module order.
     *
     * @throws ModelFormatException when the target modules match none of the modules (listing them)
     */
    public Map<String, long[]> expectedTensors(Map<String, long[]> linearModules) {
        return expectedTensors(config, linearModules, weightsName());
    }

    /** {@link #expectedTensors(Map)} for a config alone (e.g. to allocate parameters for a new adapter). */
    public static Map<String, long[]> expectedTensors(LoraConfig config, Map<String, long[]> linearModules, String where) {
        Map<String, long[]> expected = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : linearModules.entrySet()) {
            String m = e.getKey();
            if (!config.targets(m)) continue;
            long[] w = e.getValue();
            if (w.length != 2) throw new IllegalArgumentException("module " + m + ": expected a weight shape [out, in], got " + Arrays.toString(w));
            long r = config.rank(m), out = w[0], in = w[1];
            expected.put(KEY_PREFIX + m + ".lora_A.weight", new long[]{r, in});
            expected.put(KEY_PREFIX + m + ".lora_B.weight", new long[]{out, r});
            if (config.loraBias()) expected.put(KEY_PREFIX + m + ".lora_B.bias", new long[]{out});
            if (config.useDora()) expected.put(KEY_PREFIX + m + ".lora_magnitude_vector", new long[]{out});
        }
        if (expected.isEmpty()) {
            throw new ModelFormatException(where, "target_modules " + describe(config.targetModules())
                    + " match none of the base model's " + linearModules.size() + " linear modules "
                    + Messages.abbreviate(new ArrayList<>(linearModules.keySet())));
        }
        return expected;
    }

    private static String describe(LoraConfig.Targets t) {
        return switch (t) {
            case LoraConfig.Targets.Unset u -> "(unset: default " + LoraConfig.LLAMA_DEFAULT_TARGETS + ")";
            case LoraConfig.Targets.Names(List<String> n) -> n.toString();
            case LoraConfig.Targets.Regex(String p) -> "regex '" + p + "'";
            case LoraConfig.Targets.AllLinear a -> "'" + a.spelling() + "'";
        };
    }

    private boolean isModuleToSaveKey(String key) {
        if (config.modulesToSave() == null || !key.startsWith(KEY_PREFIX)) return false;
        String name = key.substring(KEY_PREFIX.length());
        for (String m : config.modulesToSave()) {
            if (LoraConfig.compile("modules_to_save", "(^|.*\\.)" + m + "\\..*").matcher(name).matches()) return true;
        }
        return false;
    }

    private String weightsName() {
        return source == null ? "adapter" : Path.of(source).resolve(WEIGHTS_FILE).toString();
    }

    /**
     * Copies the adapter's values into {@code params} (key = {@link #KEY_PREFIX} + name), e.g. for
     * {@code --init-adapter} or resuming; F16/BF16 values arrive as the floats they hold.
     *
     * @throws ModelFormatException listing missing keys, unexpected keys and shape mismatches when
     *                              the parameters and the tensors do not correspond one to one
     */
    public void copyInto(List<NamedParam> params) {
        List<String> missing = new ArrayList<>(), shapes = new ArrayList<>();
        Set<String> unexpected = new TreeSet<>(tensors.keySet());
        for (NamedParam p : params) {
            String key = KEY_PREFIX + p.name();
            Tensor t = tensors.get(key);
            unexpected.remove(key);
            if (t == null) missing.add(key);
            else if (!Arrays.equals(t.shape, p.shape())) {
                shapes.add(key + " is " + Arrays.toString(t.shape) + ", the parameter " + Arrays.toString(p.shape()));
            }
        }
        if (!missing.isEmpty() || !unexpected.isEmpty() || !shapes.isEmpty()) {
            StringBuilder sb = new StringBuilder("does not fit the trainable parameters");
            if (!missing.isEmpty()) sb.append("; ").append(missing.size()).append(" missing keys ").append(Messages.abbreviate(missing));
            if (!unexpected.isEmpty()) sb.append("; ").append(unexpected.size()).append(" unexpected keys ").append(Messages.abbreviate(unexpected));
            if (!shapes.isEmpty()) sb.append("; ").append(shapes.size()).append(" shape mismatches ").append(Messages.abbreviate(shapes));
            throw new ModelFormatException(weightsName(), sb.toString());
        }
        for (NamedParam p : params) {
            float[] src = tensors.get(KEY_PREFIX + p.name()).data;
            System.arraycopy(src, 0, p.data(), 0, src.length);
        }
    }

    /** The tensor under {@code key}, or throws naming the file and listing a few keys. */
    public Tensor tensor(String key) {
        Tensor t = tensors.get(key);
        if (t == null) {
            throw new Finetune4jException(weightsName() + ": no tensor '" + key + "' (it has " + tensors.size() + " tensors, e.g. "
                    + Messages.abbreviate(new ArrayList<>(tensors.keySet()).subList(0, Math.min(3, tensors.size()))) + ")");
        }
        return t;
    }

    @Override
    public String toString() {
        return "PeftAdapter[" + tensors.size() + " tensors, r=" + config.r() + (config.useDora() ? ", DoRA" : "")
                + (source != null ? ", from " + source : "") + "]";
    }
}
