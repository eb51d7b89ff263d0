package finetune4j.model;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import finetune4j.Finetune4jException;
import finetune4j.ModelFormatException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Typed reads of Hugging Face JSON config files ({@code config.json}, {@code generation_config.json})
 * with errors that name the file and the key, and the writer that puts them back the way
 * transformers does ({@code json.dumps(d, indent=2, sort_keys=True) + "\n"}).
 *
 * <p>Package-private machinery of {@link ModelConfig} and {@link GenerationConfig}; nothing here
 * is a {@code Map<String,Object>} cast: every key is read with its expected type.
 */
final class ConfigJson {
    static final ObjectMapper MAPPER = new ObjectMapper();

    private final String file;
    private final JsonNode root;

    private ConfigJson(String file, JsonNode root) {
        this.file = file;
        this.root = root;
    }

    /** Parses {@code path}; a missing file or invalid JSON becomes a {@link ModelFormatException}. */
    static ConfigJson read(Path path) {
        String text;
        try {
            text = Files.readString(path);
        } catch (NoSuchFileException e) {
            throw new ModelFormatException(path, "file not found (a Hugging Face model directory holds config.json,"
                    + " model.safetensors and tokenizer files)");
        } catch (IOException e) {
            throw new ModelFormatException(String.valueOf(path), "cannot read: " + e.getMessage(), e);
        }
        return parse(String.valueOf(path), text);
    }

    /** Parses JSON text; {@code file} names it in error messages. */
    static ConfigJson parse(String file, String text) {
        JsonNode node;
        try {
            node = MAPPER.readTree(text);
        } catch (JsonProcessingException e) {
            throw new ModelFormatException(file, "not valid JSON: " + e.getOriginalMessage()
                    + " at line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr());
        }
        if (node == null || !node.isObject()) {
            throw new ModelFormatException(file, "expected a JSON object at the top level, got "
                    + (node == null ? "nothing" : node.getNodeType()));
        }
        return new ConfigJson(file, node);
    }

    String file() {
        return file;
    }

    ObjectNode root() {
        return (ObjectNode) root;
    }

    /** A sub-object (e.g. {@code rope_scaling}) read with this file's error context; null when absent or JSON null. */
    ConfigJson object(String key) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) return null;
        if (!n.isObject()) throw wrongType(key, "a JSON object or null", n);
        return new ConfigJson(file + " (" + key + ")", n);
    }

    boolean has(String key) {
        JsonNode n = root.get(key);
        return n != null && !n.isNull();
    }

    int requireInt(String key, String hint) {
        if (!has(key)) {
            throw new ModelFormatException(file, "required key '" + key + "' is missing" + (hint == null ? "" : " (" + hint + ")"));
        }
        return intValue(key, root.get(key));
    }

    int optInt(String key, int fallback) {
        return has(key) ? intValue(key, root.get(key)) : fallback;
    }

    double optDouble(String key, double fallback) {
        if (!has(key)) return fallback;
        JsonNode n = root.get(key);
        if (!n.isNumber()) throw wrongType(key, "a number", n);
        return n.doubleValue();
    }

    double requireDouble(String key, String hint) {
        if (!has(key)) {
            throw new ModelFormatException(file, "required key '" + key + "' is missing" + (hint == null ? "" : " (" + hint + ")"));
        }
        return optDouble(key, Double.NaN);
    }

    boolean optBool(String key, boolean fallback) {
        if (!has(key)) return fallback;
        JsonNode n = root.get(key);
        if (!n.isBoolean()) throw wrongType(key, "true or false", n);
        return n.booleanValue();
    }

    String optString(String key, String fallback) {
        if (!has(key)) return fallback;
        JsonNode n = root.get(key);
        if (!n.isTextual()) throw wrongType(key, "a string", n);
        return n.textValue();
    }

    /** A key holding either one string or a list of strings (e.g. {@code architectures}). */
    List<String> optStrings(String key) {
        List<String> out = new ArrayList<>();
        if (!has(key)) return out;
        JsonNode n = root.get(key);
        if (n.isTextual()) {
            out.add(n.textValue());
            return out;
        }
        if (!n.isArray()) throw wrongType(key, "a string or a list of strings", n);
        for (JsonNode e : n) {
            if (!e.isTextual()) throw wrongType(key, "a list of strings", n);
            out.add(e.textValue());
        }
        return out;
    }

    /** A key holding either one integer or a list of integers (e.g. {@code eos_token_id}); empty when absent. */
    List<Integer> optInts(String key) {
        List<Integer> out = new ArrayList<>();
        if (!has(key)) return out;
        JsonNode n = root.get(key);
        if (n.isArray()) {
            for (JsonNode e : n) out.add(intValue(key, e));
        } else {
            out.add(intValue(key, n));
        }
        return List.copyOf(out);
    }

    private int intValue(String key, JsonNode n) {
        if (n.isIntegralNumber() && n.canConvertToInt()) return n.intValue();
        // transformers writes some integers as 8192.0 after arithmetic; accept exact whole numbers.
        if (n.isFloatingPointNumber() && n.doubleValue() == Math.rint(n.doubleValue())
                && Math.abs(n.doubleValue()) <= Integer.MAX_VALUE) {
            return (int) n.doubleValue();
        }
        throw wrongType(key, "an integer", n);
    }

    ModelFormatException wrongType(String key, String expected, JsonNode got) {
        return new ModelFormatException(file, "key '" + key + "' must be " + expected + ", got " + got);
    }

    /**
     * Writes {@code node} as transformers does ({@code indent=2, sort_keys=True}, trailing newline),
     * to a temporary file renamed over {@code path}.
     */
    static void write(Path path, ObjectNode node) {
        finetune4j.internal.AtomicFiles.writeString(path, finetune4j.internal.PyJson.dumpsIndent2Sorted(node) + "\n");
    }
}
