package finetune4j.text.jinja;

import com.hubspot.jinjava.objects.SafeString;
import com.hubspot.jinjava.objects.Namespace;

import java.math.BigInteger;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Python's {@code str()} and {@code repr()} of template values: what {@code {{ x }}} prints.
 *
 * <p>Jinjava prints {@code true}, {@code [a, b]} and {@code {k=v}} where Python prints {@code True},
 * {@code ['a', 'b']} and {@code {'k': 'v'}}; floats follow CPython's {@code float_repr_style='short'}
 * (shortest round-trip digits, exponent form when the decimal point is beyond 16 digits or before
 * 4 leading zeros: {@code 1e-05}, {@code 1e+16}, {@code 0.0001}).
 */
final class PyRepr {
    private PyRepr() {
    }

    /** {@code str(v)}; undefined prints as the empty string, as Jinja2's Undefined does. */
    static String str(Object v) {
        if (v == null) return "";
        if (v instanceof String s) return s;
        if (v instanceof SafeString s) return s.getValue();
        StringBuilder sb = new StringBuilder();
        append(sb, v, false);
        return sb.toString();
    }

    /** {@code repr(v)}. */
    static String repr(Object v) {
        StringBuilder sb = new StringBuilder();
        append(sb, v, true);
        return sb.toString();
    }

    private static void append(StringBuilder sb, Object v, boolean repr) {
        if (v == null) {
            if (repr) sb.append("Undefined");
            return;
        }
        if (v instanceof String || v instanceof SafeString) {
            String s = PyValues.str(v);
            if (repr) appendStringRepr(sb, s);
            else sb.append(s);
        } else if (v == PyNone.NONE) {
            sb.append("None");
        } else if (v instanceof Boolean b) {
            sb.append(b ? "True" : "False");
        } else if (v instanceof Long || v instanceof Integer || v instanceof BigInteger || v instanceof Short || v instanceof Byte) {
            sb.append(v);
        } else if (v instanceof Double || v instanceof Float) {
            sb.append(floatRepr(((Number) v).doubleValue()));
        } else if (v instanceof PyTuple t) {
            sb.append('(');
            for (int i = 0; i < t.size(); i++) {
                if (i > 0) sb.append(", ");
                append(sb, t.get(i), true);
            }
            if (t.size() == 1) sb.append(',');
            sb.append(')');
        } else if (v instanceof List<?> l) {
            sb.append('[');
            for (int i = 0; i < l.size(); i++) {
                if (i > 0) sb.append(", ");
                append(sb, l.get(i), true);
            }
            sb.append(']');
        } else if (v instanceof Map<?, ?> m) {
            if (v instanceof Namespace) sb.append("<Namespace ");
            sb.append('{');
            Iterator<? extends Map.Entry<?, ?>> it = m.entrySet().iterator();
            while (it.hasNext()) {
                Map.Entry<?, ?> e = it.next();
                append(sb, e.getKey(), true);
                sb.append(": ");
                append(sb, e.getValue(), true);
                if (it.hasNext()) sb.append(", ");
            }
            sb.append('}');
            if (v instanceof Namespace) sb.append('>');
        } else {
            sb.append(v);
        }
    }

    /** Python's repr of a str: quote choice and escapes of unicode_repr. */
    static void appendStringRepr(StringBuilder sb, String s) {
        char quote = s.indexOf('\'') >= 0 && s.indexOf('"') < 0 ? '"' : '\'';
        sb.append(quote);
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            i += Character.charCount(cp);
            if (cp == quote || cp == '\\') {
                sb.append('\\').appendCodePoint(cp);
            } else if (cp == '\t') {
                sb.append("\\t");
            } else if (cp == '\n') {
                sb.append("\\n");
            } else if (cp == '\r') {
                sb.append("\\r");
            } else if (cp < 0x20 || cp == 0x7f) {
                sb.append(String.format("\\x%02x", cp));
            } else if (cp < 0x7f || isPrintable(cp)) {
                sb.appendCodePoint(cp);
            } else if (cp <= 0xff) {
                sb.append(String.format("\\x%02x", cp));
            } else if (cp <= 0xffff) {
                sb.append(String.format("\\u%04x", cp));
            } else {
                sb.append(String.format("\\U%08x", cp));
            }
        }
        sb.append(quote);
    }

    /** Python's str.isprintable for one code point (space counts as printable). */
    static boolean isPrintable(int cp) {
        if (cp == ' ') return true;
        return switch (Character.getType(cp)) {
            case Character.CONTROL, Character.FORMAT, Character.SURROGATE, Character.PRIVATE_USE,
                 Character.UNASSIGNED, Character.LINE_SEPARATOR, Character.PARAGRAPH_SEPARATOR,
                 Character.SPACE_SEPARATOR -> false;
            default -> true;
        };
    }

    /** CPython's repr(float). */
    static String floatRepr(double d) {
        if (Double.isNaN(d)) return "nan";
        if (Double.isInfinite(d)) return d > 0 ? "inf" : "-inf";
        if (d == 0.0) return (1.0 / d < 0) ? "-0.0" : "0.0";
        // Java's Double.toString gives the shortest digits that round-trip (JDK 19+), as Python's
        // repr does; only the layout differs. Parse digits and exponent, then lay out as Python.
        String js = Double.toString(Math.abs(d));
        int e = js.indexOf('E');
        String mant = e >= 0 ? js.substring(0, e) : js;
        int exp10 = e >= 0 ? Integer.parseInt(js.substring(e + 1)) : 0;
        int dot = mant.indexOf('.');
        String digits = mant.substring(0, dot) + mant.substring(dot + 1);
        int decpt = dot + exp10;                          // value = 0.DIGITS * 10^decpt after stripping
        int lead = 0;
        while (lead < digits.length() - 1 && digits.charAt(lead) == '0') lead++;
        digits = digits.substring(lead);
        decpt -= lead;
        int end = digits.length();
        while (end > 1 && digits.charAt(end - 1) == '0') end--;
        digits = digits.substring(0, end);
        if (digits.length() == 2) {
            // Java prints at least two significant digits (4.9E-324); Python's shortest may be one (5e-324)
            int c = ((digits.charAt(0) - '0') * 10 + (digits.charAt(1) - '0') + 5) / 10;
            int cDecpt = decpt;
            if (c == 10) {
                c = 1;
                cDecpt++;
            }
            if (Double.parseDouble(c + "e" + (cDecpt - 1)) == Math.abs(d)) {
                digits = Integer.toString(c);
                decpt = cDecpt;
            }
        }
        StringBuilder sb = new StringBuilder();
        if (d < 0) sb.append('-');
        int n = digits.length();
        if (decpt <= -4 || decpt > 16) {
            sb.append(digits.charAt(0));
            if (n > 1) sb.append('.').append(digits, 1, n);
            int x = decpt - 1;
            sb.append('e').append(x < 0 ? '-' : '+');
            int ax = Math.abs(x);
            if (ax < 10) sb.append('0');
            sb.append(ax);
        } else if (decpt <= 0) {
            sb.append("0.");
            sb.append("0".repeat(-decpt)).append(digits);
        } else if (decpt >= n) {
            sb.append(digits).append("0".repeat(decpt - n)).append(".0");
        } else {
            sb.append(digits, 0, decpt).append('.').append(digits, decpt, n);
        }
        return sb.toString();
    }
}
