package finetune4j.text.jinja;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.JinjavaProcessors;
import com.hubspot.jinjava.el.TruthyTypeConverter;
import com.hubspot.jinjava.interpret.Context;
import com.hubspot.jinjava.interpret.InterpretException;
import com.hubspot.jinjava.interpret.InterpreterFactory;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.exptest.ExpTest;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import com.hubspot.jinjava.lib.tag.Tag;
import com.hubspot.jinjava.loader.ResourceLocator;
import com.hubspot.jinjava.loader.ResourceNotFoundException;
import com.hubspot.jinjava.tree.Node;
import com.hubspot.jinjava.tree.TreeParser;
import jinjava.de.odysseus.el.ExpressionFactoryImpl;
import jinjava.de.odysseus.el.tree.TreeStore;
import jinjava.de.odysseus.el.tree.impl.Cache;
import jinjava.javax.el.CompositeELResolver;
import jinjava.javax.el.ExpressionFactory;

import java.nio.charset.Charset;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The configured Jinjava: Python semantics wired into each of Jinjava's extension points.
 *
 * <ul>
 *   <li>expressions: {@link PyParser} (operators, slices, None) and a type converter with Python
 *       truthiness for {@code not}, {@code and}, {@code or}, {@code a if c else b};</li>
 *   <li>values: {@link PyResolver} as the only EL resolver (no Java bean access);</li>
 *   <li>output: {@link PyInterpreter} prints values with Python's str();</li>
 *   <li>library: Jinja2's filters, tests and globals; Jinjava-only ones replaced by stand-ins that
 *       fail; include/import/extends refused; a resource locator that refuses every path;</li>
 *   <li>whitespace: none here; {@link WhitespaceControl} applies Jinja2's rules to the source;</li>
 *   <li>limits: output size, range length, and a deadline checked at every tag and access.</li>
 * </ul>
 * One instance serves every template; it holds no per-render state.
 */
final class PyEngine {
    private static final Set<String> JINJA2_TAGS = Set.of("if", "elif", "else", "for", "set", "macro", "call", "raw",
            "autoescape", "break", "continue", "generation", "block", "filter", "with");

    final Jinjava jinjava;
    private final Map<Long, JinjavaConfig> configs = new HashMap<>();

    /** A new engine; Jinjava's global context is not thread-safe, so each thread builds its own. */
    static PyEngine create() {
        return new PyEngine();
    }

    /** Parsed templates of this thread, by prepared source (Jinjava itself re-parses on every render). */
    private final Map<String, Node> trees = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Node> eldest) {
            return size() > 64;
        }
    };

    /**
     * What {@code Jinjava.renderForResult} does, minus re-parsing: a fresh context and interpreter
     * for each render over a cached parse tree (nodes hold no render state).
     */
    @SuppressWarnings("deprecation")     // push/popCurrent: the closeable replacement adds nothing here
    RenderResult render(String template, Map<String, Object> vars, long maxOutputChars) {
        JinjavaConfig config = config(maxOutputChars);
        Context context = new Context(jinjava.getGlobalContextCopy(), vars, config.getDisabled());
        JinjavaInterpreter interpreter = config.getInterpreterFactory().newInstance(jinjava, context, config);
        JinjavaInterpreter.pushCurrent(interpreter);
        try {
            Node root = trees.get(template);
            if (root == null) {
                root = new TreeParser(interpreter, template).buildTree();
                if (interpreter.getErrorsCopy().isEmpty()) trees.put(template, root);
            }
            String out = interpreter.render(root, true);
            return new RenderResult(out, interpreter.getContext(), interpreter.getErrorsCopy());
        } catch (InterpretException e) {
            return new RenderResult(TemplateError.fromSyntaxError(e), interpreter.getContext(), interpreter.getErrorsCopy());
        } finally {
            JinjavaInterpreter.popCurrent();
        }
    }

    /** The render config with Jinjava's own output bound set to {@code maxOutputChars}. */
    JinjavaConfig config(long maxOutputChars) {
        return configs.computeIfAbsent(maxOutputChars, PyEngine::buildConfig);
    }

    private PyEngine() {
        JinjavaConfig config = buildConfig(Integer.MAX_VALUE);
        ExpressionFactory factory = new ExpressionFactoryImpl(
                new TreeStore(new PyParser.PyBuilder(), new Cache(1000)), new PyTypeConverter());
        this.jinjava = new Jinjava(config) {
            @Override
            public ExpressionFactory getExpressionFactory() {
                return factory;
            }

            @Override
            public ExpressionFactory getEagerExpressionFactory() {
                return factory;
            }
        };
        jinjava.setResourceLocator(new ResourceLocator() {
            @Override
            public String getString(String fullName, Charset encoding, JinjavaInterpreter interpreter)
                    throws ResourceNotFoundException {
                throw PyErrors.security("a chat template may not load '" + fullName + "'");
            }
        });
        install(jinjava.getGlobalContext());
    }

    private static JinjavaConfig buildConfig(long maxOutputChars) {
        return JinjavaConfig.newBuilder()
                .withCharset(Charset.forName("UTF-8"))
                .withLocale(Locale.ROOT)
                .withTrimBlocks(false)                 // done by WhitespaceControl, as Jinja2's lexer does
                .withLstripBlocks(false)
                .withNestedInterpretationEnabled(false)
                .withFailOnUnknownTokens(false)
                .withEnableRecursiveMacroCalls(true)
                .withMaxMacroRecursionDepth(100)
                .withMaxOutputSize(maxOutputChars)
                .withElResolver(resolver())
                .withInterperterFactory(new InterpreterFactory() {
                    @Override
                    public JinjavaInterpreter newInstance(JinjavaInterpreter orig) {
                        return new PyInterpreter(orig);
                    }

                    @Override
                    public JinjavaInterpreter newInstance(Jinjava application, Context context, JinjavaConfig renderConfig) {
                        return new PyInterpreter(application, context, renderConfig);
                    }
                })
                .withProcessors(JinjavaProcessors.newBuilder()
                        .withNodePreProcessor((node, interpreter) -> RenderState.checkCurrent())
                        .build())
                .withLegacyOverrides(LegacyOverrides.newBuilder()
                        .withIterateOverMapKeys(true)
                        .withEvaluateMapKeys(true)
                        .withKeepNullableLoopValues(true)
                        .build())
                .build();
    }

    private static jinjava.javax.el.ELResolver resolver() {
        CompositeELResolver r = new CompositeELResolver();
        r.add(new PyResolver());
        return r;
    }

    private static void install(Context global) {
        Set<String> ours = new HashSet<>();
        for (PyFilters.PyFilter f : PyFilters.all()) {
            global.registerFilter(f);
            ours.add(f.getName());
        }
        for (Filter f : List.copyOf(global.getAllFilters())) {
            if (!ours.contains(f.getName())) global.registerFilter(new PyFilters.Unsupported(f.getName()));
        }
        for (String name : PyFilters.NOT_REPRODUCED.keySet()) global.registerFilter(new PyFilters.Unsupported(name));
        ours.clear();
        for (PyTests.PyTest t : PyTests.all()) {
            global.registerExpTest(t);
            ours.add(t.getName());
        }
        for (ExpTest t : List.copyOf(global.getAllExpTests())) {
            if (!ours.contains(t.getName())) global.registerExpTest(new PyTests.Unsupported(t.getName()));
        }
        ours.clear();
        for (ELFunctionDefinition f : PyFunctions.all()) {
            global.registerFunction(f);
            ours.add(f.getName());
        }
        for (ELFunctionDefinition f : List.copyOf(global.getAllFunctions())) {
            if (!ours.contains(f.getName())) {
                global.registerFunction(PyFunctions.undefined(f));
            }
        }
        global.registerTag(new PyTags.If());
        global.registerTag(new PyTags.For());
        global.registerTag(new PyTags.FilterBlock());
        global.registerTag(new PyTags.With());
        global.registerTag(new PyTags.Generation());
        for (Tag t : List.copyOf(global.getAllTags())) {
            String n = t.getName();
            if (!JINJA2_TAGS.contains(n) && !n.startsWith("end")) {
                global.registerTag(new PyTags.Unsupported(n, t.getEndTagName() != null));
            }
        }
    }

    /** Python truthiness wherever EL coerces to boolean ({@code not}, ternaries, Jinjava internals). */
    static final class PyTypeConverter extends TruthyTypeConverter {
        private static final long serialVersionUID = 1L;

        @Override
        protected Boolean coerceToBoolean(Object value) {
            return PyValues.truthy(value);
        }
    }

    /** Prints values as Python's str() does ({@code True}, {@code None}, {@code ['a']}). */
    static final class PyInterpreter extends JinjavaInterpreter {
        PyInterpreter(Jinjava application, Context context, JinjavaConfig config) {
            super(application, context, config);
        }

        PyInterpreter(JinjavaInterpreter orig) {
            super(orig);
        }

        @Override
        public String getAsString(Object object) {
            return PyRepr.str(object);
        }
    }
}
