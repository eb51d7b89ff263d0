package finetune4j.text.jinja;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The Python methods of {@code str}, {@code dict} and {@code list} a template may call
 * ({@code content.strip()}, {@code content.split('</think>')[-1]}, {@code d.items()}...). Java
 * {@link String} methods of the same name differ ({@code split} takes a regex, {@code strip} a
 * different whitespace set), and Jinjava only offers the Java ones.
 */
final class PyMethods {
    private PyMethods() {
    }

    private static final java.util.Set<String> STR_METHODS = java.util.Set.of("capitalize", "casefold", "center", "count",
            "encode", "endswith", "expandtabs", "find", "format", "format_map", "index", "isalnum", "isalpha", "isascii",
            "isdecimal", "isdigit", "isidentifier", "islower", "isnumeric", "isprintable", "isspace", "istitle", "isupper",
            "join", "ljust", "lower", "lstrip", "maketrans", "partition", "removeprefix", "removesuffix", "replace", "rfind",
            "rindex", "rjust", "rpartition", "rsplit", "rstrip", "split", "splitlines", "startswith", "strip", "swapcase",
            "title", "translate", "upper", "zfill");
    private static final java.util.Set<String> DICT_METHODS = java.util.Set.of("clear", "copy", "fromkeys", "get", "items",
            "keys", "pop", "popitem", "setdefault", "update", "values");
    private static final java.util.Set<String> LIST_METHODS = java.util.Set.of("append", "clear", "copy", "count", "extend",
            "index", "insert", "pop", "remove", "reverse", "sort");

    /** Whether {@code name} is a method of Python's str, dict or list for a value of that type. */
    static boolean isMethod(Object v, String name) {
        if (PyValues.isString(v)) return STR_METHODS.contains(name);
        if (v instanceof Map<?, ?>) return DICT_METHODS.contains(name);
        if (v instanceof List<?>) return LIST_METHODS.contains(name);
        return false;
    }

    static Object str(String s, String name, List<Object> a, Map<String, Object> kw) {
        return switch (name) {
            case "strip" -> PyStrings.strip(s, optStr(a, 0, kw, "chars"), true, true);
            case "lstrip" -> PyStrings.strip(s, optStr(a, 0, kw, "chars"), true, false);
            case "rstrip" -> PyStrings.strip(s, optStr(a, 0, kw, "chars"), false, true);
            case "split" -> PyStrings.split(s, optStr(a, 0, kw, "sep"), optInt(a, 1, kw, "maxsplit", -1));
            case "rsplit" -> PyStrings.rsplit(s, optStr(a, 0, kw, "sep"), optInt(a, 1, kw, "maxsplit", -1));
            case "splitlines" -> PyStrings.splitlines(s, a.size() > 0 && PyValues.truthy(a.get(0)));
            case "startswith" -> affix(s, arg(a, 0, name), true);
            case "endswith" -> affix(s, arg(a, 0, name), false);
            case "upper" -> PyStrings.upper(s);
            case "lower" -> PyStrings.lower(s);
            case "title" -> PyStrings.title(s);
            case "capitalize" -> PyStrings.capitalize(s);
            case "swapcase" -> PyStrings.swapcase(s);
            case "casefold" -> PyStrings.lower(s);
            case "replace" -> {
                String r = PyStrings.replace(s, strArg(a, 0, name), strArg(a, 1, name), optInt(a, 2, kw, "count", -1));
                RenderState.current().checkSize(r.length(), "a string");
                yield r;
            }
            case "find" -> (long) PyStrings.find(s, strArg(a, 0, name), false);
            case "rfind" -> (long) PyStrings.find(s, strArg(a, 0, name), true);
            case "index", "rindex" -> {
                int k = PyStrings.find(s, strArg(a, 0, name), name.equals("rindex"));
                if (k < 0) throw PyErrors.valueError("substring not found");
                yield (long) k;
            }
            case "count" -> (long) PyStrings.count(s, strArg(a, 0, name));
            case "join" -> PyFilters.join(arg(a, 0, name), s, null);
            case "isdigit", "isdecimal", "isnumeric" -> PyStrings.isDigit(s);
            case "isalpha" -> PyStrings.isAlpha(s);
            case "isalnum" -> PyStrings.isAlnum(s);
            case "isspace" -> PyStrings.isSpaceStr(s);
            case "isupper" -> PyStrings.isUpper(s);
            case "islower" -> PyStrings.isLower(s);
            case "removeprefix" -> s.startsWith(strArg(a, 0, name)) ? s.substring(strArg(a, 0, name).length()) : s;
            case "removesuffix" -> {
                String suf = strArg(a, 0, name);
                yield !suf.isEmpty() && s.endsWith(suf) ? s.substring(0, s.length() - suf.length()) : s;
            }
            case "zfill" -> {
                int w = (int) Math.min(intArg(a, 0, name), Integer.MAX_VALUE);
                int n = PyStrings.length(s);
                if (w <= n) yield s;
                RenderState.current().checkSize(w, "a string");
                boolean sign = !s.isEmpty() && (s.charAt(0) == '-' || s.charAt(0) == '+');
                yield sign ? s.charAt(0) + "0".repeat(w - n) + s.substring(1) : "0".repeat(w - n) + s;
            }
            case "partition", "rpartition" -> {
                String sep = strArg(a, 0, name);
                int k = name.equals("partition") ? s.indexOf(sep) : s.lastIndexOf(sep);
                if (k < 0) yield name.equals("partition") ? new PyTuple(s, "", "") : new PyTuple("", "", s);
                yield new PyTuple(s.substring(0, k), sep, s.substring(k + sep.length()));
            }
            case "format" -> PyFormat.format(s, a, kw);
            case "center", "ljust", "rjust" -> {
                int w = (int) Math.min(intArg(a, 0, name), Integer.MAX_VALUE);
                String fill = a.size() > 1 ? strArg(a, 1, name) : " ";
                int n = PyStrings.length(s);
                if (w <= n) yield s;
                RenderState.current().checkSize(w, "a string");
                int pad = w - n;
                yield switch (name) {
                    case "ljust" -> s + fill.repeat(pad);
                    case "rjust" -> fill.repeat(pad) + s;
                    default -> {
                        int left = pad / 2 + (pad & w & 1);
                        yield fill.repeat(left) + s + fill.repeat(pad - left);
                    }
                };
            }
            default -> throw PyErrors.undefined("'str object' has no attribute '" + name + "'");
        };
    }

    static Object dict(Map<?, ?> m, String name, List<Object> a) {
        return switch (name) {
            case "items" -> {
                List<Object> out = new ArrayList<>();
                for (Map.Entry<?, ?> e : m.entrySet()) out.add(new PyTuple(e.getKey(), e.getValue()));
                yield List.copyOf(out);
            }
            case "keys" -> List.copyOf(m.keySet());
            case "values" -> {
                List<Object> out = new ArrayList<>();
                for (Object v : m.values()) out.add(v == null ? PyNone.NONE : v);
                yield List.copyOf(out);
            }
            case "get" -> {
                Object v = PyOps.getItem(m, arg(a, 0, name));
                yield v != null ? v : (a.size() > 1 ? a.get(1) : PyNone.NONE);
            }
            case "copy" -> m;
            default -> throw PyErrors.undefined("'dict object' has no attribute '" + name + "'");
        };
    }

    static Object list(List<?> l, String name, List<Object> a) {
        return switch (name) {
            case "index" -> {
                Object x = arg(a, 0, name);
                for (int i = 0; i < l.size(); i++) if (PyOps.eq(l.get(i), x)) yield (long) i;
                throw PyErrors.valueError(PyRepr.repr(x) + " is not in list");
            }
            case "count" -> {
                Object x = arg(a, 0, name);
                long n = 0;
                for (Object o : l) if (PyOps.eq(o, x)) n++;
                yield n;
            }
            case "copy" -> l;
            default -> throw PyErrors.undefined("'" + PyValues.typeName(l) + " object' has no attribute '" + name + "'");
        };
    }

    // ------------------------------------------------------------------ argument helpers

    private static boolean affix(String s, Object arg, boolean prefix) {
        if (arg instanceof List<?> options) {
            for (Object o : options) if (affix(s, o, prefix)) return true;
            return false;
        }
        if (!PyValues.isString(arg)) {
            throw PyErrors.typeError((prefix ? "startswith" : "endswith")
                    + " first arg must be str or a tuple of str, not " + PyValues.typeName(arg));
        }
        String x = PyValues.str(arg);
        return prefix ? s.startsWith(x) : s.endsWith(x);
    }

    static Object arg(List<Object> a, int i, String method) {
        if (i >= a.size()) throw PyErrors.typeError(method + "() missing required argument " + (i + 1));
        return a.get(i);
    }

    private static String strArg(List<Object> a, int i, String method) {
        Object v = arg(a, i, method);
        if (!PyValues.isString(v)) throw PyErrors.typeError(method + "() argument " + (i + 1) + " must be str, not " + PyValues.typeName(v));
        return PyValues.str(v);
    }

    private static long intArg(List<Object> a, int i, String method) {
        Object v = arg(a, i, method);
        if (!PyValues.isInt(v)) throw PyErrors.typeError("'" + PyValues.typeName(v) + "' object cannot be interpreted as an integer");
        return ((Number) v).longValue();
    }

    private static String optStr(List<Object> a, int i, Map<String, Object> kw, String key) {
        Object v = i < a.size() ? a.get(i) : kw.get(key);
        if (v == null || v == PyNone.NONE) return null;
        if (!PyValues.isString(v)) throw PyErrors.typeError("argument must be str or None, not " + PyValues.typeName(v));
        return PyValues.str(v);
    }

    private static int optInt(List<Object> a, int i, Map<String, Object> kw, String key, int dflt) {
        Object v = i < a.size() ? a.get(i) : kw.get(key);
        if (v == null || v == PyNone.NONE) return dflt;
        if (!PyValues.isInt(v)) throw PyErrors.typeError("'" + PyValues.typeName(v) + "' object cannot be interpreted as an integer");
        return (int) Math.max(-1, Math.min(Integer.MAX_VALUE, ((Number) v).longValue()));
    }
}
