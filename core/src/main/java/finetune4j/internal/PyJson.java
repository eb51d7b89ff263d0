package finetune4j.internal;

import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Writes JSON exactly as Python's {@code json.dumps} does, for the files whose bytes we reproduce
 * ({@code adapter_config.json} is {@code json.dumps(asdict(config), indent=2, sort_keys=True)}),
 * and reads JSON the way Python's {@code json.loads} accepts it.
 *
 * <p>Rules followed (CPython {@code Lib/json/encoder.py}, {@code Objects/floatobject.c}):
 * <ul>
 *   <li>{@code ensure_ascii=True}: {@code "} and {@code \} escaped, the short escapes
 *   {@code \b \f \n \r \t}, every other character outside {@code ' '..'~'} as
 *   <code>&#92;uxxxx</code> (UTF-16 units, lowercase hex).</li>
 *   <li>floats as {@code repr(float)}: the shortest digits that round-trip, positional when the
 *   decimal exponent is in {@code [-4, 16)} ({@code 0.0001}, {@code 100.0}), otherwise
 *   {@code 1e-05} / {@code 1.5e+16}; {@code NaN}, {@code Infinity}, {@code -Infinity} as Python
 *   writes them ({@code allow_nan=True}).</li>
 *   <li>{@code indent=2}: one item per line, {@code ": "} between key and value, {@code ","}
 *   ending lines, empty containers as {@code {}} / {@code []}; no trailing newline.</li>
 *   <li>{@code sort_keys=True}: keys in code-point order (Python {@code str} order), recursively.</li>
 * </ul>
 * Values may be {@code null}, {@link Boolean}, {@link CharSequence}, integral {@link Number}s
 * ({@code Integer}, {@code Long}, {@code BigInteger}), {@link Float} (shortest float digits) or
 * {@link Double}, {@link Map} with string keys, {@link Collection}, arrays of them, and Jackson
 * {@link JsonNode} trees.
 */
public final class PyJson {
    private static final char[] HEX = "0123456789abcdef".toCharArray();
    private static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .build();

    /** Python {@code str} order: by code point (equal to UTF-8 byte order, unlike {@code String.compareTo}). */
    public static final Comparator<String> CODE_POINT_ORDER = PyJson::compareCodePoints;

    private PyJson() {
    }

    /** {@code json.dumps(value, indent=2, sort_keys=True)}. */
    public static String dumpsIndent2Sorted(Object value) {
        StringBuilder sb = new StringBuilder(256);
        write(sb, value, 2, 0, true);
        return sb.toString();
    }

    /** {@code json.dumps(value, separators=(",", ":"))}: one compact line, keys in the map's own order. */
    public static String dumpsCompact(Object value) {
        StringBuilder sb = new StringBuilder(128);
        write(sb, value, -1, 0, false);
        return sb.toString();
    }

    /**
     * Parses JSON text as Python's {@code json.loads} would accept it ({@code NaN} and
     * {@code Infinity} allowed; a repeated key keeps its last value).
     *
     * @throws com.fasterxml.jackson.core.JsonProcessingException with line and column on malformed text
     */
    public static JsonNode parse(String text) throws com.fasterxml.jackson.core.JsonProcessingException {
        return MAPPER.readTree(text);
    }

    /** The shared mapper (for converting trees), configured like {@link #parse}. */
    public static ObjectMapper mapper() {
        return MAPPER;
    }

    private static void write(StringBuilder sb, Object v, int indent, int level, boolean sort) {
        switch (v) {
            case null -> sb.append("null");
            case Boolean b -> sb.append(b ? "true" : "false");
            case CharSequence s -> string(sb, s.toString());
            case Float f -> floatRepr(sb, f);
            case Double d -> floatRepr(sb, d);
            case BigDecimal d -> floatRepr(sb, d.doubleValue());
            case Integer i -> sb.append(i.intValue());
            case Long l -> sb.append(l.longValue());
            case Short s -> sb.append(s.shortValue());
            case Byte b -> sb.append(b.byteValue());
            case BigInteger i -> sb.append(i);
            case JsonNode n -> node(sb, n, indent, level, sort);
            case Map<?, ?> m -> object(sb, m, indent, level, sort);
            case Collection<?> c -> array(sb, c, indent, level, sort);
            case Object[] a -> array(sb, List.of(a), indent, level, sort);
            case int[] a -> {
                List<Object> l = new ArrayList<>(a.length);
                for (int x : a) l.add(x);
                array(sb, l, indent, level, sort);
            }
            case long[] a -> {
                List<Object> l = new ArrayList<>(a.length);
                for (long x : a) l.add(x);
                array(sb, l, indent, level, sort);
            }
            default -> throw new IllegalArgumentException("cannot write " + v.getClass().getName() + " as JSON: " + v);
        }
    }

    private static void node(StringBuilder sb, JsonNode n, int indent, int level, boolean sort) {
        switch (n.getNodeType()) {
            case NULL, MISSING -> sb.append("null");
            case BOOLEAN -> sb.append(n.booleanValue() ? "true" : "false");
            case STRING -> string(sb, n.textValue());
            case NUMBER -> {
                if (n.isIntegralNumber()) sb.append(n.bigIntegerValue());
                else floatRepr(sb, n.doubleValue());
            }
            case OBJECT -> {
                Map<String, JsonNode> m = new java.util.LinkedHashMap<>();
                for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> e = it.next();
                    m.put(e.getKey(), e.getValue());
                }
                object(sb, m, indent, level, sort);
            }
            case ARRAY -> {
                List<JsonNode> l = new ArrayList<>(n.size());
                n.forEach(l::add);
                array(sb, l, indent, level, sort);
            }
            default -> throw new IllegalArgumentException("cannot write JSON node " + n.getNodeType());
        }
    }

    private static void object(StringBuilder sb, Map<?, ?> m, int indent, int level, boolean sort) {
        if (m.isEmpty()) {
            sb.append("{}");
            return;
        }
        List<Map.Entry<String, Object>> entries = new ArrayList<>(m.size());
        for (Map.Entry<?, ?> e : m.entrySet()) {
            if (!(e.getKey() instanceof String k)) {
                throw new IllegalArgumentException("JSON object keys must be strings, got " + e.getKey());
            }
            entries.add(Map.entry(k, e.getValue() == null ? NullValue.NULL : e.getValue()));
        }
        if (sort) entries.sort(Map.Entry.comparingByKey(CODE_POINT_ORDER));
        sb.append('{');
        boolean first = true;
        for (Map.Entry<String, Object> e : entries) {
            if (!first) sb.append(',');
            first = false;
            newline(sb, indent, level + 1);
            string(sb, e.getKey());
            sb.append(':');
            if (indent >= 0) sb.append(' ');
            write(sb, e.getValue() == NullValue.NULL ? null : e.getValue(), indent, level + 1, sort);
        }
        newline(sb, indent, level);
        sb.append('}');
    }

    private enum NullValue { NULL }

    private static void array(StringBuilder sb, Collection<?> c, int indent, int level, boolean sort) {
        if (c.isEmpty()) {
            sb.append("[]");
            return;
        }
        sb.append('[');
        boolean first = true;
        for (Object o : c) {
            if (!first) sb.append(',');
            first = false;
            newline(sb, indent, level + 1);
            write(sb, o, indent, level + 1, sort);
        }
        newline(sb, indent, level);
        sb.append(']');
    }

    private static void newline(StringBuilder sb, int indent, int level) {
        if (indent < 0) return;
        sb.append('\n');
        for (int i = 0; i < indent * level; i++) sb.append(' ');
    }

    /** Appends {@code s} as {@code json.dumps(s)} (ensure_ascii) does. */
    public static void string(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20 || c > 0x7E) {
                        sb.append("\\u").append(HEX[c >> 12 & 0xF]).append(HEX[c >> 8 & 0xF])
                                .append(HEX[c >> 4 & 0xF]).append(HEX[c & 0xF]);
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }

    /** {@code repr(d)} as {@code json.dumps} writes a Python float. */
    public static String floatRepr(double d) {
        StringBuilder sb = new StringBuilder(24);
        floatRepr(sb, d);
        return sb.toString();
    }

    private static void floatRepr(StringBuilder sb, double d) {
        if (Double.isNaN(d)) {
            sb.append("NaN");
        } else if (Double.isInfinite(d)) {
            sb.append(d > 0 ? "Infinity" : "-Infinity");
        } else {
            // Double.toString (JDK 19+) gives the shortest digits that round-trip, like Python's repr.
            digits(sb, shortest(Double.toString(Math.abs(d)), Math.abs(d), false), Math.copySign(1.0, d) < 0);
        }
    }

    private static void floatRepr(StringBuilder sb, float f) {
        if (Float.isNaN(f) || Float.isInfinite(f)) {
            floatRepr(sb, (double) f);
        } else {
            digits(sb, shortest(Float.toString(Math.abs(f)), Math.abs(f), true), Math.copySign(1f, f) < 0);
        }
    }

    /**
     * Java's {@code toString} is shortest except that, when one digit would do, it may choose a
     * closer two-digit decimal ({@code 4.9E-324}); Python's repr takes the shortest ({@code 5e-324}).
     * Returns the one-digit decimal nearest to {@code v} that reads back as {@code v}, when there is one.
     */
    private static String shortest(String javaRepr, double v, boolean isFloat) {
        BigDecimal bd = new BigDecimal(javaRepr).stripTrailingZeros();
        if (bd.signum() == 0 || bd.precision() != 2) return javaRepr;
        BigDecimal down = bd.round(new java.math.MathContext(1, java.math.RoundingMode.FLOOR));
        BigDecimal up = bd.round(new java.math.MathContext(1, java.math.RoundingMode.CEILING));
        BigDecimal exact = new BigDecimal(v);
        BigDecimal best = null;
        for (BigDecimal c : new BigDecimal[]{down, up}) {
            boolean same = isFloat ? c.floatValue() == (float) v : c.doubleValue() == v;
            if (same && (best == null || c.subtract(exact).abs().compareTo(best.subtract(exact).abs()) < 0)) best = c;
        }
        return best == null ? javaRepr : best.toString();
    }

    /** Re-lays Java's shortest decimal {@code javaRepr} (of a non-negative finite value) the way Python prints it. */
    private static void digits(StringBuilder sb, String javaRepr, boolean negative) {
        if (negative) sb.append('-');
        BigDecimal bd = new BigDecimal(javaRepr);
        if (bd.signum() == 0) {
            sb.append("0.0");
            return;
        }
        bd = bd.stripTrailingZeros();
        String ds = bd.unscaledValue().toString();            // significant digits
        int exp = ds.length() - 1 - bd.scale();                // value = d.ddd × 10^exp
        if (exp >= -4 && exp < 16) {
            if (exp >= 0) {
                if (ds.length() <= exp + 1) {
                    sb.append(ds);
                    for (int i = ds.length(); i <= exp; i++) sb.append('0');
                    sb.append(".0");
                } else {
                    sb.append(ds, 0, exp + 1).append('.').append(ds, exp + 1, ds.length());
                }
            } else {
                sb.append("0.");
                for (int i = -1; i > exp; i--) sb.append('0');
                sb.append(ds);
            }
        } else {
            sb.append(ds.charAt(0));
            if (ds.length() > 1) sb.append('.').append(ds, 1, ds.length());
            sb.append('e').append(exp < 0 ? '-' : '+');
            int a = Math.abs(exp);
            if (a < 10) sb.append('0');
            sb.append(a);
        }
    }

    private static int compareCodePoints(String a, String b) {
        int i = 0, j = 0;
        while (i < a.length() && j < b.length()) {
            int ca = a.codePointAt(i), cb = b.codePointAt(j);
            if (ca != cb) return Integer.compare(ca, cb);
            i += Character.charCount(ca);
            j += Character.charCount(cb);
        }
        return Integer.compare(a.length() - i, b.length() - j);
    }
}
