package finetune4j.engine.kernels.onednn;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.stream.Stream;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * Finds, extracts and loads the oneDNN shared library that the Maven artifact
 * {@code org.bytedeco:dnnl:3.11-1.5.13:linux-x86_64} carries on the class path.
 *
 * <p>Layout of that jar (as found): {@code org/bytedeco/dnnl/linux-x86_64/libdnnl.so.3} (the C
 * library, 90 MB, {@code RUNPATH $ORIGIN/}), {@code libgomp.so.1} beside it (GNU OpenMP, the
 * threading runtime it was built with), {@code libjnidnnl.so} (JavaCPP's JNI layer, not used here),
 * C/C++ headers under {@code include/} and {@code META-INF/maven/org.bytedeco/dnnl/pom.properties}
 * with the version. Only the two libraries are copied out, to
 * {@code ~/.cache/finetune4j/native/<version>/} (or {@code -Dfinetune4j.native.cache=DIR}): into a
 * fresh temporary folder beside it first, which is then renamed in one step, so a concurrent
 * process or a crash never leaves a half-written library behind the final name. Because of the
 * RUNPATH, loading {@code libdnnl.so.3} from that folder finds its {@code libgomp.so.1}.
 *
 * <p>Threads: oneDNN runs on OpenMP; before the first load this sets {@code OMP_NUM_THREADS} to
 * the kernel thread count (unless the environment already names one), since libgomp reads it once.
 *
 * <p>Loading never throws: {@link #get()} holds either the bound library or the reason it could
 * not be had (another OS or CPU architecture, no artifact on the class path, an unwritable cache).
 */
final class OneDnnLibrary {
    /** Where the artifact keeps the Linux x86-64 libraries. */
    static final String RESOURCE_DIR = "org/bytedeco/dnnl/linux-x86_64/";
    /** The files copied out: the C library and the OpenMP runtime it links. */
    static final List<String> FILES = List.of("libgomp.so.1", "libdnnl.so.3");
    /** Override of the cache folder (the version folder goes beneath it). */
    static final String CACHE_PROPERTY = "finetune4j.native.cache";

    /** The outcome of loading: {@code lookup} and {@code dir} when it worked, else {@code reason}. */
    record Result(SymbolLookup lookup, Path dir, String version, String reason) {
        boolean loaded() {
            return lookup != null;
        }
    }

    private OneDnnLibrary() {
    }

    private static final class Holder {
        static final Result RESULT = load(OneDnnLibrary.class.getClassLoader(), cacheRoot());
    }

    /** The library of this process, loaded on first use. */
    static Result get() {
        return Holder.RESULT;
    }

    /** {@code -Dfinetune4j.native.cache}, else {@code $XDG_CACHE_HOME/finetune4j/native}, else {@code ~/.cache/finetune4j/native}. */
    static Path cacheRoot() {
        String prop = System.getProperty(CACHE_PROPERTY);
        if (prop != null && !prop.isBlank()) return Path.of(prop);
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("finetune4j").resolve("native");
    }

    /** Extracts (if needed) and loads the library found through {@code loader} under {@code cacheRoot/<version>}. */
    static Result load(ClassLoader loader, Path cacheRoot) {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        if (!os.startsWith("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) {
            return failed("the bundled oneDNN is built for Linux x86-64; this is " + os + " " + arch);
        }
        if (loader.getResource(RESOURCE_DIR + "libdnnl.so.3") == null) {
            return failed("org.bytedeco:dnnl:linux-x86_64 is not on the class path (" + RESOURCE_DIR + "libdnnl.so.3 not found)");
        }
        String version = version(loader);
        Path dir;
        try {
            dir = extract(loader, cacheRoot.resolve(version));
        } catch (IOException | UncheckedIOException e) {
            return failed("could not extract oneDNN to " + cacheRoot.resolve(version) + ": " + e
                    + " (hint: set -D" + CACHE_PROPERTY + "=DIR to a writable folder)");
        }
        try {
            setThreadsFromKernelThreads();
            SymbolLookup lookup = SymbolLookup.libraryLookup(dir.resolve("libdnnl.so.3"), Arena.global());
            return new Result(lookup, dir, version, null);
        } catch (IllegalArgumentException | IllegalCallerException | UnsupportedOperationException e) {
            return failed("could not load " + dir.resolve("libdnnl.so.3") + ": " + e.getMessage()
                    + (e instanceof IllegalCallerException ? " (hint: run with --enable-native-access=ALL-UNNAMED)" : ""));
        }
    }

    private static Result failed(String reason) {
        return new Result(null, null, null, reason);
    }

    /** The artifact's version from its pom.properties ("3.11-1.5.13"), or "unknown". */
    static String version(ClassLoader loader) {
        try (InputStream in = loader.getResourceAsStream("META-INF/maven/org.bytedeco/dnnl/pom.properties")) {
            if (in == null) return "unknown";
            Properties p = new Properties();
            p.load(in);
            String v = p.getProperty("version", "unknown").trim();
            return v.matches("[A-Za-z0-9._-]+") ? v : "unknown";
        } catch (IOException e) {
            return "unknown";
        }
    }

    /**
     * Makes sure {@code dir} holds the libraries with the sizes they have in the jar; extracts
     * them into a temporary sibling folder renamed onto {@code dir} when it is missing.
     *
     * @return {@code dir}
     * @throws IOException when the folder exists but holds other files (named, with a hint), or on a write error
     */
    static Path extract(ClassLoader loader, Path dir) throws IOException {
        if (complete(loader, dir)) return dir;
        if (Files.exists(dir)) {
            throw new IOException(dir + " exists but does not hold the libraries of this version with their sizes"
                    + " (hint: delete the folder; it is re-extracted on the next run)");
        }
        Files.createDirectories(dir.getParent());
        Path tmp = Files.createTempDirectory(dir.getParent(), dir.getFileName() + ".tmp-");
        try {
            for (String f : FILES) {
                try (InputStream in = loader.getResourceAsStream(RESOURCE_DIR + f)) {
                    if (in == null) throw new IOException(RESOURCE_DIR + f + " is missing from the class path");
                    Files.copy(in, tmp.resolve(f));
                }
            }
            try {
                Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileAlreadyExistsException | AtomicMoveNotSupportedException e) {
                if (!complete(loader, dir)) throw e;         // else another process won the race
            } catch (IOException e) {
                if (!complete(loader, dir)) throw e;         // a non-empty target: another process won
            }
        } finally {
            deleteTree(tmp);
        }
        if (!complete(loader, dir)) throw new IOException(dir + " is incomplete after extraction");
        return dir;
    }

    /** True when every library is in {@code dir} with the size of its class path resource. */
    private static boolean complete(ClassLoader loader, Path dir) throws IOException {
        if (!Files.isDirectory(dir)) return false;
        for (String f : FILES) {
            Path p = dir.resolve(f);
            if (!Files.isRegularFile(p)) return false;
            var url = loader.getResource(RESOURCE_DIR + f);
            if (url == null) return false;
            long want = url.openConnection().getContentLengthLong();
            if (want >= 0 && Files.size(p) != want) return false;
        }
        return true;
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(q);
        }
    }

    /**
     * {@code setenv("OMP_NUM_THREADS", n, 0)} through the C library before libgomp is loaded,
     * with n = the kernel thread count: oneDNN's threads then match the Java kernels' pool. An
     * {@code OMP_NUM_THREADS} already in the environment wins.
     */
    private static void setThreadsFromKernelThreads() {
        Linker linker = Linker.nativeLinker();
        MemorySegment setenv = linker.defaultLookup().find("setenv").orElse(null);
        if (setenv == null) return;
        MethodHandle h = linker.downcallHandle(setenv, FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
        try (Arena a = Arena.ofConfined()) {
            int n = finetune4j.engine.kernels.KernelThreads.parallelism();
            int rc = (int) h.invokeExact(a.allocateFrom("OMP_NUM_THREADS"), a.allocateFrom(Integer.toString(n)), 0);
            if (rc != 0) System.err.println("finetune4j: could not set OMP_NUM_THREADS for oneDNN (setenv returned " + rc + ")");
        } catch (Throwable t) {
            throw new IllegalStateException("setenv through FFM failed", t);
        }
    }
}
