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
 * Filters Jinjava has and Jinja2 lacks are disabled, so a template fails loudly rather than rendering
 * differently from transformers; so are the five Jinja2 filters whose output depends on Python
 * library code not reproduced here ({@link #NOT_REPRODUCED}, each with its reason).
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
            if (var instanceof com.hubspot.jinjava.objects.collections.PyList l) var = l.toList();   // Jinjava's wrapper of a variable
            return body.apply(var, Arrays.asList(args), kwargs, interpreter);
        }
    }

    /**
     * Jinja2 built-in filters that fail here with the reason, rather than render differently:
     * their output is defined by Python library code (pprint, textwrap, html.unescape's entity
     * table, urlize's URL heuristics) or is random.
     */
    static final Map<String, String> NOT_REPRODUCED = Map.of(
            "pprint", "its output is Python's pprint layout, which finetune4j does not reproduce",
            "random", "it renders differently on every call; finetune4j renders templates reproducibly",
            "striptags", "it decodes HTML entities with Python's html.unescape table, which finetune4j does not carry",
            "urlize", "its output follows Jinja2's URL-detection heuristics, which finetune4j does not reproduce",
            "wordwrap", "its output is Python's textwrap layout, which finetune4j does not reproduce");

    /** The filter set, by name. */
    static List<PyFilter> all() {
        List<PyFilter> f = new ArrayList<>();
        f.add(new PyFilter("attr", PyFilters::attr));
        f.add(new PyFilter("batch", PyFilters::batch));
        f.add(new PyFilter("slice", PyFilters::slice));
        f.add(new PyFilter("groupby", PyFilters::groupby));
        f.add(new PyFilter("truncate", PyFilters::truncate));
        f.add(new PyFilter("filesizeformat", PyFilters::filesizeformat));
        f.add(new PyFilter("urlencode", PyFilters::urlencode));
        f.add(new PyFilter("xmlattr", PyFilters::xmlattr));
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
     * Stands in for a Jinjava filter that Jinja2 lacks (using it fails as an unknown filter does in
     * Jinja2) or for one of {@link #NOT_REPRODUCED} (fails naming the reason), instead of
     * rendering differently from transformers.
     */
    record Unsupported(String name) implements Filter {
        @Override
        public String getName() {
            return name;
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            throw error();
        }

        /** The error a use of this filter raises (the parser raises it as soon as it reads the name). */
        PyErrors.Abort error() {
            String why = NOT_REPRODUCED.get(name);
            if (why != null) {
                return PyErrors.abort(TemplateException.Kind.SYNTAX, "The Jinja2 filter '" + name + "' is not supported: " + why + ".",
                        "render the value in the code that builds the messages instead");
            }
            return PyErrors.abort(TemplateException.Kind.SYNTAX, "No filter named '" + name + "'.", null);
        }
    }

    // ------------------------------------------------------------------ sequences

    /**
     * Jinja2 do_attr: Python getattr only, no item lookup ({@code {'a': 1}|attr('a')} is
     * undefined); of the values templates see, only a named tuple's fields (groupby's
     * {@code grouper}, {@code list}) are attributes. A method name fails: bound methods are not
     * values here.
     */
    private static Object attr(Object v, List<Object> a, Map<String, Object> k, JinjavaInterpreter i) {
        String name = PyRepr.str(arg(a, k, 0, "name", ""));
        if (v instanceof PyTuple t && t.field(name) != null) return t.field(name);
        if (PyMethods.isMethod(v, name)) {
            throw PyErrors.abort(TemplateException.Kind.RUNTIME, "attr('" + name + "') of a " + PyValues.typeName(v)
                    + " is a bound method, which finetune4j does not hand to templates", "call the method directly: x." + name + "()");
        }
        return null;
    }

    /** Jinja2 do_batch: lists of {@code linecount} items, the last padded with {@code fill_with} when given. */
    private static Object batch(Object v, List<Object> a, Map<String, Object> k, JinjavaInterpreter i) {
        long n = intArg(arg(a, k, 0, "linecount", null), "linecount");
        Object fill = arg(a, k, 1, "fill_with", null);
        List<Object> out = new ArrayList<>(), tmp = new ArrayList<>();
        for (Object o : iterate(v)) {
            if (tmp.size() == n) {
                out.add(List.copyOf(tmp));
                tmp.clear();
            }
            tmp.add(o);
        }
        if (!tmp.isEmpty()) {
            if (fill != null && fill != PyNone.NONE) while (tmp.size() < n) tmp.add(fill);
            out.add(List.copyOf(tmp));
        }
        return List.copyOf(out);
    }

    /** Jinja2 do_slice: {@code slices} columns, the first {@code len % slices} one longer; the others padded when asked. */
    private static Object slice(Object v, List<Object> a, Map<String, Object> k, JinjavaInterpreter i) {
        long slices = intArg(arg(a, k, 0, "slices", null), "slices");
        Object fill = arg(a, k, 1, "fill_with", null);
        List<Object> seq = iterate(v);
        if (slices <= 0) throw PyErrors.valueError("slices must be a positive number, got " + slices);
        int per = (int) (seq.size() / slices), extra = (int) (seq.size() % slices), offset = 0;
        List<Object> out = new ArrayList<>();
        for (int s = 0; s < slices; s++) {
            int start = offset + s * per;
            if (s < extra) offset++;
            int end = offset + (s + 1) * per;
            List<Object> tmp = new ArrayList<>(seq.subList(start, end));
            if (fill != null && fill != PyNone.NONE && s >= extra) tmp.add(fill);
            out.add(List.copyOf(tmp));
        }
        return List.copyOf(out);
    }

    /**
     * Jinja2 do_groupby: sorted by the attribute (lower-cased strings unless
     * {@code case_sensitive}), consecutive equal keys grouped; each group a named tuple
     * {@code (grouper, list)} whose grouper is the first item's real value ({@code default} when
     * the attribute is missing).
     */
    private static Object groupby(Object v, List<Object> a, Map<String, Object> k, JinjavaInterpreter i) {
        String attr = PyRepr.str(arg(a, k, 0, "attribute", ""));
        Object dflt = arg(a, k, 1, "default", null);
        boolean cs = PyValues.truthy(arg(a, k, 2, "case_sensitive", false));
        java.util.function.UnaryOperator<Object> value = o -> {
            Object x = attribute(o, attr);
            return x == null && dflt != null ? dflt : x;
        };
        List<Object> items = new ArrayList<>(iterate(v));
        items.sort((x, y) -> PyOps.compare(sortKey(value.apply(x), cs), sortKey(value.apply(y), cs), "<"));
        List<Object> out = new ArrayList<>();
        List<Object> group = new ArrayList<>();
        Object key = null;
        for (Object o : items) {
            Object kk = sortKey(value.apply(o), cs);
            if (!group.isEmpty() && !PyOps.eq(kk, key)) {
                out.add(PyTuple.named(GROUP_FIELDS, value.apply(group.get(0)), List.copyOf(group)));
                group.clear();
            }
            key = kk;
            group.add(o);
        }
        if (!group.isEmpty()) out.add(PyTuple.named(GROUP_FIELDS, value.apply(group.get(0)), List.copyOf(group)));
        return List.copyOf(out);
    }

    private static final List<String> GROUP_FIELDS = List.of("grouper", "list");

    // ------------------------------------------------------------------ strings

    /**
     * Jinja2 do_truncate: strings up to {@code length + leeway} (leeway 5) unchanged, else cut to
     * {@code length - len(end)} code points (at the last space unless {@code killwords}) plus {@code end}.
     */
    private static Object truncate(Object v, List<Object> a, Map<String, Object> k, JinjavaInterpreter i) {
        if (!PyValues.isString(v)) throw PyErrors.typeError("object of type '" + PyValues.typeName(v) + "' has no len()");
        String s = PyValues.str(v);
        long length = intArg(arg(a, k, 0, "length", 255L), "length");
        boolean killwords = PyValues.truthy(arg(a, k, 1, "killwords", false));
        String end = PyRepr.str(arg(a, k, 2, "end", "..."));
        Object lw = arg(a, k, 3, "leeway", null);
        long leeway = lw == null || lw == PyNone.NONE ? 5 : intArg(lw, "leeway");
        int endLen = PyStrings.length(end);
        if (length < endLen) throw PyErrors.abort(TemplateException.Kind.RUNTIME,
                "AssertionError: expected length >= " + endLen + ", got " + length, null);
        if (leeway < 0) throw PyErrors.abort(TemplateException.Kind.RUNTIME, "AssertionError: expected leeway >= 0, got " + leeway, null);
        if (PyStrings.length(s) <= length + leeway) return s;
        String head = PyValues.str(PyOps.slice(s, PyNone.NONE, length - endLen, PyNone.NONE));
        if (killwords) return head + end;
        int space = head.lastIndexOf(' ');
        return (space < 0 ? head : head.substring(0, space)) + end;
    }

    /**
     * Jinja2 do_filesizeformat: "1 Byte", "N Bytes" below the base, else one decimal (Python's
     * round-half-even of the exact value) with kB, MB, ... (base 1000) or KiB, MiB, ... (binary).
     */
    private static Object filesizeformat(Object v, List<Object> a, Map<String, Object> k, JinjavaInterpreter i) {
        boolean binary = PyValues.truthy(arg(a, k, 0, "binary", false));
        double bytes = pyFloat(v);
        int base = binary ? 1024 : 1000;
        String[] prefixes = binary
                ? new String[]{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"}
                : new String[]{"kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
        if (bytes == 1) return "1 Byte";
        if (bytes < base) return new BigDecimal(bytes).toBigInteger() + " Bytes";     // int(bytes): toward zero
        double unit = 0;
        String prefix = null;
        for (int n = 0; n < prefixes.length; n++) {
            unit = new BigDecimal(BigInteger.valueOf(base).pow(n + 2)).doubleValue();   // float(base ** (n + 2))
            prefix = prefixes[n];
            if (bytes < unit) break;
        }
        return new BigDecimal(base * bytes / unit).setScale(1, RoundingMode.HALF_EVEN).toPlainString() + " " + prefix;
    }

    /** Python float() of a number or a numeric string. */
    private static double pyFloat(Object v) {
        if (v instanceof Boolean b) return b ? 1 : 0;
        if (v instanceof Number n) return n instanceof BigInteger b ? b.doubleValue() : n.doubleValue();
        if (PyValues.isString(v)) {
            Object d = toFloat(v, List.of(), Map.of("default", PyNone.NONE), null);
            if (d instanceof Double x) return x;
            throw PyErrors.valueError("could not convert string to float: " + PyRepr.repr(v));
        }
        throw PyErrors.typeError("float() argument must be a string or a real number, not '" + PyValues.typeName(v) + "'");
    }

    /**
     * Jinja2 do_urlencode: a string (or any non-iterable) percent-encoded as UTF-8 with '/' kept; a
     * dict or a sequence of pairs as a query string, {@code key=value} joined by '&', spaces as '+'.
     */
    private static Object urlencode(Object v, List<Object> a, Map<String, Object> k, JinjavaInterpreter i) {
        if (PyValues.isString(v) || !(v instanceof Map<?, ?> || v instanceof Collection<?>)) return urlQuote(v, false);
        List<?> pairs = v instanceof Map<?, ?> m ? List.copyOf(((Map<?, ?>) m).entrySet()) : List.copyOf((Collection<?>) v);
        StringBuilder sb = new StringBuilder();
        for (Object p : pairs) {
            Object key, val;
            if (p instanceof Map.Entry<?, ?> e) {
                key = e.getKey();
                val = e.getValue();
            } else if (p instanceof List<?> l && l.size() == 2) {
                key = l.get(0);
                val = l.get(1);
            } else {
                throw PyErrors.valueError("urlencode: expected key/value pairs, got " + PyRepr.repr(p));
            }
            if (!sb.isEmpty()) sb.append('&');
            sb.append(urlQuote(key, true)).append('=').append(urlQuote(val, true));
        }
        return sb.toString();
    }

    /** Jinja2 url_quote: urllib's quote_from_bytes of str(obj) in UTF-8 ('/' safe unless for a query string). */
    private static String urlQuote(Object o, boolean forQuery) {
        byte[] bytes = PyRepr.str(o).getBytes(java.nio.charset.StandardCharsets.UTF_8);
        StringBuilder sb = new StringBuilder();
        for (byte b : bytes) {
            int c = b & 0xFF;
            boolean safe = c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
                    || c == '_' || c == '.' || c == '-' || c == '~' || (c == '/' && !forQuery);
            if (safe) sb.append((char) c);
            else if (c == ' ' && forQuery) sb.append('+');
            else sb.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
                        .append(Character.toUpperCase(Character.forDigit(c & 0xF, 16)));
        }
        return sb.toString();
    }

    /**
     * Jinja2 do_xmlattr: {@code key="value"} pairs (both escaped) of the defined, non-None values,
     * joined by spaces, with a leading space ({@code autospace}); a key with whitespace, '/', '>'
     * or '=' is an error.
     */
    private static Object xmlattr(Object v, List<Object> a, Map<String, Object> k, JinjavaInterpreter i) {
        if (!(v instanceof Map<?, ?> m)) throw PyErrors.typeError("'" + PyValues.typeName(v) + "' object has no attribute 'items'");
        boolean autospace = PyValues.truthy(arg(a, k, 0, "autospace", true));
        List<String> items = new ArrayList<>();
        for (Map.Entry<?, ?> e : m.entrySet()) {
            Object val = e.getValue();
            if (val == null || val == PyNone.NONE) continue;
            String key = PyRepr.str(e.getKey());
            if (Pattern.compile("[ \\t\\n\\r\\f\\x0B/>=]").matcher(key).find()) {
                throw PyErrors.valueError("Invalid character in attribute name: " + PyRepr.repr(key));
            }
            items.add(escape(key) + "=\"" + escape(val) + "\"");
        }
        String rv = String.join(" ", items);
        return autospace && !rv.isEmpty() ? " " + rv : rv;
    }

    private static long intArg(Object o, String name) {
        if (o == null || !PyValues.isInt(o)) {
            throw PyErrors.typeError("'" + name + "' must be an integer, got " + (o == null ? "nothing" : PyValues.typeName(o)));
        }
        return ((Number) o).longValue();
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
