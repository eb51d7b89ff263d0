package finetune4j.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import finetune4j.InvalidDataException;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One chat message as a chat template sees it: a JSON object with a {@code role}, usually a
 * {@code content} (a string, a list of typed parts such as {@code {"type": "text", "text": ...}},
 * or null for an assistant turn that only calls tools), and any other fields the template may read
 * ({@code tool_calls}, {@code name}, {@code tool_call_id}, {@code reasoning_content}...), kept
 * verbatim and in order.
 *
 * <p>Values are JSON-shaped and immutable: {@link String}, {@link Boolean}, {@link Long},
 * {@link Double}, {@code null}, unmodifiable {@link List} and {@link Map} with string keys.
 *
 * {@snippet :
 * List<ChatMessage> chat = List.of(
 *         ChatMessage.system("You are terse."),
 *         ChatMessage.user("Hi!"),
 *         ChatMessage.fromJson(new ObjectMapper().readTree("""
 *             {"role": "assistant", "content": null,
 *              "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": {}}}]}""")));
 * }
 *
 * @param fields the message object, {@code role} first
 */
public record ChatMessage(Map<String, Object> fields) {
    private static final ObjectMapper JSON = new ObjectMapper();

    public ChatMessage {
        try {
            fields = normalize(fields);
        } catch (Bad e) {
            throw new InvalidDataException("message", 0, e.field, e.reason);
        }
    }

    /** A validation failure: the field and the reason, placed into an InvalidDataException by the caller. */
    private static final class Bad extends RuntimeException {
        final String field;
        final String reason;

        Bad(String field, String reason) {
            super(reason, null, false, false);
            this.field = field;
            this.reason = reason;
        }
    }

    private static Map<String, Object> normalize(Map<String, Object> fields) {
        if (fields == null) throw new Bad("message", "expected a JSON object, got nothing");
        Object role = fields.get("role");
        if (!(role instanceof String r) || r.isEmpty()) throw new Bad("role", "expected a non-empty string, got " + describe(role));
        Object content = fields.get("content");
        if (content != null && !(content instanceof CharSequence) && !(content instanceof List) && !(content instanceof JsonNode)) {
            throw new Bad("content", "expected a string, a list of content parts or null, got " + describe(content));
        }
        Map<String, Object> copy = new LinkedHashMap<>();
        for (Map.Entry<String, Object> e : fields.entrySet()) copy.put(e.getKey(), jsonValue(e.getValue(), e.getKey()));
        return Collections.unmodifiableMap(copy);
    }

    public static ChatMessage of(String role, String content) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("role", role);
        m.put("content", content);
        return new ChatMessage(m);
    }

    public static ChatMessage system(String content) {
        return of("system", content);
    }

    public static ChatMessage user(String content) {
        return of("user", content);
    }

    public static ChatMessage assistant(String content) {
        return of("assistant", content);
    }

    public static ChatMessage tool(String content) {
        return of("tool", content);
    }

    /** A message from any map of JSON-like values (role required). */
    public static ChatMessage fromMap(Map<String, ?> map) {
        return new ChatMessage(new LinkedHashMap<>(map));
    }

    /**
     * A message from a JSON object, keeping every field.
     *
     * @throws InvalidDataException if the node is not an object or has no string role
     */
    public static ChatMessage fromJson(JsonNode node) {
        return fromJson(node, "message", 0);
    }

    /**
     * As {@link #fromJson(JsonNode)}, naming {@code where} and {@code line} (e.g. a dataset file and
     * record number) in errors.
     */
    public static ChatMessage fromJson(JsonNode node, String where, long line) {
        return fromJson(node, where, line, "");
    }

    private static ChatMessage fromJson(JsonNode node, String where, long line, String prefix) {
        if (node == null || !node.isObject()) {
            throw new InvalidDataException(where, line, prefix.isEmpty() ? "message" : prefix.substring(0, prefix.length() - 1),
                    "expected a JSON object, got " + (node == null ? "nothing" : node.getNodeType()));
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> m = JSON.convertValue(node, LinkedHashMap.class);
        try {
            return new ChatMessage(normalize(m));
        } catch (Bad e) {
            throw new InvalidDataException(where, line, prefix + e.field, e.reason);
        }
    }

    /** A list of messages from a JSON array of message objects; errors name {@code messages[i].field}. */
    public static List<ChatMessage> listFromJson(JsonNode array, String where, long line) {
        if (array == null || !array.isArray()) {
            throw new InvalidDataException(where, line, "messages", "expected a JSON array of messages, got "
                    + (array == null ? "nothing" : array.getNodeType()));
        }
        List<ChatMessage> out = new ArrayList<>(array.size());
        for (int i = 0; i < array.size(); i++) out.add(fromJson(array.get(i), where, line, "messages[" + i + "]."));
        return List.copyOf(out);
    }

    /** The role ("system", "user", "assistant", "tool", ...). */
    public String role() {
        return (String) fields.get("role");
    }

    /** The content: a String, a List of parts, or null. */
    public Object content() {
        return fields.get("content");
    }

    /** The content when it is a string, else null. */
    public String text() {
        return fields.get("content") instanceof String s ? s : null;
    }

    /** A copy with {@code key} set to a JSON-like value. */
    public ChatMessage with(String key, Object value) {
        Map<String, Object> m = new LinkedHashMap<>(fields);
        m.put(key, value);
        return new ChatMessage(m);
    }

    private static Object jsonValue(Object v, String path) {
        if (v == null || v instanceof String || v instanceof Boolean || v instanceof Long || v instanceof Double) return v;
        if (v instanceof CharSequence cs) return cs.toString();
        if (v instanceof Integer || v instanceof Short || v instanceof Byte) return ((Number) v).longValue();
        if (v instanceof Float f) return Double.parseDouble(f.toString());
        if (v instanceof BigInteger b) return b.bitLength() < 64 ? (Object) b.longValue() : b;
        if (v instanceof BigDecimal b) return b.doubleValue();
        if (v instanceof JsonNode n) return jsonValue(JSON.convertValue(n, Object.class), path);
        if (v instanceof Map<?, ?> m) {
            Map<String, Object> out = new LinkedHashMap<>();
            for (Map.Entry<?, ?> e : m.entrySet()) {
                if (!(e.getKey() instanceof String k)) throw new Bad(path, "object keys must be strings, got " + describe(e.getKey()));
                out.put(k, jsonValue(e.getValue(), path + "." + k));
            }
            return Collections.unmodifiableMap(out);
        }
        if (v instanceof List<?> l) {
            List<Object> out = new ArrayList<>(l.size());
            for (int i = 0; i < l.size(); i++) out.add(jsonValue(l.get(i), path + "[" + i + "]"));
            return Collections.unmodifiableList(out);
        }
        throw new Bad(path, "expected a JSON value (string, number, boolean, null, list, object), got " + describe(v));
    }

    private static String describe(Object v) {
        if (v == null) return "nothing";
        if (v instanceof String s) return "'" + s + "'";
        return v.getClass().getSimpleName() + " " + v;
    }
}
