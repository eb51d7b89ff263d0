package finetune4j.data;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One message of a conversation as read from a record: a {@code role}, usually a {@code content}
 * (a string, a list of content parts, or null for an assistant turn that only calls tools), and any
 * other fields kept verbatim ({@code tool_calls}, {@code name}, {@code tool_call_id}, {@code weight},
 * the {@code instruction}/{@code input} of Alpaca records...). Values are JSON-shaped and immutable:
 * String, Boolean, Long, Double, null, unmodifiable List and Map. Chat templates see exactly these
 * fields ({@code finetune4j.text.ChatMessage} is the same object on the rendering side).
 *
 * @param fields the message object, role first
 */
public record Message(Map<String, Object> fields) {
    public Message {
        if (!(fields.get("role") instanceof String r) || r.isEmpty()) {
            throw new IllegalArgumentException("a message needs a non-empty string role, got " + fields.get("role"));
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> copy = (Map<String, Object>) json(fields);
        fields = copy;
    }

    public static Message of(String role, String content) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("role", role);
        m.put("content", content);
        return new Message(m);
    }

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

    /** A copy with {@code key} set. */
    public Message with(String key, Object value) {
        Map<String, Object> m = new LinkedHashMap<>(fields);
        m.put(key, value);
        return new Message(m);
    }

    private static Object json(Object v) {
        if (v == null || v instanceof String || v instanceof Boolean || v instanceof Long || v instanceof Double) return v;
        if (v instanceof Integer || v instanceof Short || v instanceof Byte) return ((Number) v).longValue();
        if (v instanceof Float f) return Double.parseDouble(f.toString());
        if (v instanceof BigInteger b) return b.bitLength() < 64 ? (Object) b.longValue() : b.doubleValue();
        if (v instanceof BigDecimal b) return b.doubleValue();
        if (v instanceof CharSequence cs) return cs.toString();
        if (v instanceof Map<?, ?> m) {
            Map<String, Object> out = new LinkedHashMap<>();
            for (Map.Entry<?, ?> e : m.entrySet()) out.put(String.valueOf(e.getKey()), json(e.getValue()));
            return Collections.unmodifiableMap(out);
        }
        if (v instanceof List<?> l) {
            List<Object> out = new ArrayList<>(l.size());
            for (Object o : l) out.add(json(o));
            return Collections.unmodifiableList(out);
        }
        throw new IllegalArgumentException("not a JSON value: " + v.getClass().getSimpleName());
    }
}
