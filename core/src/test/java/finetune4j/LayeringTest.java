package finetune4j;

import finetune4j.testing.SharedData;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Dependencies point down the data path (STYLE.md): engine at the bottom; data → text → batch;
 * model on the engine; peft and quant on the model; train / export / generate above; the root
 * package (the public recipe API) and demo on top. A violation names the file and the import.
 */
class LayeringTest {
    private static final Map<String, Set<String>> ALLOWED = Map.ofEntries(
            Map.entry("internal", Set.of()),
            Map.entry("engine", Set.of("engine", "internal")),
            Map.entry("data", Set.of("data", "internal")),
            Map.entry("text", Set.of("text", "data", "engine", "internal")),
            Map.entry("batch", Set.of("batch", "text", "data", "engine", "internal")),
            Map.entry("model", Set.of("model", "engine", "internal")),
            Map.entry("quant", Set.of("quant", "model", "engine", "internal")),
            Map.entry("peft", Set.of("peft", "quant", "model", "engine", "internal")),
            Map.entry("generate", Set.of("generate", "peft", "quant", "model", "text", "engine", "internal")),
            Map.entry("export", Set.of("export", "peft", "quant", "model", "text", "data", "engine", "internal")),
            Map.entry("train", Set.of("train", "export", "peft", "quant", "model", "batch", "text", "data", "engine", "internal")),
            Map.entry("demo", Set.of("demo", "train", "export", "generate", "peft", "quant", "model", "batch", "text", "data",
                    "engine", "internal")));
    private static final Pattern IMPORT = Pattern.compile("^import (?:static )?finetune4j\\.([a-z]\\w*)\\.", Pattern.MULTILINE);

    @Test
    void importsPointDownTheDataPath() throws IOException {
        Path src = SharedData.repoRoot().resolve("core/src/main/java/finetune4j");
        List<String> violations = new ArrayList<>();
        try (Stream<Path> files = Files.walk(src)) {
            for (Path f : (Iterable<Path>) files.filter(p -> p.toString().endsWith(".java"))::iterator) {
                Path rel = src.relativize(f);
                if (rel.getNameCount() < 2) continue;                      // the root package may use everything
                String layer = rel.getName(0).toString();
                Set<String> allowed = ALLOWED.get(layer);
                assertThat(allowed).as("layer of package '%s' is declared in LayeringTest", layer).isNotNull();
                Matcher m = IMPORT.matcher(Files.readString(f));
                while (m.find()) {
                    if (!allowed.contains(m.group(1))) violations.add(rel + " imports finetune4j." + m.group(1));
                }
            }
        }
        assertThat(violations).as("imports against the layering").isEmpty();
    }
}
