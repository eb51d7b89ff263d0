package finetune4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import finetune4j.ConfigException;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Settings from a YAML file for a command: each key names a long option without its dashes
 * ({@code lr}, {@code max-seq-len}; {@code max_seq_len} also accepted), and sets that option unless
 * it was given on the command line (flags override the file). Unknown keys are errors that list
 * the known ones.
 */
final class YamlDefaults {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    private YamlDefaults() {
    }

    static void apply(CommandSpec spec, Path file) {
        JsonNode root;
        try {
            root = YAML.readTree(file.toFile());
        } catch (IOException e) {
            throw new ConfigException("--config", file.toString(), "a readable YAML file (" + e.getMessage().lines().findFirst().orElse("") + ")");
        }
        if (root == null || root.isNull() || root.isMissingNode()) return;
        if (!root.isObject()) throw new ConfigException("--config", file.toString(), "a YAML mapping of option: value");
        CommandLine.ParseResult parsed = spec.commandLine().getParseResult();
        for (Map.Entry<String, JsonNode> e : root.properties()) {
            String key = e.getKey().trim().replace('_', '-');
            OptionSpec opt = spec.findOption("--" + key);
            if (opt == null || key.equals("config") || key.equals("help") || key.equals("version")) {
                TreeSet<String> known = new TreeSet<>();
                for (OptionSpec o : spec.options()) {
                    String n = o.longestName();
                    if (n.startsWith("--") && !n.equals("--config") && !n.equals("--help") && !n.equals("--version")) known.add(n.substring(2));
                }
                throw new ConfigException(file + ": key '" + e.getKey() + "' is not a setting of "
                        + spec.qualifiedName() + "; known keys: " + known);
            }
            if (parsed.hasMatchedOption(opt)) continue;          // the flag wins
            try {
                opt.setValue(convert(opt, e.getValue()));
            } catch (RuntimeException ex) {
                throw new ConfigException(file + ": key '" + e.getKey() + "': cannot use " + e.getValue()
                        + " as " + opt.type().getSimpleName() + " (" + ex.getMessage() + ")");
            }
        }
    }

    private static Object convert(OptionSpec opt, JsonNode v) {
        Class<?> t = opt.type();
        if (List.class.isAssignableFrom(t)) {
            List<String> out = new ArrayList<>();
            if (v.isArray()) v.forEach(x -> out.add(x.asText()));
            else for (String s : v.asText().split(",")) out.add(s.trim());
            return out;
        }
        String s = v.asText();
        if (t == boolean.class || t == Boolean.class) {
            if (!v.isBoolean() && !s.equals("true") && !s.equals("false")) throw new IllegalArgumentException("expected true or false");
            return Boolean.parseBoolean(s);
        }
        if (t == int.class || t == Integer.class) return Integer.parseInt(s);
        if (t == long.class || t == Long.class) return Long.parseLong(s);
        if (t == double.class || t == Double.class) return Double.parseDouble(s);
        if (t == float.class || t == Float.class) return Float.parseFloat(s);
        if (t == Path.class) return Path.of(s);
        if (t == String.class) return s;
        throw new IllegalArgumentException("unsupported option type " + t.getSimpleName());
    }
}
