package finetune4j.data;

import com.fasterxml.jackson.databind.JsonNode;
import finetune4j.InvalidDataException;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The two plain formats of the training minimum: {@code {"text": ...}} (every token trained) and
 * {@code {"prompt": ..., "completion": ...}} (the completion trained), detected per record.
 */
public final class SimpleFormats {
    private SimpleFormats() {
    }

    /** The example a record holds; throws naming {@code path:line} and the field when it holds none. */
    public static Example parse(DatasetReader.RawRecord r) {
        JsonNode j = r.json();
        if (j.has("text")) return new Example.Text(r.source(), string(r, "text"));
        if (j.has("prompt") || j.has("completion")) {
            String prompt = string(r, "prompt");
            String completion = string(r, "completion");
            if (completion.isEmpty()) {
                throw r.error("completion", "is empty: nothing to train on");
            }
            return new Example.PromptCompletion(r.source(), prompt, completion);
        }
        List<String> keys = new ArrayList<>();
        j.fieldNames().forEachRemaining(keys::add);
        throw r.error(null, "record has none of the expected fields: expected"
                + " {\"text\": ...} or {\"prompt\": ..., \"completion\": ...}, found keys " + keys);
    }

    private static String string(DatasetReader.RawRecord r, String field) {
        JsonNode v = r.json().get(field);
        if (v == null || v.isNull()) {
            throw r.error(field, "is missing (expected a string)");
        }
        if (!v.isTextual()) {
            throw r.error(field, "expected a string, got " + v.getNodeType().toString().toLowerCase());
        }
        return v.asText();
    }

    /**
     * Every example of {@code file}.
     *
     * @throws InvalidDataException for a bad record ({@code path:line}) or an empty file
     */
    public static List<Example> read(Path file) {
        List<Example> out = new ArrayList<>();
        DatasetReader.forEach(file, r -> out.add(parse(r)));
        if (out.isEmpty()) {
            throw new InvalidDataException(file.toString(), 0, null, "the dataset is empty (no records)");
        }
        return out;
    }
}
