package finetune4j.engine.kernels;

import finetune4j.testing.SharedData;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The incubating Vector API may be used only in {@code finetune4j/engine/kernels/vector} (main
 * and test sources), so that a change of the incubator API, or a JVM without the module, touches
 * one package. Scans every {@code .java} file of both modules for an import of, or a qualified
 * reference to, a type of {@code jdk.incubator.vector}. (Comments and string literals are not
 * uses: {@link KernelSelector} probes the JVM for the module by its name.)
 */
class VectorApiConfinementTest {
    /** {@code import jdk.incubator.vector.X;}, {@code import static ...}, or {@code jdk.incubator.vector.X} in code. */
    static final Pattern USE = Pattern.compile("\\bjdk\\s*\\.\\s*incubator\\s*\\.\\s*vector\\s*\\.\\s*[\\w*]");
    static final String ALLOWED = "finetune4j/engine/kernels/vector/";

    @Test
    void vectorApiIsUsedOnlyInTheVectorPackage() {
        Path root = SharedData.repoRoot();
        List<String> offenders = new ArrayList<>();
        int allowedUses = 0;
        for (Path file : javaFiles(root.resolve("core/src"), root.resolve("cli/src"))) {
            String rel = root.relativize(file).toString().replace('\\', '/');
            boolean uses = uses(read(file));
            if (uses && rel.contains(ALLOWED)) allowedUses++;
            else if (uses) offenders.add(rel);
        }
        assertThat(allowedUses).as("the scan must see the vector package's own imports").isGreaterThan(0);
        assertThat(offenders).as("files outside %s that use jdk.incubator.vector", ALLOWED).isEmpty();
    }

    @Test
    void theScannerRecognisesEveryFormOfUse() {
        assertThat(uses("import jdk.incubator.vector.FloatVector;")).isTrue();
        assertThat(uses("import static jdk.incubator.vector.VectorOperators.ADD;")).isTrue();
        assertThat(uses("import jdk.incubator.vector.*;")).isTrue();
        assertThat(uses("var s = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED;")).isTrue();
        assertThat(uses("findModule(\"jdk.incubator.vector\")")).isFalse();
        assertThat(uses("String s = \"import jdk.incubator.vector.FloatVector;\";")).isFalse();
        assertThat(uses("// import jdk.incubator.vector.FloatVector;")).isFalse();
    }

    /** True when the source, without comments and string literals, refers to a type of the incubator package. */
    static boolean uses(String source) {
        String code = source.replaceAll("(?s)/\\*.*?\\*/", " ")
                .replaceAll("\"(?:\\\\.|[^\"\\\\\\n])*\"", "\"\"")
                .replaceAll("//[^\\n]*", " ");
        return USE.matcher(code).find();
    }

    private static List<Path> javaFiles(Path... dirs) {
        List<Path> out = new ArrayList<>();
        for (Path d : dirs) {
            if (!Files.isDirectory(d)) continue;
            try (Stream<Path> s = Files.walk(d)) {
                s.filter(p -> p.toString().endsWith(".java")).forEach(out::add);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return out;
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
