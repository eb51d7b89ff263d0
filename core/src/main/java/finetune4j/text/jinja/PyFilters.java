package finetune4j.text.jinja;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.exptest.ExpTest;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.objects.SafeString;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Jinja2's built-in filters with Python semantics (plus transformers' {@code tojson}), replacing
 * Jinjava's filters of the same names. Jinjava's differ in ways chat templates notice: its
 * {@code trim} strips control characters but not U+00A0/U+3000, {@code length} counts UTF-16 units,
 * {@code join} prints {@code true}, {@code tojson} is compact, {@code default} replaces empty strings.
 * Filters Jinjava has and Jinja2 lacks (or that are not implemented here) are disabled, so a template
 * fails loudly rather than rendering differently from transformers.
 */
final class PyFilters {
    private PyFilters() {
    }

    @FunctionalInterface
    interface Body {
        Object apply(Object value, List<Object> args, Map<String, Object> kwargs, JinjavaInterpreter interpreter);
    }

    /** A filter whose arguments arrive as Python positional and keyword arguments. */
    record PyFilter(String name, Body body) implements Filter {
        @Override
        public String getName() {
            return name;
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            return filter(var, interpreter, (Object[]) args, Map.of());
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
            RenderState.checkCurrent();
            if (var instanceof SafeString s) var = s.getValue();
            return body.apply(var, Arrays.asList(args), kwargs, interpreter);
        }
    }

    /** The filter set, by name. */
    static List<PyFilter> all() {
        List<PyFilter> f = new ArrayList<>();
        f.add(new PyFilter("tojson", PyFilters::tojson));
        f.add(new PyFilter("trim", (v, a, k, i) -> PyStrings.strip(PyRepr.str(v), optStr(arg(a, k, 0, "chars", null)), true, true)));
        f.add(new PyFilter("length", (v, a, k, i) -> (long) len(v)));
        f.add(new PyFilter("count", (v, a, k, i) -> (long) len(v)));
        f.add(new PyFilter("join", (v, a, k, i) -> join(v, PyRepr.str(arg(a, k, 0, "d", "")), arg(a, k, 1, "attribute", null))));
        f.add(new PyFilter("default", PyFilters::dflt));
        f.add(new PyFilter("d", PyFilters::dflt));
        f.add(new PyFilter("string", (v, a, k, i) -> PyRepr.str(v)));
        f.add(new PyFilter("upper", (v, a, k, i) -> PyStrings.upper(PyRepr.str(v))));
        f.add(new PyFilter("lower", (v, a, k, i) -> PyStrings.lower(PyRepr.str(v))));
        f.add(new PyFilter("title", (v, a, k, i) -> PyStrings.jinjaTitle(PyRepr.str(v))));
        f.add(new PyFilter("capitalize", (v, a, k, i) -> PyStrings.capitalize(PyRepr.str(v))));
        f.add(new PyFilter("replace", PyFilters::replace));
        f.add(new PyFilter("first", (v, a, k, i) -> {
            List<Object> l = iterate(v);
            return l.isEmpty() ? null : l.get(0);
        }));
        f.add(new PyFilter("last", (v, a, k, i) -> {
            List<Object> l = iterate(v);
            return l.isEmpty() ? null : l.get(l.size() - 1);
        }));
        f.add(new PyFilter("list", (v, a, k, i) -> List.copyOf(iterate(v))));
        f.add(new PyFilter("reverse", (v, a, k, i) -> {
            if (PyValues.isString(v)) return PyOps.slice(v, PyNone.NONE, PyNone.NONE, -1L);
            List<Object> l = new ArrayList<>(iterate(v));
            java.util.Collections.reverse(l);
            return List.copyOf(l);
        }));
        f.add(new PyFilter("items", (v, a, k, i) -> {
            if (v == null) return List.of();
            if (!(v instanceof Map<?, ?> m)) throw PyErrors.typeError("Can only get item pairs from a mapping.");
            return PyMethods.dict(m, "items", List.of());
        }));
        f.add(new PyFilter("dictsort", PyFilters::dictsort));
        f.add(new PyFilter("int", PyFilters::toInt));
        f.add(new PyFilter("float", PyFilters::toFloat));
        f.add(new PyFilter("abs", (v, a, k, i) -> {
            if (PyValues.isNumber(v) && PyOps.compare(v, 0L, "<") < 0) return PyOps.neg(v);
            if (PyValues.isNumber(v)) return v instanceof Boolean b ? (b ? 1L : 0L) : v;
            throw PyErrors.typeError("bad operand type for abs(): '" + PyValues.typeName(v) + "'");
        }));
        f.add(new PyFilter("round", PyFilters::round));
        f.add(new PyFilter("map", PyFilters::map));
        f.add(new PyFilter("select", (v, a, k, i) -> select(v, a, i, false, false)));
        f.add(new PyFilter("reject", (v, a, k, i) -> select(v, a, i, true, false)));
        f.add(new PyFilter("selectattr", (v, a, k, i) -> select(v, a, i, false, true)));
        f.add(new PyFilter("rejectattr", (v, a, k, i) -> select(v, a, i, true, true)));
        f.add(new PyFilter("unique", PyFilters::unique));
        f.add(new PyFilter("sort", PyFilters::sort));
        f.add(new PyFilter("sum", PyFilters::sum));
        f.add(new PyFilter("min", (v, a, k, i) -> minMax(v, k, true)));
        f.add(new PyFilter("max", (v, a, k, i) -> minMax(v, k, false)));
        f.add(new PyFilter("indent", PyFilters::indent));
        f.add(new PyFilter("safe", (v, a, k, i) -> PyRepr.str(v)));
        f.add(new PyFilter("e", (v, a, k, i) -> escape(v)));
        f.add(new PyFilter("escape", (v, a, k, i) -> escape(v)));
        f.add(new PyFilter("forceescape", (v, a, k, i) -> escape(v)));
        f.add(new PyFilter("format", (v, a, k, i) -> {
            if (!a.isEmpty() && !k.isEmpty()) throw PyErrors.abort(TemplateException.Kind.RUNTIME,
                    "FilterArgumentError: can't handle positional and keyword arguments at the same time", null);
            return PyFormat.percent(PyRepr.str(v), k.isEmpty() ? PyTuple.of(a) : k);
        }));
        f.add(new PyFilter("wordcount", (v, a, k, i) -> {
            Matcher m = Pattern.compile("\\w+", Pattern.UNICODE_CHARACTER_CLASS).matcher(PyRepr.str(v));
            long n = 0;
            while (m.find()) n++;
            return n;
        }));
        f.add(new PyFilter("center", (v, a, k, i) ->
                PyMethods.str(PyRepr.str(v), "center", List.of(arg(a, k, 0, "width", 80L)), Map.of())));
        return f;
    }

    /**
     * Stands in for a Jinjava filter that Jinja2 lacks or that is not implemented here: using it
     * fails as an unknown filter does in Jinja2, instead of rendering differently from transformers.
     */
    record Unsupported(String name) implements Filter {
        @Override
        public String getName() {
            return name;
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            throw PyErrors.abort(TemplateException.Kind.SYNTAX, "No filter named '" + name + "'.",
                    "finetune4j implements Jinja2's filters; '" + name + "' is not one of them or is not supported");
        }
    }

    // ------------------------------------------------------------------ helpers

    /** Positional argument i, or keyword {@code name}, or the default. */
    private static Object arg(List<Object> a, Map<String, Object> k, int i, String name, Object dflt) {
        if (i < a.size()) return a.get(i);
        return k.containsKey(name) ? k.get(name) : dflt;
    }

    private static String optStr(Object v) {
        return v == null || v == PyNone.NONE ? null : PyRepr.str(v);
    }

    /** Python len(); undefined has length 0. */
    static int len(Object v) {
        if (v == null) return 0;
        if (PyValues.isString(v)) return PyStrings.length(PyValues.str(v));
        if (v instanceof Collection<?> c) return c.size();
        if (v instanceof Map<?, ?> m) return m.size();
        throw PyErrors.typeError("object of type '" + PyValues.typeName(v) + "' has no len()");
    }

    /** Python iteration: chars of a str, keys of a dict, items of a list; undefined is empty. */
    static List<Object> iterate(Object v) {
        if (v == null) return List.of();
        if (PyValues.isString(v)) {
            String s = PyValues.str(v);
            List<Object> out = new ArrayList<>();
            s.codePoints().forEach(cp -> out.add(new String(Character.toChars(cp))));
            return out;
        }
        if (v instanceof Map<?, ?> m) return new ArrayList<>(m.keySet());
        if (v instanceof Collection<?> c) {
            List<Object> out = new ArrayList<>(c.size());
            for (Object o : c) out.add(o == null ? PyNone.NONE : o);
            return out;
        }
        throw PyErrors.typeError("'" + PyValues.typeName(v) + "' object is not iterable");
    }

    /** Jinja2's environment.getattr with a dotted path ("function.name", "0.role"). */
    static Object attribute(Object item, String path) {
        Object v = item;
        for (String part : path.split("\\.", -1)) {
            if (v == null) return null;
            Object key = part.chars().allMatch(Character::isDigit) && !part.isEmpty() ? (Object) Long.parseLong(part) : part;
            Object next = PyOps.getItem(v, key);
            if (next == null && key instanceof Long) next = PyOps.getItem(v, part);
            v = next;
        }
        return v;
    }

    static String join(Object value, String sep, Object attribute) {
        List<Object> items = iterate(value);
        StringBuilder sb = new StringBuilder();
        RenderState s = RenderState.currentOrNull();
        for (int n = 0; n < items.size(); n++) {
            if (n > 0) sb.append(sep);
            Object o = items.get(n);
            if (attribute != null && attribute != PyNone.NONE) o = attribute(o, PyRepr.str(attribute));
            sb.append(PyRepr.str(o));
            if (s != null) s.checkSize(sb.length(), "a joined string");
        }
        return sb.toString();
    }

    private static Object tojson(Object v, List<Object> a, Map<String, Object> k, JinjavaInterpreter i) {
        boolean ascii = PyValues.truthy(arg(a, k, 0, "ensure_ascii", false));
        Object indent = arg(a, k, 1, "indent", PyNone.NONE);
        Object seps = arg(a, k, 2, "separators", PyNone.NONE);
        boolean sort = PyValues.truthy(arg(a, k, 3, "sort_keys", false));
        String indentStr = null;
        if (PyValues.isInt(indent)) indentStr = " ".repeat((int) Math.max(0, Math.min(((Number) indent).longValue(), 1000)));
        else if (PyValues.isString(indent)) indentStr = PyValues.str(indent);
        else if (indent != PyNone.NONE && indent != null) throw PyErrors.typeError("indent must be int, str or None");
        String itemSep = null, keySep = null;
        if (seps instanceof List<?> l && l.size() == 2) {
            itemSep = PyRepr.str(l.get(0));
            keySep = PyRepr.str(l.get(1));
        } else if (seps != PyNone.NONE && seps != null) {
            throw PyErrors.valueError("separators must be a (item_separator, key_separator) tuple");
        }
        if (v == null) throw PyErrors.undefined("tojson of an undefined value");
        return PyJson.dumps(v, ascii, indentStr, itemSep, keySep, sort);
    }

    private static Object dflt(Object v, List<Object> a, Map<String, Object> k, JinjavaInterpreter i) {
        Object d = arg(a, k, 0, "default_value", "");
        boolean bool = PyValues.truthy(arg(a, k, 1, "boolean", false));
        if (v == null || (bool && !PyValues.truthy(v))) return d;
        return v;
    }

    private static Object replace(Object v, List<Object> a, Map<String, Object> k, JinjavaInterpreter i) {
        Object count = arg(a, k, 2, "count", PyNone.NONE);
        int c = count == PyNone.NONE || count == null ? -1 : (int) Math.min(Integer.MAX_VALUE, ((Number) count).longValue());
        String r = PyStrings.replace(PyRepr.str(v), PyRepr.str(arg(a, k, 0, "old", "")), PyRepr.str(arg(a, k, 1, "new", "")), c);
        RenderState.current().checkSize(r.length(), "a string");
        return r;
    }

    private static Object dictsort(Object v, List<Object> a, Map<String, Object> k, JinjavaInterpreter i) {
        if (!(v instanceof Map<?, ?> m)) throw PyErrors.typeError("dictsort needs a mapping, got " + PyValues.typeName(v));
        boolean cs = PyValues.truthy(arg(a, k, 0, "case_sensitive", false));
        String by = PyRepr.str(arg(a, k, 1, "by", "key"));
        boolean rev = PyValues.truthy(arg(a, k, 2, "reverse", false));
        List<Object> items = new ArrayList<>(PyMethods.dict(m, "items", List.of()) instanceof List<?> l ? l : List.of());
        int pos = by.equals("value") ? 1 : 0;
        Comparator<Object> cmp = (x, y) -> PyOps.compare(sortKey(((List<?>) x).get(pos), cs), sortKey(((List<?>) y).get(pos), cs), "<");
        items.sort(rev ? cmp.reversed() : cmp);
        return List.copyOf(items);
    }

    private static Object sortKey(Object v, boolean caseSensitive) {
        return !caseSensitive && PyValues.isString(v) ? PyStrings.lower(PyValues.str(v)) : v;
    }

    private static Object toInt(Object v, List<Object> a, Map<String, Object> k, JinjavaInterpreter i) {
        Object dflt = arg(a, k, 0, "default", 0L);
        long base = ((Number) arg(a, k, 1, "base", 10L)).longValue();
        try {
            if (PyValues.isString(v)) {
                String s = PyStrings.strip(PyValues.str(v), null, true, true).replace("_", "");
                try {
                    return PyValues.normalize(new BigInteger(s.startsWith("+") ? s.substring(1) : s, (int) base));
                } catch (NumberFormatException e) {
                    return PyValues.normalize(new BigDecimal(s).setScale(0, RoundingMode.DOWN).toBigInteger());
                }
            }
            if (v instanceof Boolean b) return b ? 1L : 0L;
            if (PyValues.isInt(v)) return v;
            if (PyValues.isFloat(v)) {
                double d = ((Number) v).doubleValue();
                if (Double.isNaN(d) || Double.isInfinite(d)) return dflt;
                return PyValues.normalize(new BigDecimal(d).setScale(0, RoundingMode.DOWN).toBigInteger());
            }
        } catch (NumberFormatException e) {
            return dflt;
        }
        return dflt;
    }

    private static Object toFloat(Object v, List<Object> a, Map<String, Object> k, JinjavaInterpreter i) {
        Object dflt = arg(a, k, 0, "default", 0.0);
        if (PyValues.isNumber(v)) return v instanceof Boolean b ? (b ? 1.0 : 0.0) : ((Number) v).doubleValue();
        if (PyValues.isString(v)) {
            String s = PyStrings.strip(PyValues.str(v), null, true, true).toLowerCase(java.util.Locale.ROOT);
            switch (s) {
                case "inf", "+inf", "infinity", "+infinity": return Double.POSITIVE_INFINITY;
                case "-inf", "-infinity": return Double.NEGATIVE_INFINITY;
                case "nan", "+nan", "-nan": return Double.NaN;
                default:
                    if (!s.matches("[+-]?(\\d[\\d_]*(\\.[\\d_]*)?|\\.\\d[\\d_]*)(e[+-]?\\d+)?")) return dflt;
                    return Double.parseDouble(s.replace("_", ""));
            }
        }
        return dflt;
    }

    private static Object round(Object v, List<Object> a, Map<String, Object> k, JinjavaInterpreter i) {
        int precision = (int) ((Number) arg(a, k, 0, "precision", 0L)).longValue();
        String method = PyRepr.str(arg(a, k, 1, "method", "common"));
        if (!PyValues.isNumber(v)) throw PyErrors.typeError("type " + PyValues.typeName(v) + " doesn't define __round__ method");
        double d = v instanceof Boolean b ? (b ? 1 : 0) : ((Number) v).doubleValue();
        if (Double.isNaN(d) || Double.isInfinite(d)) return d;
        RoundingMode mode = switch (method) {
            case "common" -> RoundingMode.HALF_EVEN;
            case "ceil" -> RoundingMode.CEILING;
            case "floor" -> RoundingMode.FLOOR;
            default -> throw PyErrors.abort(TemplateException.Kind.RUNTIME,
                    "FilterArgumentError: method must be common, ceil or floor", null);
        };
        if (method.equals("common") && PyValues.isInt(v)) return v;        // round(int, n) keeps the int
        return new BigDecimal(d).setScale(precision, mode).doubleValue();
    }

    private static Object map(Object v, List<Object> a, Map<String, Object> k, JinjavaInterpreter interp) {
        List<Object> items = iterate(v);
        List<Object> out = new ArrayList<>(items.size());
        if (k.containsKey("attribute")) {
            String attr = PyRepr.str(k.get("attribute"));
            Object dflt = k.get("default");
            for (Object o : items) {
                Object x = attribute(o, attr);
                out.add(x == null ? (dflt != null ? dflt : PyNone.NONE) : x);
            }
            return List.copyOf(out);
        }
        if (a.isEmpty()) throw PyErrors.abort(TemplateException.Kind.RUNTIME, "FilterArgumentError: map requires a filter argument", null);
        String name = PyRepr.str(a.get(0));
        Filter f = interp.getContext().getFilter(name);
        if (f == null) throw PyErrors.abort(TemplateException.Kind.SYNTAX, "No filter named '" + name + "'.", null);
        Object[] rest = a.subList(1, a.size()).toArray();
        for (Object o : items) {
            Object x = f.filter(o, interp, rest, k);
            out.add(x == null ? PyNone.NONE : x);
        }
        return List.copyOf(out);
    }

    private static Object select(Object v, List<Object> a, JinjavaInterpreter interp, boolean reject, boolean byAttr) {
        List<Object> out = new ArrayList<>();
        int t = byAttr ? 1 : 0;
        String attr = byAttr ? PyRepr.str(PyMethods.arg(a, 0, reject ? "rejectattr" : "selectattr")) : null;
        ExpTest test = null;
        Object[] testArgs = new Object[0];
        if (a.size() > t) {
            String name = PyRepr.str(a.get(t));
            test = interp.getContext().getExpTest(name);
            if (test == null) throw PyErrors.abort(TemplateException.Kind.SYNTAX, "No test named '" + name + "'.", null);
            testArgs = a.subList(t + 1, a.size()).toArray();
        }
        for (Object o : iterate(v)) {
            Object x = byAttr ? attribute(o, attr) : o;
            boolean ok = test == null ? PyValues.truthy(x) : test.evaluate(x, interp, testArgs);
            if (ok != reject) out.add(o);
        }
        return List.copyOf(out);
    }

    private static Object unique(Object v, List<Object> a, Map<String, Object> k, JinjavaInterpreter i) {
        boolean cs = PyValues.truthy(arg(a, k, 0, "case_sensitive", false));
        Object attr = arg(a, k, 1, "attribute", null);
        List<Object> out = new ArrayList<>(), seen = new ArrayList<>();
        for (Object o : iterate(v)) {
            Object key = sortKey(attr == null || attr == PyNone.NONE ? o : attribute(o, PyRepr.str(attr)), cs);
            boolean dup = false;
            for (Object s : seen) if (PyOps.eq(s, key)) dup = true;
            if (!dup) {
                seen.add(key);
                out.add(o);
            }
        }
        return List.copyOf(out);
    }

    private static Object sort(Object v, List<Object> a, Map<String, Object> k, JinjavaInterpreter i) {
        boolean rev = PyValues.truthy(arg(a, k, 0, "reverse", false));
        boolean cs = PyValues.truthy(arg(a, k, 1, "case_sensitive", false));
        Object attr = arg(a, k, 2, "attribute", null);
        List<Object> items = new ArrayList<>(iterate(v));
        Comparator<Object> cmp = (x, y) -> PyOps.compare(
                sortKey(attr == null || attr == PyNone.NONE ? x : attribute(x, PyRepr.str(attr)), cs),
                sortKey(attr == null || attr == PyNone.NONE ? y : attribute(y, PyRepr.str(attr)), cs), "<");
        items.sort(rev ? cmp.reversed() : cmp);
        return List.copyOf(items);
    }

    private static Object sum(Object v, List<Object> a, Map<String, Object> k, JinjavaInterpreter i) {
        Object attr = arg(a, k, 0, "attribute", null);
        Object total = arg(a, k, 1, "start", 0L);
        for (Object o : iterate(v)) total = PyOps.add(total, attr == null || attr == PyNone.NONE ? o : attribute(o, PyRepr.str(attr)));
        return total;
    }

    private static Object minMax(Object v, Map<String, Object> k, boolean min) {
        boolean cs = PyValues.truthy(k.getOrDefault("case_sensitive", false));
        Object attr = k.get("attribute");
        Object best = null, bestKey = null;
        for (Object o : iterate(v)) {
            Object key = sortKey(attr == null ? o : attribute(o, PyRepr.str(attr)), cs);
            if (best == null || (min ? PyOps.compare(key, bestKey, "<") < 0 : PyOps.compare(key, bestKey, ">") > 0)) {
                best = o;
                bestKey = key;
            }
        }
        return best;
    }

    private static Object indent(Object v, List<Object> a, Map<String, Object> k, JinjavaInterpreter i) {
        Object width = arg(a, k, 0, "width", 4L);
        boolean first = PyValues.truthy(arg(a, k, 1, "first", false));
        boolean blank = PyValues.truthy(arg(a, k, 2, "blank", false));
        String ind = PyValues.isString(width) ? PyValues.str(width) : " ".repeat((int) Math.max(0, ((Number) width).longValue()));
        String s = PyRepr.str(v) + "\n";
        List<Object> lines = PyStrings.splitlines(s, false);
        StringBuilder rv = new StringBuilder();
        if (blank) {
            for (int n = 0; n < lines.size(); n++) {
                if (n > 0) rv.append('\n').append(ind);
                rv.append(lines.get(n));
            }
        } else {
            rv.append(lines.isEmpty() ? "" : (String) lines.get(0));
            for (int n = 1; n < lines.size(); n++) {
                String line = (String) lines.get(n);
                rv.append('\n');
                if (!line.isEmpty()) rv.append(ind);
                rv.append(line);
            }
        }
        return first ? ind + rv : rv.toString();
    }

    /** markupsafe.escape. */
    static String escape(Object v) {
        String s = PyRepr.str(v);
        StringBuilder sb = new StringBuilder(s.length());
        for (int n = 0; n < s.length(); n++) {
            char c = s.charAt(n);
            switch (c) {
                case '&' -> sb.append("&amp;");
                case '<' -> sb.append("&lt;");
                case '>' -> sb.append("&gt;");
                case '"' -> sb.append("&#34;");
                case '\'' -> sb.append("&#39;");
                default -> sb.append(c);
            }
        }
        return sb.toString();
    }
}
