package finetune4j.engine.io;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import finetune4j.ModelFormatException;
import finetune4j.engine.tensor.DType;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Parses and validates a safetensors header (SPECS.md §3d; the checks of the reference reader
 * {@code safetensors/src/tensor.rs read_metadata + validate}, with messages that say which
 * tensor and which numbers are wrong).
 *
 * <p>Layout: bytes 0–7 hold {@code N}, a little-endian u64; bytes {@code [8, 8+N)} hold a UTF-8
 * JSON object {@code {"__metadata__": {str: str}?, "<name>": {"dtype", "shape", "data_offsets"}, …}};
 * the data buffer follows and must be tiled exactly by the tensors' byte ranges, to the end of
 * the file.
 */
final class SafetensorsHeader {
    /** The reference reader's {@code MAX_HEADER_SIZE}. */
    static final long MAX_HEADER_SIZE = 100_000_000L;
    static final String METADATA_KEY = "__metadata__";

    private static final JsonFactory JSON = new JsonFactory();

    /** A parsed header: metadata in file order and tensors sorted by offset. */
    record Parsed(Map<String, String> metadata, List<TensorInfo> tensors) {
    }

    private SafetensorsHeader() {
    }

    /**
     * Checks the 8-byte length prefix against the file size and returns {@code N}.
     *
     * @param file     for messages
     * @param prefix   the first 8 bytes of the file (fewer when the file is shorter)
     * @param fileSize total file length in bytes
     */
    static long headerLength(String file, byte[] prefix, long fileSize) {
        if (fileSize < 8) {
            throw new ModelFormatException(file, "is " + fileSize + " bytes, too short for a safetensors file "
                    + "(it starts with an 8-byte header length); the file is truncated or not safetensors");
        }
        long n = ByteBuffer.wrap(prefix, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        // n is an unsigned u64: a negative long is > 2^63.
        if (n < 0 || n > MAX_HEADER_SIZE) {
            throw new ModelFormatException(file, "header length field says " + Long.toUnsignedString(n)
                    + " bytes, more than the safetensors limit of " + MAX_HEADER_SIZE
                    + " (file is " + fileSize + " bytes); the file is corrupted or not safetensors");
        }
        if (n > fileSize - 8) {
            throw new ModelFormatException(file, "header length field says " + n + " bytes but only "
                    + (fileSize - 8) + " bytes follow the 8-byte prefix; the file is truncated or not safetensors");
        }
        if (n < 2) {
            throw new ModelFormatException(file, "header length field says " + n
                    + " bytes; a safetensors header is a JSON object of at least 2 bytes ('{}')");
        }
        return n;
    }

    /**
     * Parses and validates the header text and the byte ranges against the file size.
     *
     * @param file       for messages
     * @param header     the {@code N} header bytes
     * @param fileSize   total file length; the data buffer is {@code fileSize − 8 − N} bytes
     */
    static Parsed parse(String file, byte[] header, long fileSize) {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(header)).toString();
        } catch (CharacterCodingException e) {
            throw new ModelFormatException(file, "header (" + header.length + " bytes) is not valid UTF-8; "
                    + "the file is corrupted or not safetensors");
        }
        Map<String, String> metadata = Map.of();
        List<TensorInfo> tensors = new ArrayList<>();
        try (JsonParser p = JSON.createParser(text)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw bad(file, "header is not a JSON object (starts with " + snippet(text) + ")");
            }
            Set<String> seen = new HashSet<>();
            boolean sawMetadata = false;
            for (JsonToken t = p.nextToken(); t != JsonToken.END_OBJECT; t = p.nextToken()) {
                String key = p.currentName();
                if (!seen.add(key)) {
                    throw bad(file, "header has the key '" + key + "' twice (duplicate tensor names are not allowed)");
                }
                p.nextToken();
                if (key.equals(METADATA_KEY)) {
                    metadata = parseMetadata(file, p);
                    sawMetadata = true;
                } else {
                    tensors.add(parseEntry(file, key, p));
                }
            }
            if (p.nextToken() != null) {
                throw bad(file, "header has data after the JSON object at line " + p.currentLocation().getLineNr()
                        + " column " + p.currentLocation().getColumnNr());
            }
            if (!sawMetadata) metadata = Map.of();
        } catch (JsonProcessingException e) {
            throw bad(file, "header is not valid JSON: " + e.getOriginalMessage() + " at line "
                    + e.getLocation().getLineNr() + " column " + e.getLocation().getColumnNr());
        } catch (IOException e) {
            throw new ModelFormatException(file, "cannot parse header: " + e.getMessage(), e);
        }
        validateLayout(file, tensors, 8 + header.length, fileSize);
        return new Parsed(metadata, Collections.unmodifiableList(tensors));
    }

    private static Map<String, String> parseMetadata(String file, JsonParser p) throws IOException {
        if (p.currentToken() != JsonToken.START_OBJECT) {
            throw bad(file, "'__metadata__' must be an object of string values, got " + p.currentToken().asString());
        }
        Map<String, String> m = new LinkedHashMap<>();
        for (JsonToken t = p.nextToken(); t != JsonToken.END_OBJECT; t = p.nextToken()) {
            String k = p.currentName();
            JsonToken v = p.nextToken();
            if (v != JsonToken.VALUE_STRING) {
                throw bad(file, "'__metadata__' value of '" + k + "' must be a string, got " + describe(p));
            }
            if (m.put(k, p.getText()) != null) {
                throw bad(file, "'__metadata__' has the key '" + k + "' twice");
            }
        }
        return Collections.unmodifiableMap(m);
    }

    private static TensorInfo parseEntry(String file, String name, JsonParser p) throws IOException {
        if (p.currentToken() != JsonToken.START_OBJECT) {
            throw bad(file, "tensor '" + name + "': expected an object {\"dtype\", \"shape\", \"data_offsets\"}, got "
                    + describe(p));
        }
        DType dtype = null;
        long[] shape = null;
        long[] offsets = null;
        for (JsonToken t = p.nextToken(); t != JsonToken.END_OBJECT; t = p.nextToken()) {
            String field = p.currentName();
            p.nextToken();
            switch (field) {
                case "dtype" -> {
                    if (dtype != null) throw bad(file, "tensor '" + name + "': 'dtype' given twice");
                    if (p.currentToken() != JsonToken.VALUE_STRING) {
                        throw bad(file, "tensor '" + name + "': 'dtype' must be a string, got " + describe(p));
                    }
                    String s = p.getText();
                    dtype = DType.parse(s);
                    if (dtype == null || !s.equals(dtype.name())) {
                        throw bad(file, "tensor '" + name + "': unknown dtype '" + s + "' (known: "
                                + Arrays.toString(DType.values()) + ")");
                    }
                }
                case "shape" -> {
                    if (shape != null) throw bad(file, "tensor '" + name + "': 'shape' given twice");
                    shape = longArray(file, name, "shape", p);
                }
                case "data_offsets" -> {
                    if (offsets != null) throw bad(file, "tensor '" + name + "': 'data_offsets' given twice");
                    offsets = longArray(file, name, "data_offsets", p);
                    if (offsets.length != 2) {
                        throw bad(file, "tensor '" + name + "': 'data_offsets' must be [begin, end], got "
                                + offsets.length + " numbers");
                    }
                }
                // The reference reader ignores unknown fields of a tensor entry; so do we.
                default -> p.skipChildren();
            }
        }
        if (dtype == null || shape == null || offsets == null) {
            throw bad(file, "tensor '" + name + "': missing "
                    + (dtype == null ? "'dtype'" : shape == null ? "'shape'" : "'data_offsets'")
                    + " (each entry needs dtype, shape and data_offsets)");
        }
        if (offsets[1] < offsets[0]) {
            throw bad(file, "tensor '" + name + "': data_offsets [" + offsets[0] + ", " + offsets[1]
                    + "] end before they begin");
        }
        long numel = 1;
        for (long d : shape) {
            try {
                numel = Math.multiplyExact(numel, d);
            } catch (ArithmeticException e) {
                throw bad(file, "tensor '" + name + "': shape " + Arrays.toString(shape) + " overflows");
            }
        }
        long bytes;
        try {
            bytes = Math.multiplyExact(numel, (long) dtype.bits());
        } catch (ArithmeticException e) {
            throw bad(file, "tensor '" + name + "': shape " + Arrays.toString(shape) + " overflows");
        }
        if (bytes % 8 != 0) {
            throw bad(file, "tensor '" + name + "': " + numel + " elements of " + dtype + " (" + dtype.bits()
                    + " bits) are not a whole number of bytes");
        }
        bytes /= 8;
        if (offsets[1] - offsets[0] != bytes) {
            throw bad(file, "tensor '" + name + "': " + dtype + " " + Arrays.toString(shape) + " needs "
                    + bytes + " bytes but data_offsets [" + offsets[0] + ", " + offsets[1] + "] span "
                    + (offsets[1] - offsets[0]));
        }
        return new TensorInfo(name, dtype, shape, offsets[0], offsets[1]);
    }

    private static long[] longArray(String file, String name, String field, JsonParser p) throws IOException {
        if (p.currentToken() != JsonToken.START_ARRAY) {
            throw bad(file, "tensor '" + name + "': '" + field + "' must be an array of non-negative integers, got "
                    + describe(p));
        }
        long[] out = new long[4];
        int n = 0;
        for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken()) {
            if (t != JsonToken.VALUE_NUMBER_INT || p.getNumberType() == JsonParser.NumberType.BIG_INTEGER
                    || p.getLongValue() < 0) {
                throw bad(file, "tensor '" + name + "': '" + field + "' must hold non-negative integers, got "
                        + describe(p));
            }
            if (n == out.length) out = Arrays.copyOf(out, n * 2);
            out[n++] = p.getLongValue();
        }
        return Arrays.copyOf(out, n);
    }

    /**
     * Sorts by offset (as the reference reader does: older writers used other orders) and checks
     * that the ranges tile {@code [0, fileSize − dataStart)} exactly.
     */
    private static void validateLayout(String file, List<TensorInfo> tensors, long dataStart, long fileSize) {
        tensors.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        long dataSize = fileSize - dataStart;
        long pos = 0;
        TensorInfo prev = null;
        for (TensorInfo t : tensors) {
            if (t.begin() > pos) {
                throw bad(file, "tensor '" + t.name() + "' data_offsets [" + t.begin() + ", " + t.end()
                        + "] leave a gap of " + (t.begin() - pos) + " bytes after "
                        + (prev == null ? "the start of the data buffer" : "tensor '" + prev.name() + "' (ends at " + pos + ")")
                        + "; tensors sorted by offset must tile the data buffer exactly");
            }
            if (t.begin() < pos) {
                throw bad(file, "tensor '" + t.name() + "' data_offsets [" + t.begin() + ", " + t.end()
                        + "] overlap tensor '" + prev.name() + "' [" + prev.begin() + ", " + prev.end() + ")");
            }
            if (t.end() > dataSize) {
                throw bad(file, "file is truncated: tensor '" + t.name() + "' data_offsets [" + t.begin() + ", "
                        + t.end() + "] reach past the end of the data buffer (" + dataSize + " bytes = file size "
                        + fileSize + " − " + dataStart + " header bytes)");
            }
            pos = t.end();
            prev = t;
        }
        if (pos != dataSize) {
            throw bad(file, (dataSize - pos) + " trailing bytes: the tensors end at data offset " + pos
                    + " but the file holds " + dataSize + " data bytes (file size " + fileSize + " = 8 + "
                    + (dataStart - 8) + " header + data); the file is corrupted or was appended to");
        }
    }

    private static String describe(JsonParser p) throws IOException {
        JsonToken t = p.currentToken();
        if (t == null) return "end of input";
        return switch (t) {
            case VALUE_STRING -> "string \"" + p.getText() + "\"";
            case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> "number " + p.getText();
            case VALUE_TRUE, VALUE_FALSE -> "boolean " + p.getText();
            case VALUE_NULL -> "null";
            case START_OBJECT -> "an object";
            case START_ARRAY -> "an array";
            default -> t.asString();
        };
    }

    private static String snippet(String text) {
        String s = text.length() > 20 ? text.substring(0, 20) + "…" : text;
        return "'" + s.replaceAll("\\p{Cntrl}", "?") + "'";
    }

    private static ModelFormatException bad(String file, String what) {
        return new ModelFormatException(file, what);
    }
}
