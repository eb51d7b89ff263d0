package finetune4j.data;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import finetune4j.InvalidDataException;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.zip.GZIPInputStream;

/**
 * Reads dataset records from JSON Lines ({@code .jsonl}), a JSON array ({@code .json}), or either
 * gzip-compressed ({@code .gz}), streaming: one record at a time, each with its 1-based line number,
 * so files larger than memory work and every error names {@code path:line}.
 *
 * <p>Blank lines of a JSONL file are skipped (they are not records); anything else that is not a
 * JSON object is an error. With a {@link BadRecords} in SKIP mode, a JSONL line that is not valid
 * JSON (or not an object) is reported there and reading goes on with the next line; a syntax error
 * inside a JSON array ends the file (nothing after it can be read reliably) and always throws.
 */
public final class DatasetReader {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    /**
     * One record: the JSON object and where it came from.
     *
     * @param line  1-based line where the record starts
     * @param index 0-based position in a JSON array, or −1 for a JSON Lines record (a one-line JSON
     *              array holds every record on line 1: the index tells them apart)
     */
    public record RawRecord(String path, long line, int index, JsonNode json) {
        /** A JSON Lines record. */
        public RawRecord(String path, long line, JsonNode json) {
            this(path, line, -1, json);
        }

        /** {@code path:line}, or {@code path:line[index]} for a record of a JSON array. */
        public String source() {
            return path + ":" + line + (index >= 0 ? "[" + index + "]" : "");
        }

        /** The same place with other JSON. */
        public RawRecord withJson(JsonNode other) {
            return new RawRecord(path, line, index, other);
        }

        /** A bad-record error at this record; in a JSON array the field path starts with {@code [index]}. */
        public InvalidDataException error(String field, String reason) {
            String f = index < 0 ? field : field == null || field.isEmpty() ? "[" + index + "]" : "[" + index + "]." + field;
            return new InvalidDataException(path, line, f, reason);
        }
    }

    private DatasetReader() {
    }

    /** Calls {@code sink} for every record of {@code file}, in file order; the first bad line throws. */
    public static void forEach(Path file, Consumer<RawRecord> sink) {
        forEach(file, sink, new BadRecords(BadRecords.Policy.FAIL));
    }

    /**
     * As {@link #forEach(Path, Consumer)}, sending unreadable lines to {@code bad} (which may throw).
     *
     * @return the records met (non-blank lines or array elements), readable or not
     */
    public static long forEach(Path file, Consumer<RawRecord> sink, BadRecords bad) {
        String p = file.toString();
        if (!Files.isRegularFile(file)) {
            throw new InvalidDataException(p, 0, null, "no such file (hint: --data takes a .jsonl, .json or .gz file)");
        }
        String name = file.getFileName().toString();
        boolean gz = name.endsWith(".gz");
        String base = gz ? name.substring(0, name.length() - 3) : name;
        try (InputStream raw = Files.newInputStream(file);
             InputStream in = gz ? new GZIPInputStream(raw, 1 << 16) : raw;
             Reader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8), 1 << 16)) {
            return base.endsWith(".json") && !startsWithBrace(file, gz) ? readArray(p, r, sink, bad) : readLines(p, (BufferedReader) r, sink, bad);
        } catch (IOException e) {
            throw new InvalidDataException(p, 0, null, "cannot read: " + e.getMessage());
        }
    }

    /** All records of {@code file} in a list (for small files and tests). */
    public static List<RawRecord> readAll(Path file) {
        List<RawRecord> out = new ArrayList<>();
        forEach(file, out::add);
        return out;
    }

    private static boolean startsWithBrace(Path file, boolean gz) throws IOException {
        try (InputStream raw = Files.newInputStream(file); InputStream in = gz ? new GZIPInputStream(raw) : raw) {
            int c;
            do {
                c = in.read();
            } while (c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == 0xEF || c == 0xBB || c == 0xBF);
            return c == '{';               // a .json file holding JSON Lines
        }
    }

    private static long readLines(String path, BufferedReader r, Consumer<RawRecord> sink, BadRecords bad) throws IOException {
        String line;
        long n = 0, records = 0;
        while ((line = r.readLine()) != null) {
            n++;
            if (n == 1 && !line.isEmpty() && line.charAt(0) == '\uFEFF') line = line.substring(1);
            if (line.isBlank()) continue;
            records++;
            JsonNode node;
            try {
                node = MAPPER.readTree(line);
            } catch (JsonProcessingException e) {
                bad.report(new InvalidDataException(path, n, null, "invalid JSON: " + e.getOriginalMessage()
                        + " (hint: a JSONL file holds one JSON object per line)"));
                continue;
            }
            if (node == null || !node.isObject()) {
                bad.report(new InvalidDataException(path, n, null, "expected a JSON object, got "
                        + (node == null ? "nothing" : node.getNodeType().toString().toLowerCase())));
                continue;
            }
            sink.accept(new RawRecord(path, n, node));
        }
        return records;
    }

    private static long readArray(String path, Reader r, Consumer<RawRecord> sink, BadRecords bad) throws IOException {
        JsonFactory f = MAPPER.getFactory();
        try (JsonParser p = f.createParser(r)) {
            JsonToken t = p.nextToken();
            if (t != JsonToken.START_ARRAY) {
                throw new InvalidDataException(path, p.currentLocation().getLineNr(), null,
                        "expected a JSON array of records (or JSON Lines), got " + t);
            }
            int index = 0;
            while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
                long line = p.currentLocation().getLineNr();
                if (t != JsonToken.START_OBJECT) {
                    bad.report(new RawRecord(path, line, index++, null).error(null, "expected a JSON object in the array, got " + t));
                    p.skipChildren();
                    continue;
                }
                JsonNode node = MAPPER.readTree(p);
                sink.accept(new RawRecord(path, line, index++, node));
            }
            return index;
        } catch (JsonProcessingException e) {
            long line = e.getLocation() == null ? 0 : e.getLocation().getLineNr();
            throw new InvalidDataException(path, line, null, "invalid JSON: " + e.getOriginalMessage());
        }
    }
}
