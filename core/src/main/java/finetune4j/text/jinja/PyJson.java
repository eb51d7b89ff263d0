package finetune4j.text.jinja;

import com.hubspot.jinjava.objects.SafeString;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Python's {@code json.dumps(x, ensure_ascii, indent, separators, sort_keys)}, which transformers
 * installs as the {@code tojson} filter (with {@code ensure_ascii=False}). Jinja2's own tojson
 * HTML-escapes and Jinjava's is compact Jackson; models' tool prompts depend on the exact bytes:
 * {@code ", "} and {@code ": "} separators, Python float repr, {@code \\uXXXX} escapes in lower-case hex.
 */
final class PyJson {
    private PyJson() {
    }

    /**
     * @param indent      null for one line; otherwise the indent string per level (an int n means n spaces)
     * @param itemSep     null for the default ({@code ", "}, or {@code ","} when indenting)
     * @param keySep      null for the default {@code ": "}
     */
    static String dumps(Object value, boolean ensureAscii, String indent, String itemSep, String keySep, boolean sortKeys) {
        String items = itemSep != null ? itemSep : (indent == null ? ", " : ",");
        String keys = keySep != null ? keySep : ": ";
        StringBuilder sb = new StringBuilder();
        write(sb, value, ensureAscii, indent, items, keys, sortKeys, 0);
        return sb.toString();
    }

    private static void write(StringBuilder sb, Object v, boolean ascii, String indent, String items, String keys,
                              boolean sort, int depth) {
        RenderState s = RenderState.currentOrNull();
        if (s != null) s.checkSize(sb.length(), "tojson output");
        if (v == PyNone.NONE) {
            sb.append("null");
        } else if (v instanceof Boolean b) {
            sb.append(b ? "true" : "false");
        } else if (v instanceof Long || v instanceof Integer || v instanceof BigInteger) {
            sb.append(v);
        } else if (v instanceof Double || v instanceof Float) {
            double d = ((Number) v).doubleValue();
            if (Double.isNaN(d)) sb.append("NaN");
            else if (Double.isInfinite(d)) sb.append(d > 0 ? "Infinity" : "-Infinity");
            else sb.append(PyRepr.floatRepr(d));
        } else if (v instanceof String || v instanceof SafeString) {
            string(sb, PyValues.str(v), ascii);
        } else if (v instanceof List<?> l) {
            if (l.isEmpty()) {
                sb.append("[]");
                return;
            }
            sb.append('[');
            for (int i = 0; i < l.size(); i++) {
                if (i > 0) sb.append(items);
                newline(sb, indent, depth + 1);
                write(sb, l.get(i), ascii, indent, items, keys, sort, depth + 1);
            }
            newline(sb, indent, depth);
            sb.append(']');
        } else if (v instanceof Map<?, ?> m) {
            if (m.isEmpty()) {
                sb.append("{}");
                return;
            }
            List<Map.Entry<String, Object>> entries = new ArrayList<>();
            for (Map.Entry<?, ?> e : m.entrySet()) entries.add(Map.entry(key(e.getKey()), e.getValue() == null ? PyNone.NONE : e.getValue()));
            if (sort) entries.sort((a, b) -> PyOps.compareCodePoints(a.getKey(), b.getKey()));
            sb.append('{');
            boolean first = true;
            for (Map.Entry<String, Object> e : entries) {
                if (!first) sb.append(items);
                first = false;
                newline(sb, indent, depth + 1);
                string(sb, e.getKey(), ascii);
                sb.append(keys);
                write(sb, e.getValue(), ascii, indent, items, keys, sort, depth + 1);
            }
            newline(sb, indent, depth);
            sb.append('}');
        } else if (v == null) {
            throw PyErrors.typeError("Object of type Undefined is not JSON serializable");
        } else {
            throw PyErrors.typeError("Object of type " + PyValues.typeName(v) + " is not JSON serializable");
        }
    }

    private static String key(Object k) {
        if (k instanceof String s) return s;
        if (k == PyNone.NONE || k == null) return "null";
        if (k instanceof Boolean b) return b ? "true" : "false";
        if (k instanceof Double d) return PyRepr.floatRepr(d);
        if (PyValues.isNumber(k)) return k.toString();
        throw PyErrors.typeError("keys must be str, int, float, bool or None, not " + PyValues.typeName(k));
    }

    private static void newline(StringBuilder sb, String indent, int depth) {
        if (indent == null) return;
        sb.append('\n');
        for (int i = 0; i < depth; i++) sb.append(indent);
    }

    private static void string(StringBuilder sb, String s, boolean ascii) {
        if (ascii) {                                   // json.dumps' default, shared with the file writers
            finetune4j.internal.PyJson.string(sb, s);
            return;
        }
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                default -> {
                    if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
                    else sb.append(c);
                }
            }
        }
        sb.append('"');
    }
}
