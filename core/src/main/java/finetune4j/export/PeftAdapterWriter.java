package finetune4j.export;

import finetune4j.Finetune4jException;
import finetune4j.engine.io.SafetensorsWriter;
import finetune4j.peft.PeftAdapter;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;

/**
 * Writes a {@link PeftAdapter} as a Hugging Face PEFT directory that
 * {@code PeftModel.from_pretrained} loads (SPECS.md §3a): {@code adapter_config.json} exactly as
 * PEFT's {@code save_pretrained} writes it (with {@code inference_mode: true}, as PEFT saves), and
 * {@code adapter_model.safetensors} byte-identical to {@code safetensors.torch.save_file} output,
 * tensors in their stored dtype, {@code __metadata__} from the adapter (new adapters:
 * {@code {"format": "pt", "producer": "finetune4j"}}).
 *
 * <p><b>Atomicity.</b> Both files are first written completely (and forced to disk) in a temporary
 * sibling directory. A directory that does not exist yet appears by one rename, complete. Into an
 * existing directory (other files in it are left alone) the weights are renamed in first, then the
 * config, each rename atomic: a reader never sees a partial file, and a crash leaves at worst the
 * new weights beside the old config for an instant-wide window; a failed write leaves the old
 * adapter untouched and no temporary files.
 */
public final class PeftAdapterWriter {
    private PeftAdapterWriter() {
    }

    /**
     * Saves {@code adapter} into {@code dir} (created if needed).
     *
     * @throws Finetune4jException naming the path when it cannot be written
     */
    public static void save(PeftAdapter adapter, Path dir) {
        Path target = dir.toAbsolutePath().normalize();
        if (Files.exists(target) && !Files.isDirectory(target)) {
            throw new Finetune4jException("cannot save the adapter to " + dir + ": it is a file, not a directory");
        }
        Path tmp = null;
        try {
            Files.createDirectories(target.getParent());
            tmp = newTempDir(target.getParent(), target.getFileName().toString());
            writeFiles(adapter, tmp);
            if (!Files.exists(target)) {
                move(tmp, target);
                tmp = null;
            } else {
                move(tmp.resolve(PeftAdapter.WEIGHTS_FILE), target.resolve(PeftAdapter.WEIGHTS_FILE));
                move(tmp.resolve(PeftAdapter.CONFIG_FILE), target.resolve(PeftAdapter.CONFIG_FILE));
            }
        } catch (IOException e) {
            throw new Finetune4jException("cannot save the adapter to " + dir + ": " + e, e);
        } finally {
            if (tmp != null) deleteRecursively(tmp);
        }
    }

    /**
     * Writes the two files into {@code dir} (each atomically, by temp file + rename), with no
     * directory dance: for callers that already write into a fresh temporary directory, such as
     * a checkpoint.
     */
    public static void writeFiles(PeftAdapter adapter, Path dir) {
        weights(adapter).write(dir.resolve(PeftAdapter.WEIGHTS_FILE));
        writeText(dir.resolve(PeftAdapter.CONFIG_FILE), configJson(adapter));
    }

    /** The {@code adapter_config.json} text: the config as PEFT saves it ({@code inference_mode} true). */
    public static String configJson(PeftAdapter adapter) {
        return adapter.config().toBuilder().inferenceMode(true).build().toJson();
    }

    /** The safetensors writer holding the adapter's tensors in their dtypes and its metadata. */
    public static SafetensorsWriter weights(PeftAdapter adapter) {
        SafetensorsWriter w = SafetensorsWriter.create().metadata(adapter.metadata());
        for (Map.Entry<String, PeftAdapter.Tensor> e : adapter.tensors().entrySet()) {
            PeftAdapter.Tensor t = e.getValue();
            w.add(e.getKey(), t.dtype(), t.shape(), t.data());
        }
        return w;
    }

    /** Writes UTF-8 text to a temp file in the same directory, forces it, renames it over {@code file}. */
    static void writeText(Path file, String text) {
        Path tmp = null;
        try {
            Path dir = file.toAbsolutePath().getParent();
            Files.createDirectories(dir);
            tmp = newTempFile(dir, file.getFileName().toString());
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                ByteBuffer b = ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8));
                while (b.hasRemaining()) ch.write(b);
                ch.force(true);
            }
            move(tmp, file);
            tmp = null;
        } catch (IOException e) {
            throw new Finetune4jException("cannot write " + file + ": " + e, e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // the original error matters more
                }
            }
        }
    }

    static Path newTempFile(Path dir, String name) throws IOException {
        return finetune4j.internal.AtomicFiles.tempFile(dir, name);
    }

    static Path newTempDir(Path parent, String name) throws IOException {
        return finetune4j.internal.AtomicFiles.tempDir(parent, name);
    }

    static void move(Path from, Path to) throws IOException {
        finetune4j.internal.AtomicFiles.move(from, to);
    }

    /** Best-effort recursive delete (cleanup after a failure; errors are ignored). */
    static void deleteRecursively(Path p) {
        try (Stream<Path> s = Files.walk(p)) {
            s.sorted(Comparator.reverseOrder()).forEach(x -> {
                try {
                    Files.deleteIfExists(x);
                } catch (IOException ignored) {
                    // best effort
                }
            });
        } catch (IOException ignored) {
            // best effort
        }
    }
}
