package finetune4j.engine.io;

import finetune4j.ModelFormatException;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One {@code .safetensors} file, validated and memory-mapped (SPECS.md §3d).
 *
 * <p>{@link #open(Path)} reads the 8-byte length and the JSON header with plain reads (so a
 * header that claims terabytes is refused before anything is allocated), validates every entry
 * and the exact tiling of the data buffer, then maps the whole file read-only into a shared
 * {@link Arena}. Files larger than 2 GiB are fine: offsets are {@code long}.
 *
 * <p><b>Lifetime.</b> Segments returned by {@link #data(String)} are slices of that mapping; they
 * stay valid, and may be read from any thread, until {@link #close()} unmaps the file. Reading a
 * slice after {@code close()} throws {@link IllegalStateException} (never a crash). Keep the file
 * open for as long as a model uses its weights.
 *
 * {@snippet :
 * try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("model.safetensors"))) {
 *     TensorInfo info = f.info("model.norm.weight");     // F32 [64]
 *     MemorySegment bytes = f.data("model.norm.weight"); // 256 bytes, little-endian
 * }
 * }
 */
public final class SafetensorsFile implements AutoCloseable {
    private final Path path;
    private final Map<String, String> metadata;
    private final List<TensorInfo> tensors;          // sorted by offset
    private final Map<String, TensorInfo> byName;
    private final long dataStart;                    // 8 + N
    private final Arena arena;
    private final MemorySegment mapping;             // the whole file, read-only

    private SafetensorsFile(Path path, SafetensorsHeader.Parsed header, long dataStart, Arena arena, MemorySegment mapping) {
        this.path = path;
        this.metadata = header.metadata();
        this.tensors = header.tensors();
        this.byName = new HashMap<>(tensors.size() * 2);
        for (TensorInfo t : tensors) byName.put(t.name(), t);
        this.dataStart = dataStart;
        this.arena = arena;
        this.mapping = mapping;
    }

    /**
     * Opens, validates and maps {@code file}.
     *
     * @throws ModelFormatException when the file is missing, unreadable, truncated, or its header or
     *                              layout is invalid; the message names the file and the tensor
     */
    public static SafetensorsFile open(Path file) {
        String name = file.toString();
        if (Files.isDirectory(file)) {
            throw new ModelFormatException(name, "is a directory, expected a .safetensors file");
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            byte[] prefix = readFully(ch, 0, (int) Math.min(8, size));
            long n = SafetensorsHeader.headerLength(name, prefix, size);
            byte[] header = readFully(ch, 8, (int) n);
            SafetensorsHeader.Parsed parsed = SafetensorsHeader.parse(name, header, size);
            Arena arena = Arena.ofShared();
            try {
                MemorySegment mapping = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
                return new SafetensorsFile(file, parsed, 8 + n, arena, mapping);
            } catch (IOException | RuntimeException e) {
                arena.close();
                throw e;
            }
        } catch (NoSuchFileException e) {
            throw new ModelFormatException(name, "file not found");
        } catch (IOException e) {
            throw new ModelFormatException(name, "cannot read: " + e, e);
        }
    }

    private static byte[] readFully(FileChannel ch, long pos, int len) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(len);
        while (buf.hasRemaining()) {
            int r = ch.read(buf, pos + buf.position());
            if (r < 0) throw new IOException("unexpected end of file at byte " + (pos + buf.position()));
        }
        return buf.array();
    }

    /** The file this was opened from. */
    public Path path() {
        return path;
    }

    /** The header's {@code __metadata__} map in file order (empty when absent); unmodifiable. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** All tensors in offset order; unmodifiable. */
    public List<TensorInfo> tensors() {
        return tensors;
    }

    /** The entry for {@code name}, or {@code null} when the file has no such tensor. */
    public TensorInfo info(String name) {
        return byName.get(name);
    }

    /** Byte offset of the data buffer in the file ({@code 8 + N}). */
    public long dataStart() {
        return dataStart;
    }

    /**
     * The bytes of tensor {@code name}: a read-only slice of the mapping, little-endian, row-major,
     * valid until {@link #close()}.
     *
     * @throws ModelFormatException naming the file and the key when there is no such tensor
     */
    public MemorySegment data(String name) {
        TensorInfo t = byName.get(name);
        if (t == null) {
            throw new ModelFormatException(path.toString(), "no tensor '" + name + "' (the file has "
                    + tensors.size() + " tensors)");
        }
        return data(t);
    }

    /** The bytes of an entry of this file (see {@link #data(String)}). */
    MemorySegment data(TensorInfo t) {
        return mapping.asSlice(dataStart + t.begin(), t.byteSize()).asReadOnly();
    }

    /** Unmaps the file; slices handed out before become unusable. Idempotent. */
    @Override
    public synchronized void close() {
        if (arena.scope().isAlive()) arena.close();
    }

    @Override
    public String toString() {
        return "SafetensorsFile[" + path + ", " + tensors.size() + " tensors]";
    }
}
