package finetune4j.text.jinja;

import com.hubspot.jinjava.el.ext.NamedParameter;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.exptest.ExpTest;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.objects.Namespace;
import com.hubspot.jinjava.objects.SafeString;
import com.hubspot.jinjava.util.ForLoop;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

import java.beans.FeatureDescriptor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The only way a template reaches into values: attribute and item access, and method calls.
 *
 * <p>It replaces Jinjava's bean resolver, which would let a template call any public Java method
 * (and read any getter) of any object it can reach. Here a template can read keys of dicts, items
 * of lists and strings, the {@code loop} variables, and call the Python methods of {@code str},
 * {@code dict} and {@code list} that Jinja2's {@code ImmutableSandboxedEnvironment} allows; methods
 * that mutate ({@code append}, {@code update}, {@code pop}...) raise the sandbox's SecurityError,
 * and anything else is undefined. Every access also checks the render deadline.
 */
final class PyResolver extends ELResolver {
    private static final Set<String> MUTATING_LIST = Set.of("append", "extend", "insert", "pop", "remove", "reverse",
            "sort", "clear", "__setitem__", "__delitem__", "__iadd__", "__imul__");
    private static final Set<String> MUTATING_DICT = Set.of("clear", "pop", "popitem", "setdefault", "update",
            "__setitem__", "__delitem__");

    @Override
    public Object getValue(ELContext context, Object base, Object property) {
        if (base == null) return null;                     // identifiers: resolved by Jinjava's context lookup
        context.setPropertyResolved(true);
        if ((base instanceof List || PyValues.isString(base)) && property instanceof String p && p.matches("-?\\d{1,18}")) {
            property = Long.parseLong(p);                  // Jinjava passes item keys as strings
        }
        return get(base, property);
    }

    /** {@code base.property} / {@code base[property]} for a defined base (undefined when absent). */
    static Object get(Object base, Object property) {
        RenderState.checkCurrent();
        if (base instanceof ForLoop loop) return loopAttribute(loop, property);
        if (base instanceof SafeString s) base = s.getValue();
        if (PyValues.isString(property) && PyValues.str(property).startsWith("_")) return null;   // sandbox: no private attrs
        return PyOps.getItem(base, property);
    }

    private static Object loopAttribute(ForLoop loop, Object property) {
        if (!(property instanceof String name)) return null;
        if (loop instanceof PyTags.Loop l) {
            switch (name) {
                case "previtem": return l.previtem();
                case "nextitem": return l.nextitem();
                case "depth": return 1L;                   // Jinja2: depth grows only in recursive loops
                case "depth0": return 0L;
                default: break;
            }
        }
        return switch (name) {
            case "index" -> (long) loop.getIndex();
            case "index0" -> (long) loop.getIndex0();
            case "revindex" -> (long) loop.getRevindex();
            case "revindex0" -> (long) loop.getRevindex0();
            case "first" -> loop.isFirst();
            case "last" -> loop.isLast();
            case "length" -> (long) loop.getLength();
            case "depth" -> (long) loop.getDepth();
            case "depth0" -> (long) loop.getDepth0();
            default -> null;                                 // previtem/nextitem/changed: not provided by Jinjava
        };
    }

    @Override
    public Object invoke(ELContext context, Object base, Object method, Class<?>[] paramTypes, Object[] params) {
        if (base == null) return null;
        RenderState.checkCurrent();
        context.setPropertyResolved(true);
        String name = String.valueOf(method);
        Object[] args = params == null ? new Object[0] : params;
        if (base instanceof Filter f && name.equals("filter")) {
            @SuppressWarnings("unchecked")
            Map<String, Object> kwargs = args.length > 3 && args[3] instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
            Object[] positional = args.length > 2 && args[2] instanceof Object[] a ? a : new Object[0];
            return f.filter(args[0], (JinjavaInterpreter) args[1], positional, kwargs);
        }
        if (base instanceof ExpTest t && (name.equals("evaluate") || name.equals("evaluateNegated"))) {
            Object[] rest = Arrays.copyOfRange(args, 2, args.length);
            boolean r = t.evaluate(args[0], (JinjavaInterpreter) args[1], rest);
            return name.equals("evaluate") == r;
        }
        if (base instanceof ForLoop loop && name.equals("cycle")) {
            return args.length == 0 ? PyNone.NONE : args[loop.getIndex0() % args.length];
        }
        List<Object> positional = new ArrayList<>();
        Map<String, Object> kwargs = new LinkedHashMap<>();
        for (Object a : args) {
            if (a instanceof NamedParameter np) kwargs.put(np.getName(), np.getValue());
            else positional.add(a);
        }
        if (base instanceof SafeString s) base = s.getValue();
        if (base instanceof String s) return PyMethods.str(s, name, positional, kwargs);
        if (base instanceof Map<?, ?> m && !(base instanceof Namespace)) {
            if (MUTATING_DICT.contains(name)) throw PyErrors.security("access to attribute '" + name + "' of 'dict' object is unsafe.");
            return PyMethods.dict(m, name, positional);
        }
        if (base instanceof List<?> l) {
            String type = PyValues.typeName(base);
            if (MUTATING_LIST.contains(name)) throw PyErrors.security("access to attribute '" + name + "' of '" + type + "' object is unsafe.");
            return PyMethods.list(l, name, positional);
        }
        throw PyErrors.undefined("'" + PyValues.typeName(base) + " object' has no attribute '" + name + "'");
    }

    @Override
    public void setValue(ELContext context, Object base, Object property, Object value) {
        if (base == null) return;
        context.setPropertyResolved(true);
        if (base instanceof Namespace ns && property instanceof String key) {
            ns.put(key, value == null ? PyNone.NONE : value);
            return;
        }
        throw PyErrors.security("cannot assign attribute on non-namespace object");
    }

    @Override
    public Class<?> getType(ELContext context, Object base, Object property) {
        if (base == null) return null;
        context.setPropertyResolved(true);
        return Object.class;
    }

    @Override
    public boolean isReadOnly(ELContext context, Object base, Object property) {
        if (base == null) return false;
        context.setPropertyResolved(true);
        return !(base instanceof Namespace);
    }

    @Override
    public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
        return Collections.emptyIterator();
    }

    @Override
    public Class<?> getCommonPropertyType(ELContext context, Object base) {
        return base == null ? null : Object.class;
    }
}
