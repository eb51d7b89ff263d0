package finetune4j.testing;

import org.junit.jupiter.api.Assumptions;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Locates the real test material of {@code ../shared/data} (next to the repository root; CI
 * always has it, a user's clone may not). Tests that need it call {@link #require(String)}, which
 * skips the test with a visible message when the folder is absent; tests that run from the
 * repository alone never call it.
 */
public final class SharedData {
    private static final Path ROOT = findRoot();

    private SharedData() {
    }

    /** The repository root (the directory holding {@code mvnw}). */
    public static Path repoRoot() {
        return ROOT;
    }

    /** {@code ../shared/data} beside the repository root, or {@code -Dfinetune4j.shared=DIR}. */
    public static Path dataDir() {
        String prop = System.getProperty("finetune4j.shared", System.getenv("FINETUNE4J_SHARED"));
        Path shared = prop != null ? Path.of(prop) : ROOT.resolve("../shared").normalize();
        return shared.resolve("data");
    }

    /** True when {@code ../shared/data} exists. */
    public static boolean available() {
        return Files.isDirectory(dataDir());
    }

    /**
     * The path {@code rel} under {@code ../shared/data}; skips the calling test (with a message on
     * stderr and in the report) when the shared folder is absent.
     */
    public static Path require(String rel) {
        Path p = dataDir().resolve(rel);
        if (!Files.exists(p)) {
            String msg = "SKIPPED: real-file test needs " + p + " (../shared/data is absent in this clone)";
            System.err.println(msg);
            Assumptions.abort(msg);
        }
        return p;
    }

    private static Path findRoot() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.exists(p.resolve("mvnw"))) p = p.getParent();
        if (p == null) throw new IllegalStateException("cannot find the repository root (mvnw) above " + Path.of("").toAbsolutePath());
        return p;
    }
}
