package finetune4j.text.jinja;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.hubspot.jinjava.objects.SafeString;
import com.hubspot.jinjava.util.ForLoop;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The value model templates see, and Python's view of it.
 *
 * <p>Template values are JSON-shaped and immutable: {@link String}, {@link Boolean}, {@link Long}
 * (Python {@code int}; {@link BigInteger} past 64 bits), {@link Double} (Python {@code float}),
 * {@link PyNone} (Python {@code None}), unmodifiable {@link List} and {@link Map} (string keys,
 * insertion order kept as Python dicts do). Java {@code null} means "undefined" (Jinja2's
 * {@code Undefined}). {@link #fromJava} converts caller data into this model; the other methods give
 * Python's type names and truthiness.
 */
final class PyValues {
    private static final ObjectMapper JSON = new ObjectMapper();

    private PyValues() {
    }

    /**
     * Deep-converts caller data (maps, lists, arrays, Jackson trees, boxed numbers, strings,
     * booleans, null) into the template value model.
     *
     * @throws IllegalArgumentException for a value with no JSON meaning (a programmer error)
     */
    static Object fromJava(Object v) {
        if (v == null || v == PyNone.NONE) return PyNone.NONE;
        if (v instanceof PyGlobal || v instanceof PyTuple) return v;     // made by the template: values already converted
        if (v instanceof String || v instanceof Boolean || v instanceof Long || v instanceof Double) return v;
        if (v instanceof CharSequence cs) return cs.toString();
        if (v instanceof Integer || v instanceof Short || v instanceof Byte) return ((Number) v).longValue();
        if (v instanceof Float f) return Double.parseDouble(Float.toString(f));
        if (v instanceof BigInteger b) return normalize(b);
        if (v instanceof BigDecimal b) return b.doubleValue();
        if (v instanceof Character c) return c.toString();
        if (v instanceof JsonNode node) return fromJava(JSON.convertValue(node, Object.class));
        if (v instanceof Map<?, ?> m) {
            Map<String, Object> out = new LinkedHashMap<>();
            for (Map.Entry<?, ?> e : m.entrySet()) {
                if (!(e.getKey() instanceof String key)) {
                    throw new IllegalArgumentException("template values need string keys, got " + e.getKey());
                }
                out.put(key, fromJava(e.getValue()));
            }
            return Collections.unmodifiableMap(out);
        }
        if (v instanceof Collection<?> c) {
            List<Object> out = new ArrayList<>(c.size());
            for (Object o : c) out.add(fromJava(o));
            return Collections.unmodifiableList(out);
        }
        if (v instanceof Object[] a) return fromJava(List.of(a));
        throw new IllegalArgumentException("no template value for " + v.getClass().getName() + ": " + v);
    }

    /** A {@link BigInteger} that fits in a long becomes a {@link Long}. */
    static Object normalize(BigInteger b) {
        return b.bitLength() < 64 ? (Object) b.longValue() : b;
    }

    /** Python's {@code type(v).__name__} (Jinja2's Undefined for null). */
    static String typeName(Object v) {
        if (v == null) return "Undefined";
        if (v == PyNone.NONE) return "NoneType";
        if (v instanceof String || v instanceof SafeString) return "str";
        if (v instanceof Boolean) return "bool";
        if (v instanceof Long || v instanceof BigInteger || v instanceof Integer) return "int";
        if (v instanceof Double || v instanceof Float) return "float";
        if (v instanceof PyTuple) return "tuple";
        if (v instanceof List) return "list";
        if (v instanceof Map) return "dict";
        if (v instanceof ForLoop) return "LoopContext";
        if (v instanceof PyGlobal) return "function";
        return v.getClass().getSimpleName();
    }

    /** Python truthiness ({@code bool(v)}); undefined is false. */
    static boolean truthy(Object v) {
        if (v == null || v == PyNone.NONE) return false;
        if (v instanceof Boolean b) return b;
        if (v instanceof String s) return !s.isEmpty();
        if (v instanceof SafeString s) return !s.getValue().isEmpty();
        if (v instanceof Long l) return l != 0;
        if (v instanceof Integer i) return i != 0;
        if (v instanceof Double d) return d != 0.0;
        if (v instanceof BigInteger b) return b.signum() != 0;
        if (v instanceof Number n) return n.doubleValue() != 0.0;
        if (v instanceof Collection<?> c) return !c.isEmpty();
        if (v instanceof Map<?, ?> m) return !m.isEmpty();
        return true;
    }

    /** True for Python {@code int}, {@code float} and {@code bool} (bool is an int subclass). */
    static boolean isNumber(Object v) {
        return v instanceof Long || v instanceof Double || v instanceof Boolean || v instanceof BigInteger
                || v instanceof Integer || v instanceof Float || v instanceof Short || v instanceof Byte;
    }

    static boolean isInt(Object v) {
        return v instanceof Long || v instanceof BigInteger || v instanceof Integer || v instanceof Short || v instanceof Byte;
    }

    static boolean isFloat(Object v) {
        return v instanceof Double || v instanceof Float;
    }

    /** A string value (Jinjava's SafeString from {@code |safe} counts as a str). */
    static boolean isString(Object v) {
        return v instanceof String || v instanceof SafeString;
    }

    /** The Java string of a str value; call only when {@link #isString} holds. */
    static String str(Object v) {
        return v instanceof SafeString s ? s.getValue() : (String) v;
    }
}
