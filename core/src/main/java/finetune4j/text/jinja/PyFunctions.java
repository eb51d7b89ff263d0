package finetune4j.text.jinja;

import com.hubspot.jinjava.el.ext.NamedParameter;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import com.hubspot.jinjava.objects.Namespace;

import java.lang.reflect.Method;
import java.time.LocalDateTime;
import java.time.format.TextStyle;
import java.time.temporal.IsoFields;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The globals a chat template can call: Jinja2's {@code range}, {@code dict}, {@code namespace}
 * and transformers' {@code raise_exception(message)} and {@code strftime_now(format)}. Static
 * because Jinjava binds functions as static methods; per-render state comes from {@link RenderState}.
 */
final class PyFunctions {
    private PyFunctions() {
    }

    static List<ELFunctionDefinition> all() {
        return List.of(
                function("raise_exception", "raiseException", Object.class),
                function("strftime_now", "strftimeNow", Object.class),
                function("range", "range", Object[].class),
                function("dict", "dict", Object[].class),
                function("namespace", "namespace", Object[].class));
    }

    /** A function bound to one of the static methods here (package-private, hence setAccessible). */
    static ELFunctionDefinition function(String name, String method, Class<?> param) {
        try {
            Method m = PyFunctions.class.getDeclaredMethod(method, param);
            m.setAccessible(true);
            return new ELFunctionDefinition("", name, m);
        } catch (NoSuchMethodException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Jinjava's function of the same local name, redirected to {@link #undefinedFunction}. */
    static ELFunctionDefinition undefined(ELFunctionDefinition original) {
        try {
            Method m = PyFunctions.class.getDeclaredMethod("undefinedFunction", Object[].class);
            m.setAccessible(true);
            return new ELFunctionDefinition(original.getNamespace(), original.getLocalName(), m);
        } catch (NoSuchMethodException e) {
            throw new IllegalStateException(e);
        }
    }

    /** transformers' raise_exception: aborts the render with the template's message. */
    static Object raiseException(Object message) {
        throw PyErrors.raised(PyRepr.str(message));
    }

    /** transformers' strftime_now: the current time (the render's clock) formatted like Python's strftime. */
    static Object strftimeNow(Object format) {
        RenderState.checkCurrent();
        if (!PyValues.isString(format)) throw PyErrors.typeError("strftime() argument 1 must be str, not " + PyValues.typeName(format));
        return strftime(RenderState.current().now(), PyValues.str(format));
    }

    /** Stands in for Jinjava-only functions (today, datetimeformat, type...): Jinja2 has no such global. */
    static Object undefinedFunction(Object... args) {
        throw PyErrors.undefined("this function is not a Jinja2 global and is not available to chat templates");
    }

    /** Jinja2's sandboxed range: at most {@link RenderLimits#maxRange()} items (OverflowError beyond). */
    static Object range(Object... args) {
        RenderState state = RenderState.current();
        state.check();
        long start = 0, stop, step = 1;
        for (Object a : args) {
            if (!PyValues.isInt(a) && !(a instanceof Boolean)) {
                throw PyErrors.typeError("'" + PyValues.typeName(a) + "' object cannot be interpreted as an integer");
            }
        }
        switch (args.length) {
            case 1 -> stop = num(args[0]);
            case 2 -> {
                start = num(args[0]);
                stop = num(args[1]);
            }
            case 3 -> {
                start = num(args[0]);
                stop = num(args[1]);
                step = num(args[2]);
            }
            default -> throw PyErrors.typeError("range expected at most 3 arguments, got " + args.length);
        }
        if (step == 0) throw PyErrors.valueError("range() arg 3 must not be zero");
        long n = step > 0 ? (stop > start ? (stop - start + step - 1) / step : 0) : (start > stop ? (start - stop - step - 1) / -step : 0);
        if (n > state.limits.maxRange()) {
            throw PyErrors.limit("OverflowError: Range too big. The sandbox blocks ranges larger than MAX_RANGE ("
                    + state.limits.maxRange() + ").", null);
        }
        List<Object> out = new ArrayList<>((int) n);
        for (long i = 0, v = start; i < n; i++, v += step) out.add(v);
        return List.copyOf(out);
    }

    private static long num(Object v) {
        return v instanceof Boolean b ? (b ? 1 : 0) : ((Number) v).longValue();
    }

    /** Jinja2's dict(**kwargs). */
    static Object dict(Object... args) {
        RenderState.checkCurrent();
        Map<String, Object> out = new LinkedHashMap<>();
        for (Object a : args) {
            if (a instanceof NamedParameter np) out.put(np.getName(), orNone(np.getValue()));
            else if (a instanceof Map<?, ?> m) m.forEach((k, v) -> out.put(PyRepr.str(k), orNone(v)));
            else throw PyErrors.typeError("dict() takes keyword arguments or a mapping");
        }
        return java.util.Collections.unmodifiableMap(out);
    }

    /** Jinja2's namespace(**kwargs): the one mutable object, for {@code {% set ns.x = ... %}}. */
    static Object namespace(Object... args) {
        RenderState.checkCurrent();
        Map<String, Object> init = new LinkedHashMap<>();
        for (Object a : args) {
            if (a instanceof NamedParameter np) init.put(np.getName(), orNone(np.getValue()));
            else if (a instanceof Map<?, ?> m) m.forEach((k, v) -> init.put(PyRepr.str(k), orNone(v)));
            else throw PyErrors.typeError("namespace() takes keyword arguments or a mapping");
        }
        return new Namespace(init);
    }

    private static Object orNone(Object v) {
        return v == null ? PyNone.NONE : v;
    }

    /** Python's time.strftime in the C locale for the directives chat templates use. */
    static String strftime(LocalDateTime t, String fmt) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < fmt.length(); i++) {
            char c = fmt.charAt(i);
            if (c != '%' || i + 1 >= fmt.length()) {
                sb.append(c);
                continue;
            }
            char d = fmt.charAt(++i);
            boolean noPad = false;
            if (d == '-' && i + 1 < fmt.length()) {          // glibc: %-d, %-m, %-H ... (no padding)
                noPad = true;
                d = fmt.charAt(++i);
            }
            String two = noPad ? "%d" : "%02d";
            switch (d) {
                case 'a' -> sb.append(t.getDayOfWeek().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                case 'A' -> sb.append(t.getDayOfWeek().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
                case 'b', 'h' -> sb.append(t.getMonth().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                case 'B' -> sb.append(t.getMonth().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
                case 'd' -> sb.append(String.format(two, t.getDayOfMonth()));
                case 'e' -> sb.append(String.format("%2d", t.getDayOfMonth()));
                case 'm' -> sb.append(String.format(two, t.getMonthValue()));
                case 'y' -> sb.append(String.format(two, t.getYear() % 100));
                case 'Y' -> sb.append(t.getYear());
                case 'H' -> sb.append(String.format(two, t.getHour()));
                case 'I' -> sb.append(String.format(two, t.getHour() % 12 == 0 ? 12 : t.getHour() % 12));
                case 'M' -> sb.append(String.format(two, t.getMinute()));
                case 'S' -> sb.append(String.format(two, t.getSecond()));
                case 'p' -> sb.append(t.getHour() < 12 ? "AM" : "PM");
                case 'j' -> sb.append(String.format(noPad ? "%d" : "%03d", t.getDayOfYear()));
                case 'f' -> sb.append(String.format("%06d", t.getNano() / 1000));
                case 'w' -> sb.append(t.getDayOfWeek().getValue() % 7);
                case 'u' -> sb.append(t.getDayOfWeek().getValue());
                case 'U' -> sb.append(String.format(two, (t.getDayOfYear() + 6 - t.getDayOfWeek().getValue() % 7) / 7));
                case 'W' -> sb.append(String.format(two, (t.getDayOfYear() + 6 - (t.getDayOfWeek().getValue() + 6) % 7) / 7));
                case 'V' -> sb.append(String.format(two, t.get(IsoFields.WEEK_OF_WEEK_BASED_YEAR)));
                case 'G' -> sb.append(t.get(IsoFields.WEEK_BASED_YEAR));
                case 'C' -> sb.append(String.format(two, t.getYear() / 100));
                case 'D' -> sb.append(strftime(t, "%m/%d/%y"));
                case 'F' -> sb.append(strftime(t, "%Y-%m-%d"));
                case 'T' -> sb.append(strftime(t, "%H:%M:%S"));
                case 'R' -> sb.append(strftime(t, "%H:%M"));
                case 'c' -> sb.append(strftime(t, "%a %b %e %H:%M:%S %Y"));
                case 'x' -> sb.append(strftime(t, "%m/%d/%y"));
                case 'X' -> sb.append(strftime(t, "%H:%M:%S"));
                case 's' -> sb.append(t.toEpochSecond(java.time.ZoneOffset.UTC));
                case 'z', 'Z' -> { }                            // naive datetime: empty, as Python prints
                case 'n' -> sb.append('\n');
                case 't' -> sb.append('\t');
                case '%' -> sb.append('%');
                default -> sb.append('%').append(d);
            }
        }
        return sb.toString();
    }
}
