package finetune4j.engine.kernels.onednn;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Extraction of the libraries from the {@code org.bytedeco:dnnl} jar (on the test class path on
 * every platform: extracting is plain file copying, loading is not tested here): the version
 * folder gets exactly the two libraries with their jar sizes, concurrent extractions agree and
 * leave no temporary folders, and a damaged folder is refused with a hint.
 */
class OneDnnLibraryTest {
    private static final ClassLoader LOADER = OneDnnLibraryTest.class.getClassLoader();

    @Test
    void theArtifactIsOnTheClassPathWithItsVersion() {
        assertThat(LOADER.getResource(OneDnnLibrary.RESOURCE_DIR + "libdnnl.so.3")).isNotNull();
        assertThat(OneDnnLibrary.version(LOADER)).isEqualTo("3.11-1.5.13");
    }

    @Test
    void extractsTheLibrariesOnceIntoTheVersionFolder(@TempDir Path cache) throws IOException {
        Path dir = cache.resolve("3.11-1.5.13");
        assertThat(OneDnnLibrary.extract(LOADER, dir)).isEqualTo(dir);
        for (String f : OneDnnLibrary.FILES) {
            URL url = LOADER.getResource(OneDnnLibrary.RESOURCE_DIR + f);
            assertThat(Files.size(dir.resolve(f))).as(f).isEqualTo(url.openConnection().getContentLengthLong());
        }
        try (var s = Files.list(dir)) {
            assertThat(s.map(p -> p.getFileName().toString()).sorted().toList())
                    .containsExactly("libdnnl.so.3", "libgomp.so.1");
        }
        var before = Files.getLastModifiedTime(dir.resolve("libdnnl.so.3"));
        OneDnnLibrary.extract(LOADER, dir);                          // already there: nothing rewritten
        assertThat(Files.getLastModifiedTime(dir.resolve("libdnnl.so.3"))).isEqualTo(before);
    }

    @Test
    void concurrentExtractionsAgreeAndLeaveNoTemporaryFolders(@TempDir Path cache) throws Exception {
        Path dir = cache.resolve("v");
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            List<Future<Path>> fs = new ArrayList<>();
            for (int i = 0; i < 3; i++) fs.add(pool.submit((Callable<Path>) () -> OneDnnLibrary.extract(LOADER, dir)));
            for (Future<Path> f : fs) assertThat(f.get()).isEqualTo(dir);
        } finally {
            pool.shutdownNow();
        }
        try (var s = Files.list(cache)) {
            assertThat(s.map(p -> p.getFileName().toString()).toList()).containsExactly("v");
        }
    }

    @Test
    void aDamagedFolderIsRefusedWithAHint(@TempDir Path cache) throws IOException {
        Path dir = cache.resolve("3.11-1.5.13");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("libdnnl.so.3"), "truncated");
        Files.writeString(dir.resolve("libgomp.so.1"), "truncated");
        assertThatThrownBy(() -> OneDnnLibrary.extract(LOADER, dir))
                .isInstanceOf(IOException.class)
                .hasMessageContaining(dir.toString())
                .hasMessageContaining("hint: delete the folder");
    }

    @Test
    void anUnwritableCacheIsAReasonNotACrash(@TempDir Path tmp) throws IOException {
        Path file = Files.writeString(tmp.resolve("not-a-folder"), "x");
        OneDnnLibrary.Result r = OneDnnLibrary.load(LOADER, file.resolve("cache"));
        assertThat(r.loaded()).isFalse();
        String os = System.getProperty("os.name"), arch = System.getProperty("os.arch");
        if (os.startsWith("Linux") && (arch.equals("amd64") || arch.equals("x86_64"))) {
            assertThat(r.reason()).contains(file.toString()).contains("-D" + OneDnnLibrary.CACHE_PROPERTY);
        } else {
            assertThat(r.reason()).contains("Linux x86-64");             // another platform is refused first
        }
    }
}
