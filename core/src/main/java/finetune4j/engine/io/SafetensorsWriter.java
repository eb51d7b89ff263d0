package finetune4j.engine.io;

import finetune4j.Finetune4jException;
import finetune4j.engine.tensor.DType;
import finetune4j.engine.tensor.Weight;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;

/**
 * Writes safetensors files byte-identical to the reference (Rust) writer that Python's
 * {@code safetensors.torch.save_file} calls (SPECS.md §3d; {@code safetensors/src/tensor.rs prepare}):
 * <ol>
 *   <li>tensors sorted by {@link DType} declaration position <em>descending</em>, then by name
 *   (UTF-8 byte order), and stored contiguously in that order;</li>
 *   <li>the header is compact serde_json: {@code __metadata__} first (when set), then the tensors in
 *   offset order, each {@code {"dtype":…,"shape":[…],"data_offsets":[b,e]}};</li>
 *   <li>the header is padded with spaces (0x20) to a multiple of 8 and preceded by its length as a
 *   little-endian u64.</li>
 * </ol>
 * Metadata keys are written in insertion order. (The Rust writer keeps metadata in a
 * {@code HashMap}, so with two or more keys its order is unspecified; insertion order lets a file
 * read by {@link SafetensorsFile} be written back unchanged.)
 *
 * <p>Files are written to a temporary file in the target directory and renamed over the target
 * atomically, so readers never see a half-written file.
 *
 * {@snippet :
 * SafetensorsWriter.create()
 *     .metadata("format", "pt")
 *     .add("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", new long[] {r, c}, loraA)   // F32
 *     .add("model.norm.weight", DType.BF16, new long[] {c}, norm)                                        // converted
 *     .write(dir.resolve("adapter_model.safetensors"));
 * }
 *
 * <p>Data is taken from the given arrays and segments when {@code write} runs, not copied on
 * {@code add}: keep them unchanged (and mapped files open) until then. Byte order: the machine
 * must be little-endian for segments over heap arrays other than {@code byte[]} (x86-64, AArch64).
 */
public final class SafetensorsWriter {
    private static final int CHUNK = 8 << 20;   // bytes copied per write call

    private final Map<String, String> metadata = new LinkedHashMap<>();
    private boolean hasMetadata;
    private final List<Entry> entries = new ArrayList<>();
    private final Set<String> names = new HashSet<>();

    /** One tensor to write: its bytes come from {@code source}. */
    record Entry(String name, DType dtype, long[] shape, Source source) {
        long byteSize() {
            return source.byteSize();
        }
    }

    /** Tensor bytes, produced in chunks at write time. */
    sealed interface Source permits RawBytes, ConvertedFloats, GeneratedFloats {
        long byteSize();

        /** Copies bytes {@code [off, off + len)} of the little-endian tensor into {@code dst} at 0. */
        void copy(long off, MemorySegment dst, long len);
    }

    /** Bytes already in the stored dtype and order (a mapped slice, or a heap segment). */
    record RawBytes(MemorySegment seg) implements Source {
        public long byteSize() {
            return seg.byteSize();
        }

        public void copy(long off, MemorySegment dst, long len) {
            MemorySegment.copy(seg, off, dst, 0, len);
        }
    }

    /** FP32 values converted to F32/BF16/F16 while writing (round to nearest even). */
    record ConvertedFloats(float[] values, DType dtype) implements Source {
        public long byteSize() {
            return (long) values.length * (dtype.bits() / 8);
        }

        public void copy(long off, MemorySegment dst, long len) {
            int es = dtype.bits() / 8;
            long first = off / es, n = len / es;       // chunks are element-aligned
            for (long i = 0; i < n; i++) dtype.setFloat(dst, i, values[(int) (first + i)]);
        }
    }

    /**
     * Produces tensor elements on demand, for tensors too large to hold (a random-initialised 7B
     * model): {@code fill(first, out, n)} writes elements {@code [first, first + n)} into
     * {@code out[0 .. n)}. Called with increasing {@code first}; results must not depend on how the
     * range is cut into calls.
     */
    @FunctionalInterface
    public interface FloatFill {
        void fill(long first, float[] out, int n);
    }

    /** Elements produced by a {@link FloatFill} while writing, converted to F32/BF16/F16. */
    record GeneratedFloats(long numel, DType dtype, FloatFill fill, float[] scratch) implements Source {
        public long byteSize() {
            return numel * (dtype.bits() / 8);
        }

        public void copy(long off, MemorySegment dst, long len) {
            int es = dtype.bits() / 8;
            long first = off / es, n = len / es;
            for (long done = 0; done < n; ) {
                int chunk = (int) Math.min(scratch.length, n - done);
                fill.fill(first + done, scratch, chunk);
                for (int i = 0; i < chunk; i++) dtype.setFloat(dst, done + i, scratch[i]);
                done += chunk;
            }
        }
    }

    private SafetensorsWriter() {
    }

    /** A writer with no tensors and no {@code __metadata__}. */
    public static SafetensorsWriter create() {
        return new SafetensorsWriter();
    }

    /** Adds (or replaces) a {@code __metadata__} entry; PEFT and transformers write {@code "format": "pt"}. */
    public SafetensorsWriter metadata(String key, String value) {
        JsonText.checkWellFormed(key);
        JsonText.checkWellFormed(value);
        metadata.put(key, value);
        hasMetadata = true;
        return this;
    }

    /** Adds all entries of {@code m} in its iteration order; an empty map still writes {@code "__metadata__":{}}. */
    public SafetensorsWriter metadata(Map<String, String> m) {
        m.forEach(this::metadata);
        hasMetadata = true;
        return this;
    }

    /**
     * Adds a tensor whose bytes are already in {@code dtype}, little-endian, row-major.
     *
     * @throws IllegalArgumentException when the name is taken or {@code bytes} has the wrong size
     */
    public SafetensorsWriter add(String name, DType dtype, long[] shape, MemorySegment bytes) {
        long need = checkNew(name, dtype, shape);
        if (bytes.byteSize() != need) {
            throw new IllegalArgumentException(name + ": " + dtype + " " + Arrays.toString(shape) + " needs " + need
                    + " bytes, got a segment of " + bytes.byteSize());
        }
        entries.add(new Entry(name, dtype, shape.clone(), new RawBytes(bytes)));
        return this;
    }

    /** Adds an F32 tensor. */
    public SafetensorsWriter add(String name, long[] shape, float[] values) {
        return add(name, DType.F32, shape, values);
    }

    /** Adds FP32 {@code values} stored as {@code dtype} (F32, BF16 or F16; rounded to nearest even). */
    public SafetensorsWriter add(String name, DType dtype, long[] shape, float[] values) {
        if (!dtype.isComputeFloat()) throw new IllegalArgumentException(name + ": cannot convert floats to " + dtype);
        long need = checkNew(name, dtype, shape);
        if (need != (long) values.length * (dtype.bits() / 8)) {
            throw new IllegalArgumentException(name + ": shape " + Arrays.toString(shape) + " holds "
                    + need / (dtype.bits() / 8) + " elements, got " + values.length);
        }
        entries.add(new Entry(name, dtype, shape.clone(), new ConvertedFloats(values, dtype)));
        return this;
    }

    /**
     * Adds a tensor whose FP32 elements {@code fill} produces at write time, stored as {@code dtype}
     * (F32, BF16 or F16): nothing of it is held in memory.
     */
    public SafetensorsWriter add(String name, DType dtype, long[] shape, FloatFill fill) {
        if (!dtype.isComputeFloat()) throw new IllegalArgumentException(name + ": cannot convert floats to " + dtype);
        long need = checkNew(name, dtype, shape);
        entries.add(new Entry(name, dtype, shape.clone(),
                new GeneratedFloats(need / (dtype.bits() / 8), dtype, fill, new float[1 << 16])));
        return this;
    }

    /** Adds a 2-D weight in its own dtype, under its own name. */
    public SafetensorsWriter add(Weight w) {
        return add(w.name(), w.dtype(), new long[]{w.rows(), w.cols()}, w.data());
    }

    private long checkNew(String name, DType dtype, long[] shape) {
        JsonText.checkWellFormed(name);
        if (name.equals(SafetensorsHeader.METADATA_KEY)) {
            throw new IllegalArgumentException("'__metadata__' is reserved and cannot name a tensor");
        }
        if (!names.add(name)) throw new IllegalArgumentException("tensor '" + name + "' added twice");
        long numel = 1;
        for (long d : shape) {
            if (d < 0) throw new IllegalArgumentException(name + ": negative dimension in " + Arrays.toString(shape));
            numel = Math.multiplyExact(numel, d);
        }
        long bytes = dtype.byteSize(numel);
        if (bytes < 0) {
            throw new IllegalArgumentException(name + ": " + numel + " elements of " + dtype + " are not whole bytes");
        }
        return bytes;
    }

    /** Tensors in storage order: dtype position descending, then name in UTF-8 byte order. */
    List<Entry> sorted() {
        List<Entry> s = new ArrayList<>(entries);
        s.sort(Comparator.comparing((Entry e) -> e.dtype().ordinal()).reversed()
                .thenComparing(Entry::name, JsonText.CODE_POINT_ORDER));
        return s;
    }

    /** Entries in the order they were added (the HF "state_dict order" used for sharding). */
    List<Entry> entries() {
        return Collections.unmodifiableList(entries);
    }

    /** {@code __metadata__} as set, or {@code null} when never set. */
    Map<String, String> metadataOrNull() {
        return hasMetadata ? metadata : null;
    }

    /** A writer for a subset of entries with the same metadata. */
    static SafetensorsWriter of(Map<String, String> metadata, List<Entry> subset) {
        SafetensorsWriter w = new SafetensorsWriter();
        if (metadata != null) w.metadata(metadata);
        for (Entry e : subset) {
            w.names.add(e.name());
            w.entries.add(e);
        }
        return w;
    }

    /** The padded header bytes, without the 8-byte length. */
    byte[] header() {
        StringBuilder sb = new StringBuilder(64 + 96 * entries.size()).append('{');
        boolean first = true;
        if (hasMetadata) {
            sb.append("\"__metadata__\":{");
            boolean f2 = true;
            for (Map.Entry<String, String> m : metadata.entrySet()) {
                if (!f2) sb.append(',');
                JsonText.serde(sb, m.getKey());
                sb.append(':');
                JsonText.serde(sb, m.getValue());
                f2 = false;
            }
            sb.append('}');
            first = false;
        }
        long offset = 0;
        for (Entry e : sorted()) {
            if (!first) sb.append(',');
            first = false;
            JsonText.serde(sb, e.name());
            sb.append(":{\"dtype\":\"").append(e.dtype().name()).append("\",\"shape\":[");
            for (int i = 0; i < e.shape().length; i++) {
                if (i > 0) sb.append(',');
                sb.append(e.shape()[i]);
            }
            long end = offset + e.byteSize();
            sb.append("],\"data_offsets\":[").append(offset).append(',').append(end).append("]}");
            offset = end;
        }
        sb.append('}');
        byte[] json = sb.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) & ~7;
        byte[] out = Arrays.copyOf(json, padded);
        Arrays.fill(out, json.length, padded, (byte) ' ');
        return out;
    }

    /** Sum of the tensors' byte sizes. */
    public long dataSize() {
        long s = 0;
        for (Entry e : entries) s += e.byteSize();
        return s;
    }

    /** Total file size: {@code 8 + header + data}. */
    public long fileSize() {
        return 8 + header().length + dataSize();
    }

    /** The whole file in memory (for small files and tests). */
    public byte[] toBytes() {
        long size = fileSize();
        if (size > Integer.MAX_VALUE - 8) throw new IllegalStateException("file of " + size + " bytes does not fit a byte[]");
        byte[] out = new byte[(int) size];
        MemorySegment dst = MemorySegment.ofArray(out);
        byte[] h = header();
        dst.set(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0, h.length);
        MemorySegment.copy(h, 0, dst, ValueLayout.JAVA_BYTE, 8, h.length);
        long pos = 8 + h.length;
        for (Entry e : sorted()) {
            e.source().copy(0, dst.asSlice(pos, e.byteSize()), e.byteSize());
            pos += e.byteSize();
        }
        return out;
    }

    /**
     * Writes the file atomically: to a temporary file in the same directory, forced to disk, then
     * renamed over {@code file}.
     *
     * @throws Finetune4jException naming the file when it cannot be written
     */
    public void write(Path file) {
        Path abs = file.toAbsolutePath();
        Path dir = abs.getParent();
        Path tmp = null;
        try {
            Files.createDirectories(dir);
            tmp = createTemp(dir, abs.getFileName().toString());
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                byte[] h = header();
                ByteBuffer prefix = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).flip();
                writeAll(ch, prefix);
                writeAll(ch, ByteBuffer.wrap(h));
                ByteBuffer buf = ByteBuffer.allocateDirect(CHUNK);
                MemorySegment bufSeg = MemorySegment.ofBuffer(buf);
                for (Entry e : sorted()) {
                    long size = e.byteSize();
                    for (long off = 0; off < size; off += CHUNK) {
                        int len = (int) Math.min(CHUNK, size - off);
                        e.source().copy(off, bufSeg, len);
                        buf.clear().limit(len);
                        writeAll(ch, buf);
                    }
                }
                ch.force(true);
            }
            moveAtomically(tmp, abs);
            tmp = null;
        } catch (IOException e) {
            throw new Finetune4jException("cannot write " + file + ": " + e, e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // the original error matters more than a leftover temp file
                }
            }
        }
    }

    /**
     * Saves the tensors as a Hugging Face model directory, split like {@code save_pretrained}
     * ({@code huggingface_hub split_state_dict_into_shards_factory}): tensors are taken in the order
     * they were added; a tensor larger than {@code maxShardBytes} gets a shard of its own, otherwise a
     * new shard starts when the next tensor would push the current one past the limit. One shard is
     * written as {@code model.safetensors}; several as {@code model-0000i-of-0000N.safetensors} plus
     * {@code model.safetensors.index.json} ({@code {"metadata": {"total_size": bytes}, "weight_map": …}},
     * written like transformers: {@code json.dumps(indent=2, sort_keys=True) + "\n"}). Every shard carries
     * this writer's metadata. Each file is written atomically; the index last. Weight files of an
     * earlier save that the new layout does not use are deleted afterwards, so {@link ModelWeights}
     * never reads a stale mix.
     *
     * @return the files written, shards first, then the index when there is one
     * @throws Finetune4jException naming the file when one cannot be written
     */
    public List<Path> writeSharded(Path dir, long maxShardBytes) {
        if (maxShardBytes <= 0) throw new IllegalArgumentException("maxShardBytes must be > 0, got " + maxShardBytes);
        List<List<Entry>> shards = new ArrayList<>();
        List<Entry> current = new ArrayList<>();
        long currentSize = 0, totalSize = 0;
        for (Entry e : entries) {
            long size = e.byteSize();
            totalSize += size;
            if (size > maxShardBytes) {
                shards.add(List.of(e));
                continue;
            }
            if (currentSize + size > maxShardBytes) {
                shards.add(current);
                current = new ArrayList<>();
                currentSize = 0;
            }
            current.add(e);
            currentSize += size;
        }
        if (!current.isEmpty() || shards.isEmpty()) shards.add(current);

        List<Path> written = new ArrayList<>();
        Map<String, String> meta = metadataOrNull();
        if (shards.size() == 1) {
            Path f = dir.resolve(ModelWeights.SINGLE_FILE);
            of(meta, shards.get(0)).write(f);
            written.add(f);
        } else {
            Map<String, String> weightMap = new TreeMap<>(JsonText.CODE_POINT_ORDER);
            int n = shards.size();
            for (int i = 0; i < n; i++) {
                String fileName = String.format(Locale.ROOT, "model-%05d-of-%05d.safetensors", i + 1, n);
                Path f = dir.resolve(fileName);
                of(meta, shards.get(i)).write(f);
                written.add(f);
                for (Entry e : shards.get(i)) weightMap.put(e.name(), fileName);
            }
            Path index = dir.resolve(ModelWeights.INDEX_FILE);
            writeText(index, indexJson(totalSize, weightMap));
            written.add(index);
        }
        deleteStale(dir, written);
        return written;
    }

    /** The index text exactly as {@code json.dumps(index, indent=2, sort_keys=True) + "\n"} writes it. */
    static String indexJson(long totalSize, Map<String, String> sortedWeightMap) {
        StringBuilder sb = new StringBuilder("{\n  \"metadata\": {\n    \"total_size\": ").append(totalSize)
                .append("\n  },\n  \"weight_map\": {");
        boolean first = true;
        for (Map.Entry<String, String> e : sortedWeightMap.entrySet()) {
            sb.append(first ? "\n    " : ",\n    ");
            JsonText.pythonAscii(sb, e.getKey());
            sb.append(": ");
            JsonText.pythonAscii(sb, e.getValue());
            first = false;
        }
        sb.append(first ? "}" : "\n  }").append("\n}\n");
        return sb.toString();
    }

    private static final Pattern SHARD_NAME = Pattern.compile("model-\\d{5}-of-\\d{5}\\.safetensors");

    private static void deleteStale(Path dir, List<Path> written) {
        Set<Path> keep = new HashSet<>();
        for (Path p : written) keep.add(p.getFileName());
        try (var files = Files.list(dir)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                String name = p.getFileName().toString();
                boolean weightFile = SHARD_NAME.matcher(name).matches() || name.equals(ModelWeights.SINGLE_FILE)
                        || name.equals(ModelWeights.INDEX_FILE);
                if (weightFile && !keep.contains(p.getFileName())) Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new Finetune4jException("cannot remove stale weight files in " + dir + ": " + e, e);
        }
    }

    /** Writes UTF-8 text atomically (temp file + rename). */
    static void writeText(Path file, String text) {
        Path abs = file.toAbsolutePath();
        Path tmp = null;
        try {
            Files.createDirectories(abs.getParent());
            tmp = createTemp(abs.getParent(), abs.getFileName().toString());
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                writeAll(ch, ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)));
                ch.force(true);
            }
            moveAtomically(tmp, abs);
            tmp = null;
        } catch (IOException e) {
            throw new Finetune4jException("cannot write " + file + ": " + e, e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // keep the original error
                }
            }
        }
    }

    static Path createTemp(Path dir, String name) throws IOException {
        return finetune4j.internal.AtomicFiles.tempFile(dir, name);
    }

    static void moveAtomically(Path tmp, Path target) throws IOException {
        finetune4j.internal.AtomicFiles.move(tmp, target);
    }

    private static void writeAll(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) ch.write(b);
    }
}
