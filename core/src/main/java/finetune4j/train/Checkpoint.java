package finetune4j.train;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import finetune4j.ConfigException;
import finetune4j.Finetune4jException;
import finetune4j.ModelFormatException;
import finetune4j.engine.io.SafetensorsFile;
import finetune4j.engine.io.SafetensorsWriter;
import finetune4j.engine.io.TensorInfo;
import finetune4j.engine.tensor.DType;
import finetune4j.engine.tensor.NamedParam;
import finetune4j.export.PeftAdapterWriter;
import finetune4j.internal.PyJson;
import finetune4j.peft.PeftAdapter;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.CRC32C;

/**
 * Training checkpoints: a directory {@code <output>/checkpoint-<step>/} holding
 * <ul>
 *   <li>the trained weights, written by a {@link ModelWriter} (for adapters: the PEFT files,
 *   {@code adapter_config.json} + {@code adapter_model.safetensors}, see {@link #save(Path,
 *   TrainerState, Optimizer, List, PeftAdapter, int)});</li>
 *   <li>{@code optimizer.safetensors}: the optimizer buffers as F32 tensors named
 *   {@code <param>.<state>} (torch names: {@code exp_avg}, {@code exp_avg_sq},
 *   {@code momentum_buffer}) in the parameters' shapes; {@code __metadata__} holds the optimizer
 *   type, its step, its settings ({@code setting.<name>}) and a CRC-32C of the tensor bytes, so a
 *   corrupted file is refused rather than silently resumed from;</li>
 *   <li>{@code trainer_state.json}: the {@link TrainerState} (step, lr, RNG states, data position,
 *   config hash, tokens, time), {@code json.dumps(indent=2, sort_keys=True)} style.</li>
 * </ul>
 * A checkpoint is written into a temporary sibling directory and renamed into place, so a
 * {@code checkpoint-<step>} directory is always complete. After each save only the newest
 * {@code keepLast} checkpoints are kept (0 keeps all), and temporary directories left by a crash
 * are removed. {@link #load} validates every file and names the file and key of any problem.
 *
 * {@snippet :
 * Checkpoint.save(out, state, optimizer, trainable, PeftAdapter.of(loraConfig, trainable), 3);
 * // ... later, --resume:
 * Checkpoint.Loaded ck = Checkpoint.load(Checkpoint.latest(out));
 * ck.requireConfigHash(Checkpoint.hash(canonicalConfig));
 * ck.adapter().copyInto(trainable);
 * ck.restore(optimizer, trainable);
 * }
 */
public final class Checkpoint {
    public static final String PREFIX = "checkpoint-";
    public static final String OPTIMIZER_FILE = "optimizer.safetensors";
    public static final String STATE_FILE = "trainer_state.json";
    /** The version of {@code trainer_state.json} this class writes and reads. */
    public static final int FORMAT_VERSION = 1;

    private static final Pattern NAME = Pattern.compile("checkpoint-(\\d+)");
    private static final Pattern TEMP = Pattern.compile("\\.checkpoint-\\d+\\.(tmp|old)-[0-9a-f]+");

    private Checkpoint() {
    }

    /** Writes the trained weights into a (fresh, temporary) checkpoint directory. */
    @FunctionalInterface
    public interface ModelWriter {
        void writeInto(Path dir);
    }

    /** The directory name of the checkpoint after {@code step} optimizer steps. */
    public static String dirName(long step) {
        return PREFIX + step;
    }

    /** SHA-256 (hex) of a canonical text of the settings that must not change across a resume. */
    public static String hash(String canonicalConfig) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(canonicalConfig.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** {@link #save(Path, TrainerState, Optimizer, List, ModelWriter, int)} for a PEFT adapter. */
    public static Path save(Path outputDir, TrainerState state, Optimizer optimizer, List<NamedParam> params,
                            PeftAdapter adapter, int keepLast) {
        return save(outputDir, state, optimizer, params, dir -> PeftAdapterWriter.writeFiles(adapter, dir), keepLast);
    }

    /**
     * Writes {@code <outputDir>/checkpoint-<state.step()>} atomically and prunes older checkpoints.
     *
     * @param keepLast how many checkpoints to keep, newest first; 0 keeps all
     * @return the checkpoint directory
     * @throws Finetune4jException naming the path when it cannot be written (no partial checkpoint is left)
     */
    public static Path save(Path outputDir, TrainerState state, Optimizer optimizer, List<NamedParam> params,
                            ModelWriter model, int keepLast) {
        if (keepLast < 0) throw new ConfigException("save-total-limit", keepLast, "a number of checkpoints >= 0 (0 keeps all)");
        Path out = outputDir.toAbsolutePath().normalize();
        Path target = out.resolve(dirName(state.step()));
        Path tmp = null, old = null;
        try {
            Files.createDirectories(out);
            tmp = sibling(out, target, "tmp");
            model.writeInto(tmp);
            optimizerWriter(optimizer.state(params), params).write(tmp.resolve(OPTIMIZER_FILE));
            writeText(tmp.resolve(STATE_FILE), stateJson(state));
            if (Files.exists(target)) {
                old = sibling(out, target, "old");
                Files.delete(old);
                move(target, old);
            }
            move(tmp, target);
            tmp = null;
        } catch (IOException e) {
            throw new Finetune4jException("cannot write checkpoint " + target + ": " + e, e);
        } finally {
            if (tmp != null) deleteRecursively(tmp);
            if (old != null) deleteRecursively(old);
        }
        prune(out, keepLast);
        return target;
    }

    private static Path sibling(Path out, Path target, String kind) throws IOException {
        while (true) {
            Path p = out.resolve("." + target.getFileName() + "." + kind + "-" + Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 1));
            try {
                return Files.createDirectory(p);
            } catch (java.nio.file.FileAlreadyExistsException e) {
                // another name
            }
        }
    }

    /** Checkpoint directories in {@code outputDir}, oldest step first (none when the directory does not exist). */
    public static List<Path> list(Path outputDir) {
        if (!Files.isDirectory(outputDir)) return List.of();
        TreeMap<Long, Path> byStep = new TreeMap<>();
        try (Stream<Path> s = Files.list(outputDir)) {
            s.forEach(p -> {
                Matcher m = NAME.matcher(p.getFileName().toString());
                if (m.matches() && Files.isDirectory(p)) {
                    try {
                        byStep.put(Long.parseLong(m.group(1)), p);
                    } catch (NumberFormatException ignored) {
                        // a name with more digits than a step can have is not ours
                    }
                }
            });
        } catch (IOException e) {
            throw new Finetune4jException("cannot list " + outputDir + ": " + e, e);
        }
        return List.copyOf(byStep.values());
    }

    /** The newest checkpoint directory in {@code outputDir}, or {@code null} when there is none. */
    public static Path latest(Path outputDir) {
        List<Path> all = list(outputDir);
        return all.isEmpty() ? null : all.getLast();
    }

    private static void prune(Path out, int keepLast) {
        try (Stream<Path> s = Files.list(out)) {
            s.filter(p -> TEMP.matcher(p.getFileName().toString()).matches()).forEach(Checkpoint::deleteRecursively);
        } catch (IOException e) {
            throw new Finetune4jException("cannot list " + out + ": " + e, e);
        }
        if (keepLast == 0) return;
        List<Path> all = list(out);
        for (int i = 0; i < all.size() - keepLast; i++) deleteRecursively(all.get(i));
    }

    // ---------------------------------------------------------------------------------------
    // optimizer.safetensors

    static SafetensorsWriter optimizerWriter(OptimizerState s, List<NamedParam> params) {
        SafetensorsWriter w = SafetensorsWriter.create();
        Map<String, long[]> shapes = new LinkedHashMap<>();
        for (NamedParam p : params) shapes.put(p.name(), p.shape());
        CRC32C crc = new CRC32C();
        for (Map.Entry<String, float[]> e : new TreeMap<>(s.buffers()).entrySet()) {
            String key = e.getKey();
            String param = key.substring(0, key.lastIndexOf('.'));
            long[] shape = shapes.get(param);
            if (shape == null) throw new IllegalArgumentException("optimizer buffer '" + key + "' belongs to no parameter in the list");
            updateCrc(crc, e.getValue());
        }
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        meta.put("producer", "finetune4j");
        meta.put("optimizer", s.type());
        meta.put("step", Long.toString(s.step()));
        s.settings().forEach((k, v) -> meta.put("setting." + k, v));
        meta.put("crc32c", Long.toHexString(crc.getValue()));
        w.metadata(meta);
        for (Map.Entry<String, float[]> e : s.buffers().entrySet()) {
            String key = e.getKey();
            w.add(key, shapes.get(key.substring(0, key.lastIndexOf('.'))), e.getValue());
        }
        return w;
    }

    /** Feeds {@code v} as little-endian F32 bytes (as stored) to {@code crc}, 1 MiB at a time. */
    private static void updateCrc(CRC32C crc, float[] v) {
        java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate(Math.min(v.length, 1 << 18) * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int off = 0; off < v.length; ) {
            int n = Math.min(v.length - off, buf.capacity() / 4);
            buf.clear();
            buf.asFloatBuffer().put(v, off, n);
            buf.limit(n * 4);
            crc.update(buf);
            off += n;
        }
    }

    static OptimizerState readOptimizer(Path file) {
        String f = file.toString();
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            Map<String, String> meta = st.metadata();
            String type = requireMeta(f, meta, "optimizer");
            long step;
            try {
                step = Long.parseLong(requireMeta(f, meta, "step"));
            } catch (NumberFormatException e) {
                throw new ModelFormatException(f, "__metadata__ key 'step': expected a step count, got '" + meta.get("step") + "'");
            }
            if (step < 0) throw new ModelFormatException(f, "__metadata__ key 'step': expected a step count >= 0, got " + step);
            Map<String, String> settings = new LinkedHashMap<>();
            meta.forEach((k, v) -> {
                if (k.startsWith("setting.")) settings.put(k.substring("setting.".length()), v);
            });
            Map<String, float[]> buffers = new LinkedHashMap<>();
            TreeMap<String, MemorySegment> sorted = new TreeMap<>();
            for (TensorInfo t : st.tensors()) {
                if (t.dtype() != DType.F32) throw new ModelFormatException(f, "tensor '" + t.name() + "' is " + t.dtype() + ", expected F32");
                MemorySegment seg = st.data(t.name());
                sorted.put(t.name(), seg);
            }
            CRC32C crc = new CRC32C();
            for (Map.Entry<String, MemorySegment> e : sorted.entrySet()) crc.update(e.getValue().asByteBuffer());
            String want = requireMeta(f, meta, "crc32c");
            if (!want.equals(Long.toHexString(crc.getValue()))) {
                throw new ModelFormatException(f, "tensor data is corrupted: CRC-32C " + Long.toHexString(crc.getValue())
                        + " does not match the recorded " + want + " (hint: resume from an earlier checkpoint)");
            }
            for (TensorInfo t : st.tensors()) {
                MemorySegment seg = sorted.get(t.name());
                float[] v = new float[Math.toIntExact(t.numel())];
                MemorySegment.copy(seg, ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0, v, 0, v.length);
                buffers.put(t.name(), v);
            }
            return new OptimizerState(type, step, settings, buffers);
        }
    }

    private static String requireMeta(String file, Map<String, String> meta, String key) {
        String v = meta.get(key);
        if (v == null) throw new ModelFormatException(file, "__metadata__ key '" + key + "' is missing (not an optimizer state written by finetune4j?)");
        return v;
    }

    // ---------------------------------------------------------------------------------------
    // trainer_state.json

    static String stateJson(TrainerState s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("format_version", FORMAT_VERSION);
        m.put("producer", "finetune4j");
        m.put("step", s.step());
        m.put("lr", s.lr());
        Map<String, Object> rng = new LinkedHashMap<>();
        s.rng().forEach((k, v) -> rng.put(k, v));
        m.put("rng", rng);
        Map<String, Object> data = new LinkedHashMap<>();
        data.put("epoch", s.data().epoch());
        data.put("index", s.data().index());
        data.put("shuffle_seed", s.data().shuffleSeed());
        m.put("data", data);
        m.put("config_hash", s.configHash());
        m.put("tokens_seen", s.tokensSeen());
        m.put("elapsed_s", s.elapsedS());
        return PyJson.dumpsIndent2Sorted(m) + "\n";
    }

    static TrainerState readState(Path file) {
        String f = file.toString();
        JsonNode root;
        try {
            root = PyJson.parse(Files.readString(file, StandardCharsets.UTF_8));
        } catch (NoSuchFileException e) {
            throw new ModelFormatException(f, "file not found (an incomplete or foreign checkpoint directory?)");
        } catch (JsonProcessingException e) {
            throw new ModelFormatException(f, "is not valid JSON: " + e.getOriginalMessage()
                    + (e.getLocation() != null ? " at line " + e.getLocation().getLineNr() : ""));
        } catch (IOException e) {
            throw new ModelFormatException(f, "cannot read: " + e, e);
        }
        if (root == null || !root.isObject()) throw new ModelFormatException(f, "expected a JSON object");
        long version = integer(f, root, "format_version");
        if (version != FORMAT_VERSION) {
            throw new ModelFormatException(f, "key 'format_version': " + version + " is not supported (this finetune4j reads version "
                    + FORMAT_VERSION + ")");
        }
        JsonNode data = object(f, root, "data");
        Map<String, long[]> rng = new LinkedHashMap<>();
        JsonNode r = object(f, root, "rng");
        for (Iterator<Map.Entry<String, JsonNode>> it = r.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isArray()) throw bad(f, "rng." + e.getKey(), "a list of integers", e.getValue());
            long[] words = new long[e.getValue().size()];
            for (int i = 0; i < words.length; i++) {
                JsonNode w = e.getValue().get(i);
                if (!w.isIntegralNumber() || !w.canConvertToLong()) throw bad(f, "rng." + e.getKey() + "[" + i + "]", "a 64-bit integer", w);
                words[i] = w.longValue();
            }
            rng.put(e.getKey(), words);
        }
        JsonNode hash = root.get("config_hash");
        if (hash == null || !hash.isTextual()) throw bad(f, "config_hash", "a string", hash);
        try {
            return new TrainerState(nonNegative(f, root, "step"), number(f, root, "lr"), rng,
                    new TrainerState.DataPosition(nonNegative(f, data, "data.epoch", "epoch"), nonNegative(f, data, "data.index", "index"),
                            integer(f, data, "data.shuffle_seed", "shuffle_seed")),
                    hash.textValue(), nonNegative(f, root, "tokens_seen"), number(f, root, "elapsed_s"));
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(f, e.getMessage());
        }
    }

    private static ModelFormatException bad(String file, String key, String expected, JsonNode got) {
        return new ModelFormatException(file, "key '" + key + "': expected " + expected + ", got "
                + (got == null ? "nothing (the key is missing)" : got.toString()));
    }

    private static JsonNode object(String f, JsonNode root, String key) {
        JsonNode n = root.get(key);
        if (n == null || !n.isObject()) throw bad(f, key, "an object", n);
        return n;
    }

    private static long integer(String f, JsonNode root, String key) {
        return integer(f, root, key, key);
    }

    private static long integer(String f, JsonNode obj, String path, String key) {
        JsonNode n = obj.get(key);
        if (n == null || !n.isIntegralNumber() || !n.canConvertToLong()) throw bad(f, path, "an integer", n);
        return n.longValue();
    }

    private static long nonNegative(String f, JsonNode root, String key) {
        return nonNegative(f, root, key, key);
    }

    private static long nonNegative(String f, JsonNode obj, String path, String key) {
        long v = integer(f, obj, path, key);
        if (v < 0) throw bad(f, path, "an integer >= 0", obj.get(key));
        return v;
    }

    private static double number(String f, JsonNode root, String key) {
        JsonNode n = root.get(key);
        if (n == null || !n.isNumber()) throw bad(f, key, "a number", n);
        return n.doubleValue();
    }

    // ---------------------------------------------------------------------------------------
    // Loading

    /**
     * A checkpoint read back and validated.
     *
     * @param dir       the checkpoint directory
     * @param state     its trainer state
     * @param optimizer its optimizer state
     */
    public record Loaded(Path dir, TrainerState state, OptimizerState optimizer) {
        /**
         * Restores the optimizer's buffers and step for {@code params}.
         *
         * @throws ModelFormatException naming optimizer.safetensors and the keys that do not fit
         */
        public void restore(Optimizer opt, List<NamedParam> params) {
            opt.load(optimizer, params, dir.resolve(OPTIMIZER_FILE).toString());
        }

        /** The PEFT adapter saved in the checkpoint. */
        public PeftAdapter adapter() {
            return PeftAdapter.load(dir);
        }

        /**
         * @throws ConfigException when the run's settings differ from the checkpoint's (the hash names both)
         */
        public void requireConfigHash(String expected) {
            if (!state.configHash().equals(expected)) {
                throw new ConfigException(dir.resolve(STATE_FILE) + ": the checkpoint was written with other settings (config_hash "
                        + state.configHash() + ", this run " + expected + "); resume with the settings of the interrupted run"
                        + " or start a new output directory");
            }
        }
    }

    /**
     * Reads and validates a checkpoint directory ({@code trainer_state.json} and
     * {@code optimizer.safetensors}; the weights are read by the caller, e.g. {@link Loaded#adapter()}).
     *
     * @throws ModelFormatException naming the file and key of the first problem: a missing file, bad
     *                              JSON, a missing or mistyped key, a corrupted or foreign optimizer file
     */
    public static Loaded load(Path dir) {
        if (dir == null || !Files.isDirectory(dir)) {
            throw new ModelFormatException(String.valueOf(dir), "checkpoint directory not found");
        }
        Path opt = dir.resolve(OPTIMIZER_FILE);
        if (!Files.exists(opt)) throw new ModelFormatException(opt, "file not found (an incomplete or foreign checkpoint directory?)");
        TrainerState state = readState(dir.resolve(STATE_FILE));
        OptimizerState os = readOptimizer(opt);
        return new Loaded(dir, state, os);
    }

    // ---------------------------------------------------------------------------------------
    // Files

    static void writeText(Path file, String text) {
        try {
            Files.writeString(file, text, StandardCharsets.UTF_8);
            try (var ch = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.WRITE)) {
                ch.force(true);
            }
        } catch (IOException e) {
            throw new Finetune4jException("cannot write " + file + ": " + e, e);
        }
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to);
        }
    }

    static void deleteRecursively(Path p) {
        if (!Files.exists(p)) return;
        try (Stream<Path> s = Files.walk(p)) {
            List<Path> all = new ArrayList<>(s.toList());
            all.sort(Comparator.reverseOrder());
            for (Path x : all) Files.deleteIfExists(x);
        } catch (IOException e) {
            throw new Finetune4jException("cannot delete " + p + ": " + e, e);
        }
    }
}
