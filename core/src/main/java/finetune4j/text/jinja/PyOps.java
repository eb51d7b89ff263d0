package finetune4j.text.jinja;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Python's operators on template values: {@code + - * / // % **}, {@code == < in}, unary minus,
 * subscripts and slices. Jinjava's EL operators coerce types the Java way ({@code 'abc' != false}
 * is false there because 'abc' coerces to false; {@code '1' == 1} is true; {@code -7 % 3} is -1),
 * so the parser routes every operator here instead.
 */
final class PyOps {
    private PyOps() {
    }

    // ------------------------------------------------------------------ numbers

    /** Python int of a bool/int value, as BigInteger. */
    private static BigInteger big(Object v) {
        if (v instanceof BigInteger b) return b;
        if (v instanceof Boolean b) return b ? BigInteger.ONE : BigInteger.ZERO;
        return BigInteger.valueOf(((Number) v).longValue());
    }

    private static double dbl(Object v) {
        if (v instanceof Boolean b) return b ? 1.0 : 0.0;
        return ((Number) v).doubleValue();
    }

    private static boolean intLike(Object v) {
        return PyValues.isInt(v) || v instanceof Boolean;
    }

    private static Object num(BigInteger b) {
        return PyValues.normalize(b);
    }

    private static String opError(String op, Object a, Object b) {
        return "unsupported operand type(s) for " + op + ": '" + PyValues.typeName(a) + "' and '" + PyValues.typeName(b) + "'";
    }

    private static void requireDefined(Object a, Object b, String op) {
        if (a == null || b == null) {
            throw PyErrors.undefined("an undefined value was used with '" + op + "'");
        }
    }

    static Object add(Object a, Object b) {
        requireDefined(a, b, "+");
        if (PyValues.isNumber(a) && PyValues.isNumber(b)) {
            if (intLike(a) && intLike(b)) return num(big(a).add(big(b)));
            return dbl(a) + dbl(b);
        }
        if (PyValues.isString(a)) {
            if (!PyValues.isString(b)) {
                throw PyErrors.typeError("can only concatenate str (not \"" + PyValues.typeName(b) + "\") to str");
            }
            String x = PyValues.str(a), y = PyValues.str(b);
            RenderState.current().checkSize((long) x.length() + y.length(), "a string");
            return x + y;
        }
        if (a instanceof List<?> la) {
            if (!(b instanceof List<?> lb) || (a instanceof PyTuple) != (b instanceof PyTuple)) {
                String t = PyValues.typeName(a);
                throw PyErrors.typeError("can only concatenate " + t + " (not \"" + PyValues.typeName(b) + "\") to " + t);
            }
            RenderState.current().checkSize((long) la.size() + lb.size(), "a list");
            List<Object> out = new ArrayList<>(la);
            out.addAll(lb);
            return a instanceof PyTuple ? PyTuple.of(out) : List.copyOf(nonNull(out));
        }
        throw PyErrors.typeError(opError("+", a, b));
    }

    /** List.copyOf refuses null; undefined elements cannot occur in template lists, keep it that way. */
    private static List<Object> nonNull(List<Object> l) {
        for (int i = 0; i < l.size(); i++) if (l.get(i) == null) l.set(i, PyNone.NONE);
        return l;
    }

    static Object sub(Object a, Object b) {
        requireDefined(a, b, "-");
        if (PyValues.isNumber(a) && PyValues.isNumber(b)) {
            if (intLike(a) && intLike(b)) return num(big(a).subtract(big(b)));
            return dbl(a) - dbl(b);
        }
        throw PyErrors.typeError(opError("-", a, b));
    }

    static Object mul(Object a, Object b) {
        requireDefined(a, b, "*");
        if (PyValues.isNumber(a) && PyValues.isNumber(b)) {
            if (intLike(a) && intLike(b)) return num(big(a).multiply(big(b)));
            return dbl(a) * dbl(b);
        }
        if (intLike(a) && (PyValues.isString(b) || b instanceof List)) return mul(b, a);
        if (PyValues.isString(a) && intLike(b)) {
            String s = PyValues.str(a);
            long n = Math.max(0, big(b).min(BigInteger.valueOf(Integer.MAX_VALUE)).longValue());
            RenderState.current().checkSize(s.length() * n, "a string");
            return s.repeat((int) n);
        }
        if (a instanceof List<?> l && intLike(b)) {
            long n = Math.max(0, big(b).min(BigInteger.valueOf(Integer.MAX_VALUE)).longValue());
            RenderState.current().checkSize(l.size() * n, "a list");
            List<Object> out = new ArrayList<>();
            for (long i = 0; i < n; i++) out.addAll(l);
            return a instanceof PyTuple ? PyTuple.of(out) : List.copyOf(nonNull(out));
        }
        throw PyErrors.typeError("can't multiply sequence by non-int of type '" + PyValues.typeName(b) + "'");
    }

    static Object div(Object a, Object b) {
        requireDefined(a, b, "/");
        if (!PyValues.isNumber(a) || !PyValues.isNumber(b)) throw PyErrors.typeError(opError("/", a, b));
        double y = dbl(b);
        if (y == 0.0) throw PyErrors.abort(TemplateException.Kind.RUNTIME, "ZeroDivisionError: division by zero", null);
        if (intLike(a) && intLike(b) && (big(a).bitLength() > 53 || big(b).bitLength() > 53)) {
            return new java.math.BigDecimal(big(a)).divide(new java.math.BigDecimal(big(b)),
                    new java.math.MathContext(40)).doubleValue();
        }
        return dbl(a) / y;                                   // exact operands: IEEE division rounds correctly
    }

    static Object floorDiv(Object a, Object b) {
        requireDefined(a, b, "//");
        if (!PyValues.isNumber(a) || !PyValues.isNumber(b)) throw PyErrors.typeError(opError("//", a, b));
        if (dbl(b) == 0.0) {
            throw PyErrors.abort(TemplateException.Kind.RUNTIME, "ZeroDivisionError: integer division or modulo by zero", null);
        }
        if (intLike(a) && intLike(b)) {
            BigInteger[] qr = big(a).divideAndRemainder(big(b));
            BigInteger q = qr[0];
            if (qr[1].signum() != 0 && (qr[1].signum() != big(b).signum())) q = q.subtract(BigInteger.ONE);
            return num(q);
        }
        return Math.floor(dbl(a) / dbl(b));
    }

    static Object mod(Object a, Object b) {
        requireDefined(a, b, "%");
        if (PyValues.isString(a)) return PyFormat.percent(PyValues.str(a), b);
        if (!PyValues.isNumber(a) || !PyValues.isNumber(b)) throw PyErrors.typeError(opError("%", a, b));
        if (dbl(b) == 0.0) {
            throw PyErrors.abort(TemplateException.Kind.RUNTIME, "ZeroDivisionError: integer division or modulo by zero", null);
        }
        if (intLike(a) && intLike(b)) {
            BigInteger m = big(b);
            BigInteger r = big(a).mod(m.abs());
            if (m.signum() < 0 && r.signum() != 0) r = r.add(m);
            return num(r);
        }
        double x = dbl(a), y = dbl(b);
        double r = x % y;
        if (r != 0 && ((r < 0) != (y < 0))) r += y;
        return r;
    }

    static Object pow(Object a, Object b) {
        requireDefined(a, b, "**");
        if (!PyValues.isNumber(a) || !PyValues.isNumber(b)) throw PyErrors.typeError(opError("**", a, b));
        if (intLike(a) && intLike(b) && big(b).signum() >= 0) {
            BigInteger e = big(b);
            if (e.bitLength() > 31 || (long) e.intValue() * Math.max(1, big(a).bitLength()) > 1_000_000) {
                throw PyErrors.limit("the result of ** would be too large", null);
            }
            return num(big(a).pow(e.intValue()));
        }
        return Math.pow(dbl(a), dbl(b));
    }

    static Object neg(Object a) {
        if (a == null) throw PyErrors.undefined("an undefined value was negated");
        if (intLike(a)) return num(big(a).negate());
        if (PyValues.isFloat(a)) return -dbl(a);
        throw PyErrors.typeError("bad operand type for unary -: '" + PyValues.typeName(a) + "'");
    }

    // ------------------------------------------------------------------ comparisons

    /** Python {@code a == b} (Jinja2's Undefined equals only Undefined). */
    static boolean eq(Object a, Object b) {
        if (a == null || b == null) return a == b;
        if (PyValues.isNumber(a) && PyValues.isNumber(b)) {
            if (intLike(a) && intLike(b)) return big(a).equals(big(b));
            return dbl(a) == dbl(b);
        }
        if (PyValues.isString(a) && PyValues.isString(b)) return PyValues.str(a).equals(PyValues.str(b));
        if (a instanceof List<?> la && b instanceof List<?> lb) {
            if ((a instanceof PyTuple) != (b instanceof PyTuple) || la.size() != lb.size()) return false;
            for (int i = 0; i < la.size(); i++) if (!eq(la.get(i), lb.get(i))) return false;
            return true;
        }
        if (a instanceof Map<?, ?> ma && b instanceof Map<?, ?> mb) {
            if (ma.size() != mb.size()) return false;
            for (Map.Entry<?, ?> e : ma.entrySet()) {
                if (!mb.containsKey(e.getKey()) || !eq(e.getValue(), mb.get(e.getKey()))) return false;
            }
            return true;
        }
        return Objects.equals(a, b);
    }

    /** Python's three-way order for {@code < <= > >=}; TypeError between unrelated types. */
    static int compare(Object a, Object b, String op) {
        if (PyValues.isNumber(a) && PyValues.isNumber(b)) {
            if (intLike(a) && intLike(b)) return big(a).compareTo(big(b));
            return Double.compare(dbl(a), dbl(b)) == 0 ? 0 : (dbl(a) < dbl(b) ? -1 : 1);
        }
        if (PyValues.isString(a) && PyValues.isString(b)) return compareCodePoints(PyValues.str(a), PyValues.str(b));
        if (a instanceof List<?> la && b instanceof List<?> lb) {
            int n = Math.min(la.size(), lb.size());
            for (int i = 0; i < n; i++) {
                if (!eq(la.get(i), lb.get(i))) return compare(la.get(i), lb.get(i), op);
            }
            return Integer.compare(la.size(), lb.size());
        }
        if (a == null || b == null) throw PyErrors.undefined("an undefined value was compared with '" + op + "'");
        throw PyErrors.typeError("'" + op + "' not supported between instances of '" + PyValues.typeName(a)
                + "' and '" + PyValues.typeName(b) + "'");
    }

    static int compareCodePoints(String x, String y) {
        int i = 0, j = 0;
        while (i < x.length() && j < y.length()) {
            int a = x.codePointAt(i), b = y.codePointAt(j);
            if (a != b) return Integer.compare(a, b);
            i += Character.charCount(a);
            j += Character.charCount(b);
        }
        return Integer.compare(x.length() - i, y.length() - j);
    }

    /** Python {@code item in container}. */
    static boolean contains(Object container, Object item) {
        if (container == null) return false;                 // Undefined iterates as empty
        if (PyValues.isString(container)) {
            if (!PyValues.isString(item)) {
                throw PyErrors.typeError("'in <string>' requires string as left operand, not " + PyValues.typeName(item));
            }
            return PyValues.str(container).contains(PyValues.str(item));
        }
        if (container instanceof Map<?, ?> m) {
            for (Object k : m.keySet()) if (eq(k, item)) return true;
            return false;
        }
        if (container instanceof Collection<?> c) {
            for (Object o : c) if (eq(o, item)) return true;
            return false;
        }
        throw PyErrors.typeError("argument of type '" + PyValues.typeName(container) + "' is not iterable");
    }

    // ------------------------------------------------------------------ subscripts

    /**
     * {@code obj[key]} as Jinja2's sandboxed getitem: a missing key or index gives undefined
     * (null), never an exception.
     */
    static Object getItem(Object obj, Object key) {
        if (obj instanceof Map<?, ?> m) {
            if (PyValues.isString(key)) {
                Object v = m.get(PyValues.str(key));
                return v != null ? v : null;
            }
            for (Map.Entry<?, ?> e : m.entrySet()) if (eq(e.getKey(), key)) return e.getValue();
            return null;
        }
        if (obj instanceof com.hubspot.jinjava.objects.collections.PyList pl) obj = pl.toList();   // Jinjava's wrapper of a set/loop variable
        if (obj instanceof PyTuple t && PyValues.isString(key)) return t.field(PyValues.str(key));
        if (obj instanceof List<?> l && intLike(key)) {
            long i = big(key).longValue();
            if (i < 0) i += l.size();
            return i >= 0 && i < l.size() ? l.get((int) i) : null;
        }
        if (PyValues.isString(obj) && intLike(key)) {
            String s = PyValues.str(obj);
            int n = PyStrings.length(s);
            long i = big(key).longValue();
            if (i < 0) i += n;
            if (i < 0 || i >= n) return null;
            int off = PyStrings.offset(s, (int) i);
            return new String(Character.toChars(s.codePointAt(off)));
        }
        return null;
    }

    /** {@code obj[start:stop:step]} for lists and strings (code points), Python's slice rules. */
    static Object slice(Object obj, Object start, Object stop, Object step) {
        if (obj == null) throw PyErrors.undefined("an undefined value was sliced");
        long st = sliceArg(step, 1);
        if (st == 0) throw PyErrors.valueError("slice step cannot be zero");
        if (PyValues.isString(obj)) {
            int[] cps = PyStrings.codePoints(PyValues.str(obj));
            int[] idx = sliceIndices(cps.length, start, stop, st);
            int[] out = new int[idx.length];
            for (int i = 0; i < idx.length; i++) out[i] = cps[idx[i]];
            return new String(out, 0, out.length);
        }
        if (obj instanceof List<?> l) {
            int[] idx = sliceIndices(l.size(), start, stop, st);
            List<Object> out = new ArrayList<>(idx.length);
            for (int i : idx) out.add(l.get(i));
            return obj instanceof PyTuple ? PyTuple.of(out) : List.copyOf(nonNull(out));
        }
        throw PyErrors.typeError("'" + PyValues.typeName(obj) + "' object is not subscriptable");
    }

    private static long sliceArg(Object v, long dflt) {
        if (v == null || v == PyNone.NONE) return dflt;
        if (!intLike(v)) throw PyErrors.typeError("slice indices must be integers or None");
        BigInteger b = big(v);
        if (b.bitLength() > 62) return b.signum() > 0 ? Long.MAX_VALUE / 4 : -(Long.MAX_VALUE / 4);
        return b.longValue();
    }

    /** The indices a slice selects (PySlice_AdjustIndices). */
    private static int[] sliceIndices(int len, Object startV, Object stopV, long step) {
        long start, stop;
        if (step > 0) {
            start = clamp(sliceArg(startV, 0), len, 0, len);
            stop = clamp(sliceArg(stopV, len), len, 0, len);
        } else {
            start = clamp(sliceArg(startV, len - 1), len, -1, len - 1);
            stop = clamp(sliceArg(stopV, -len - 1), len, -1, len - 1);
        }
        List<Integer> out = new ArrayList<>();
        if (step > 0) for (long i = start; i < stop; i += step) out.add((int) i);
        else for (long i = start; i > stop; i += step) out.add((int) i);
        int[] r = new int[out.size()];
        for (int i = 0; i < r.length; i++) r[i] = out.get(i);
        return r;
    }

    private static long clamp(long i, int len, long lo, long hi) {
        if (i < 0) {
            i += len;
            if (i < 0) i = lo;
        } else if (i > hi) {
            i = hi;
        }
        return i;
    }
}
