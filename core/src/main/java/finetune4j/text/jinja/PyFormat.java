package finetune4j.text.jinja;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;
import java.util.List;
import java.util.Map;

/**
 * Python string formatting used by templates: {@code 'fmt' % args} (and Jinja2's {@code |format}
 * filter, which is the same) and {@code 'fmt'.format(...)}. Covers the conversions templates use:
 * {@code %s %r %d %i %f %e %x %o %c %%} with flags, width and precision; {@code {} {0} {name}} with
 * a conversion ({@code !r !s}) and a format spec for width/precision of numbers and strings.
 */
final class PyFormat {
    private PyFormat() {
    }

    /** {@code fmt % args}: args is a tuple/list for several values, a dict for {@code %(name)s}. */
    static String percent(String fmt, Object args) {
        List<?> positional = args instanceof PyTuple t ? t : List.of(args);
        Map<?, ?> named = args instanceof Map<?, ?> m ? m : null;
        StringBuilder sb = new StringBuilder();
        int argi = 0;
        for (int i = 0; i < fmt.length(); i++) {
            char c = fmt.charAt(i);
            if (c != '%') {
                sb.append(c);
                continue;
            }
            if (++i >= fmt.length()) throw PyErrors.valueError("incomplete format");
            Object value = null;
            boolean haveValue = false;
            if (fmt.charAt(i) == '(') {
                int close = fmt.indexOf(')', i);
                if (close < 0 || named == null) throw PyErrors.typeError("format requires a mapping");
                value = named.get(fmt.substring(i + 1, close));
                haveValue = true;
                i = close + 1;
            }
            StringBuilder flags = new StringBuilder();
            while (i < fmt.length() && "-+ #0".indexOf(fmt.charAt(i)) >= 0) flags.append(fmt.charAt(i++));
            int width = -1, prec = -1;
            int ws = i;
            while (i < fmt.length() && Character.isDigit(fmt.charAt(i))) i++;
            if (i > ws) width = Integer.parseInt(fmt.substring(ws, i));
            if (i < fmt.length() && fmt.charAt(i) == '.') {
                int ps = ++i;
                while (i < fmt.length() && Character.isDigit(fmt.charAt(i))) i++;
                prec = i > ps ? Integer.parseInt(fmt.substring(ps, i)) : 0;
            }
            if (i >= fmt.length()) throw PyErrors.valueError("incomplete format");
            char conv = fmt.charAt(i);
            if (conv == '%') {
                sb.append('%');
                continue;
            }
            if (!haveValue) {
                if (argi >= positional.size()) throw PyErrors.typeError("not enough arguments for format string");
                value = positional.get(argi++);
            }
            sb.append(pad(convert(value, conv, prec, flags.toString()), width, flags.indexOf("-") >= 0,
                    flags.indexOf("0") >= 0 && "dieEfFgGxXo".indexOf(conv) >= 0));
        }
        if (named == null && argi < positional.size()) {
            throw PyErrors.typeError("not all arguments converted during string formatting");
        }
        return sb.toString();
    }

    private static String convert(Object v, char conv, int prec, String flags) {
        return switch (conv) {
            case 's' -> prec >= 0 ? PyStrings.fromCodePoints(PyStrings.codePoints(PyRepr.str(v)), 0,
                    Math.min(prec, PyStrings.length(PyRepr.str(v)))) : PyRepr.str(v);
            case 'r', 'a' -> PyRepr.repr(v);
            case 'd', 'i' -> sign(integer(v).toString(), flags);
            case 'x' -> sign(integer(v).toString(16), flags);
            case 'X' -> sign(integer(v).toString(16).toUpperCase(), flags);
            case 'o' -> sign(integer(v).toString(8), flags);
            case 'f', 'F' -> sign(fixed(number(v), prec < 0 ? 6 : prec), flags);
            case 'e', 'E' -> {
                String s = String.format("%." + (prec < 0 ? 6 : prec) + "e", number(v));
                yield sign(conv == 'E' ? s.toUpperCase() : s, flags);
            }
            case 'c' -> PyValues.isString(v) ? PyValues.str(v) : new String(Character.toChars(integer(v).intValue()));
            default -> throw PyErrors.valueError("unsupported format character '" + conv + "'");
        };
    }

    private static String sign(String s, String flags) {
        if (s.startsWith("-")) return s;
        if (flags.indexOf('+') >= 0) return "+" + s;
        if (flags.indexOf(' ') >= 0) return " " + s;
        return s;
    }

    private static String pad(String s, int width, boolean left, boolean zeros) {
        int n = PyStrings.length(s);
        if (width <= n) return s;
        String fill = (zeros && !left ? "0" : " ").repeat(width - n);
        if (left) return s + " ".repeat(width - n);
        if (zeros && (s.startsWith("-") || s.startsWith("+"))) return s.charAt(0) + fill + s.substring(1);
        return fill + s;
    }

    private static BigInteger integer(Object v) {
        if (v instanceof Boolean b) return b ? BigInteger.ONE : BigInteger.ZERO;
        if (v instanceof BigInteger b) return b;
        if (v instanceof Long l) return BigInteger.valueOf(l);
        if (v instanceof Double d) return new BigDecimal(d).setScale(0, RoundingMode.DOWN).toBigInteger();
        throw PyErrors.typeError("%d format: a real number is required, not " + PyValues.typeName(v));
    }

    private static double number(Object v) {
        if (v instanceof Boolean b) return b ? 1 : 0;
        if (v instanceof Number n) return n.doubleValue();
        throw PyErrors.typeError("must be real number, not " + PyValues.typeName(v));
    }

    /** Fixed-point with Python's round-half-even on the exact binary value. */
    static String fixed(double d, int prec) {
        if (Double.isNaN(d)) return "nan";
        if (Double.isInfinite(d)) return d > 0 ? "inf" : "-inf";
        String s = new BigDecimal(d).setScale(prec, RoundingMode.HALF_EVEN).toPlainString();
        if (d < 0 || (d == 0 && 1 / d < 0)) {
            if (!s.startsWith("-")) s = "-" + s;
        }
        return s;
    }

    /** {@code fmt.format(*args, **kwargs)} with auto/explicit positions and names. */
    static String format(String fmt, List<Object> args, Map<String, Object> kwargs) {
        StringBuilder sb = new StringBuilder();
        int auto = 0;
        for (int i = 0; i < fmt.length(); i++) {
            char c = fmt.charAt(i);
            if (c == '{') {
                if (i + 1 < fmt.length() && fmt.charAt(i + 1) == '{') {
                    sb.append('{');
                    i++;
                    continue;
                }
                int close = fmt.indexOf('}', i);
                if (close < 0) throw PyErrors.valueError("Single '{' encountered in format string");
                String field = fmt.substring(i + 1, close);
                String spec = "";
                char conversion = 0;
                int colon = field.indexOf(':');
                if (colon >= 0) {
                    spec = field.substring(colon + 1);
                    field = field.substring(0, colon);
                }
                int bang = field.indexOf('!');
                if (bang >= 0) {
                    conversion = field.charAt(bang + 1);
                    field = field.substring(0, bang);
                }
                Object v;
                if (field.isEmpty()) {
                    if (auto >= args.size()) throw PyErrors.abort(TemplateException.Kind.RUNTIME,
                            "IndexError: Replacement index " + auto + " out of range for positional args tuple", null);
                    v = args.get(auto++);
                } else if (field.chars().allMatch(Character::isDigit)) {
                    int k = Integer.parseInt(field);
                    if (k >= args.size()) throw PyErrors.abort(TemplateException.Kind.RUNTIME,
                            "IndexError: Replacement index " + k + " out of range for positional args tuple", null);
                    v = args.get(k);
                } else {
                    if (!kwargs.containsKey(field)) {
                        throw PyErrors.abort(TemplateException.Kind.RUNTIME, "KeyError: '" + field + "'", null);
                    }
                    v = kwargs.get(field);
                }
                String text = conversion == 'r' ? PyRepr.repr(v) : null;
                sb.append(text != null ? text : applySpec(v, spec));
                i = close;
            } else if (c == '}') {
                if (i + 1 < fmt.length() && fmt.charAt(i + 1) == '}') i++;
                sb.append('}');
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }

    /** A format spec [[fill]align][sign][0][width][.precision][type], the common subset. */
    private static String applySpec(Object v, String spec) {
        if (spec.isEmpty()) return PyRepr.str(v);
        int i = 0;
        char fill = ' ', align = 0;
        if (spec.length() >= 2 && "<>^".indexOf(spec.charAt(1)) >= 0) {
            fill = spec.charAt(0);
            align = spec.charAt(1);
            i = 2;
        } else if ("<>^".indexOf(spec.charAt(0)) >= 0) {
            align = spec.charAt(0);
            i = 1;
        }
        String flags = "";
        if (i < spec.length() && "+- ".indexOf(spec.charAt(i)) >= 0) flags = String.valueOf(spec.charAt(i++));
        if (i < spec.length() && spec.charAt(i) == '0') {
            fill = '0';
            if (align == 0) align = '=';
            i++;
        }
        int ws = i;
        while (i < spec.length() && Character.isDigit(spec.charAt(i))) i++;
        int width = i > ws ? Integer.parseInt(spec.substring(ws, i)) : -1;
        int prec = -1;
        if (i < spec.length() && spec.charAt(i) == '.') {
            int ps = ++i;
            while (i < spec.length() && Character.isDigit(spec.charAt(i))) i++;
            prec = Integer.parseInt(spec.substring(ps, i));
        }
        char type = i < spec.length() ? spec.charAt(i) : 0;
        String body = switch (type) {
            case 'd' -> sign(integer(v).toString(), flags);
            case 'f', 'F' -> sign(fixed(number(v), prec < 0 ? 6 : prec), flags);
            case 'x' -> integer(v).toString(16);
            case 's', 0 -> prec >= 0 && PyValues.isString(v)
                    ? PyStrings.fromCodePoints(PyStrings.codePoints(PyValues.str(v)), 0, Math.min(prec, PyStrings.length(PyValues.str(v))))
                    : (type == 0 && PyValues.isFloat(v) && prec >= 0 ? fixed(number(v), prec) : PyRepr.str(v));
            default -> throw PyErrors.valueError("Unknown format code '" + type + "'");
        };
        int n = PyStrings.length(body);
        if (width <= n) return body;
        String padding = String.valueOf(fill).repeat(width - n);
        if (align == 0) align = PyValues.isNumber(v) ? '>' : '<';
        return switch (align) {
            case '<' -> body + padding;
            case '^' -> padding.substring(0, (width - n) / 2) + body + padding.substring((width - n) / 2);
            case '=' -> (body.startsWith("-") || body.startsWith("+")) ? body.charAt(0) + padding + body.substring(1) : padding + body;
            default -> padding + body;
        };
    }
}
