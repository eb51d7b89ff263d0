package finetune4j.text.jinja;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.exptest.ExpTest;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.function.BiPredicate;

/**
 * Jinja2's tests ({@code x is defined}, {@code x is string}, {@code n is divisibleby 3}...) over the
 * value model of {@link PyValues}. Jinjava's differ where None and undefined meet ({@code is none}
 * is true for an undefined value there) and in Python's type hierarchy ({@code True is number}).
 */
final class PyTests {
    private PyTests() {
    }

    /** A test taking the value and its arguments. */
    record PyTest(String name, BiPredicate<Object, Object[]> body) implements ExpTest {
        @Override
        public String getName() {
            return name;
        }

        @Override
        public boolean evaluate(Object var, JinjavaInterpreter interpreter, Object... args) {
            RenderState.checkCurrent();
            return body.test(var, args);
        }
    }

    /** Stands in for a Jinjava test that Jinja2 lacks: using it fails as an unknown test. */
    record Unsupported(String name) implements ExpTest {
        @Override
        public String getName() {
            return name;
        }

        @Override
        public boolean evaluate(Object var, JinjavaInterpreter interpreter, Object... args) {
            throw PyErrors.abort(TemplateException.Kind.SYNTAX, "No test named '" + name + "'.", null);
        }
    }

    static List<PyTest> all() {
        List<PyTest> t = new ArrayList<>();
        t.add(new PyTest("defined", (v, a) -> v != null));
        t.add(new PyTest("undefined", (v, a) -> v == null));
        t.add(new PyTest("none", (v, a) -> v == PyNone.NONE));
        t.add(new PyTest("string", (v, a) -> PyValues.isString(v)));
        t.add(new PyTest("mapping", (v, a) -> v instanceof Map));
        t.add(new PyTest("iterable", (v, a) -> v == null || PyValues.isString(v) || v instanceof Collection || v instanceof Map));
        t.add(new PyTest("sequence", (v, a) -> v == null || PyValues.isString(v) || v instanceof Collection || v instanceof Map));
        t.add(new PyTest("number", (v, a) -> PyValues.isNumber(v)));
        t.add(new PyTest("integer", (v, a) -> PyValues.isInt(v)));
        t.add(new PyTest("float", (v, a) -> PyValues.isFloat(v)));
        t.add(new PyTest("boolean", (v, a) -> v instanceof Boolean));
        t.add(new PyTest("true", (v, a) -> Boolean.TRUE.equals(v)));
        t.add(new PyTest("false", (v, a) -> Boolean.FALSE.equals(v)));
        t.add(new PyTest("callable", (v, a) -> v instanceof PyGlobal));
        t.add(new PyTest("odd", (v, a) -> intValue(v, "odd").testBit(0)));
        t.add(new PyTest("even", (v, a) -> !intValue(v, "even").testBit(0)));
        t.add(new PyTest("divisibleby", (v, a) -> PyOps.eq(PyOps.mod(v, arg(a, "divisibleby")), 0L)));
        t.add(new PyTest("lower", (v, a) -> PyStrings.isLower(PyRepr.str(v))));
        t.add(new PyTest("upper", (v, a) -> PyStrings.isUpper(PyRepr.str(v))));
        t.add(new PyTest("in", (v, a) -> PyOps.contains(arg(a, "in"), v)));
        t.add(new PyTest("sameas", (v, a) -> sameAs(v, arg(a, "sameas"))));
        t.add(new PyTest("escaped", (v, a) -> false));
        for (String n : List.of("eq", "equalto", "==")) t.add(new PyTest(n, (v, a) -> PyOps.eq(v, arg(a, n))));
        for (String n : List.of("ne", "!=")) t.add(new PyTest(n, (v, a) -> !PyOps.eq(v, arg(a, n))));
        for (String n : List.of("lt", "lessthan", "<")) t.add(new PyTest(n, (v, a) -> PyOps.compare(v, arg(a, n), "<") < 0));
        for (String n : List.of("le", "<=")) t.add(new PyTest(n, (v, a) -> PyOps.compare(v, arg(a, n), "<=") <= 0));
        for (String n : List.of("gt", "greaterthan", ">")) t.add(new PyTest(n, (v, a) -> PyOps.compare(v, arg(a, n), ">") > 0));
        for (String n : List.of("ge", ">=")) t.add(new PyTest(n, (v, a) -> PyOps.compare(v, arg(a, n), ">=") >= 0));
        return t;
    }

    private static Object arg(Object[] a, String test) {
        if (a.length == 0) throw PyErrors.typeError("test '" + test + "' needs an argument");
        return a[0];
    }

    private static BigInteger intValue(Object v, String test) {
        if (v instanceof Boolean b) return b ? BigInteger.ONE : BigInteger.ZERO;
        if (PyValues.isInt(v)) return v instanceof BigInteger b ? b : BigInteger.valueOf(((Number) v).longValue());
        if (PyValues.isFloat(v) && ((Number) v).doubleValue() == Math.rint(((Number) v).doubleValue())) {
            return BigInteger.valueOf((long) ((Number) v).doubleValue());
        }
        throw PyErrors.typeError("test '" + test + "' needs an integer, got " + PyValues.typeName(v));
    }

    /** Python's {@code is}: identity, which for our immutable values means same singleton or small int. */
    private static boolean sameAs(Object v, Object other) {
        if (v instanceof Boolean || other instanceof Boolean || v == PyNone.NONE || other == PyNone.NONE) {
            return v != null && v.equals(other);
        }
        if (v instanceof Long x && other instanceof Long y) return x.equals(y) && x >= -5 && x <= 256;
        return v == other;
    }
}
