package finetune4j.text.jinja;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.tree.ExpressionNode;
import com.hubspot.jinjava.tree.Node;
import com.hubspot.jinjava.tree.TagNode;
import com.hubspot.jinjava.tree.TreeParser;
import com.hubspot.jinjava.tree.parse.ExpressionToken;

import java.time.Clock;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A Jinja template rendered the way Hugging Face transformers renders chat templates
 * ({@code ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
 * extensions=[loopcontrols, generation])} with {@code tojson}, {@code raise_exception} and
 * {@code strftime_now}), on Jinjava with the Python semantics of {@link PyEngine}.
 *
 * <p>This is the engine under {@code finetune4j.text.ChatTemplate}; it knows nothing of messages or
 * tokenizers: it takes variables and returns text. Compiling checks the syntax (so a broken
 * template fails when loaded, naming its origin); rendering enforces {@link RenderLimits}. Instances
 * are immutable and may be shared across threads.
 *
 * {@snippet :
 * JinjaTemplate t = JinjaTemplate.compile("{{ bos_token }}{{ messages[0].content|trim }}", "inline");
 * String s = t.render(Map.of("bos_token", "<s>", "messages", List.of(Map.of("content", " hi "))),
 *         RenderLimits.DEFAULT, Clock.systemDefaultZone(), false).text();   // "<s>hi"
 * }
 */
public final class JinjaTemplate {
    private static final ThreadLocal<PyEngine> ENGINE = ThreadLocal.withInitial(PyEngine::create);

    private final String source;
    private final String prepared;
    private final String origin;
    private final boolean hasGeneration;

    private JinjaTemplate(String source, String prepared, String origin) {
        this.source = source;
        this.prepared = prepared;
        this.origin = origin;
        this.hasGeneration = this.prepared.matches("(?s).*\\{%\\s*generation\\s*%}.*");
    }

    /** The rendered text and, when tracked, the {@code {% generation %}} spans in UTF-16 char offsets. */
    public record Result(String text, List<Span> generationSpans) {
        public Result {
            generationSpans = List.copyOf(generationSpans);
        }
    }

    /** A half-open [start, end) range of the rendered text, in UTF-16 chars. */
    public record Span(int start, int end) {
    }

    /**
     * Parses {@code source} and checks every expression.
     *
     * @param origin where the template came from, used in every error message
     *               (e.g. {@code /m/tokenizer_config.json key 'chat_template'})
     * @throws TemplateException of kind SYNTAX naming the origin and line
     */
    public static JinjaTemplate compile(String source, String origin) {
        if (source == null) throw new IllegalArgumentException("template source is null (" + origin + ")");
        String prepared;
        try {
            prepared = WhitespaceControl.apply(normalizeNewlines(source));
        } catch (WhitespaceControl.LexError e) {
            throw new TemplateException(origin, TemplateException.Kind.SYNTAX, e.getMessage(), e.line,
                    "fix the template or pass another one (a named template, or a .jinja file)");
        }
        JinjaTemplate t = new JinjaTemplate(source, prepared, origin);
        t.checkSyntax();
        return t;
    }

    /** Jinja2's lexer normalizes newlines and drops one trailing newline (keep_trailing_newline=False). */
    static String normalizeNewlines(String source) {
        String s = source.replace("\r\n", "\n").replace('\r', '\n');
        return s.endsWith("\n") ? s.substring(0, s.length() - 1) : s;
    }

    /** WhitespaceControl keeps line structure, so Jinjava's line numbers are the source's. */
    private static int line(int preparedLine) {
        return Math.max(0, preparedLine);
    }

    public String source() {
        return source;
    }

    public String origin() {
        return origin;
    }

    /** True when the template marks assistant text with {@code {% generation %}}. */
    public boolean hasGenerationMarkers() {
        return hasGeneration;
    }

    /**
     * Renders with the given variables (converted to Python values: maps, lists, strings, numbers,
     * booleans, null = None).
     *
     * @param trackGeneration record the {@code {% generation %}} spans (transformers'
     *                        {@code return_assistant_tokens_mask})
     * @throws TemplateException when the template raises, fails, or exceeds a limit
     */
    public Result render(Map<String, ?> variables, RenderLimits limits, Clock clock, boolean trackGeneration) {
        Map<String, Object> vars = new LinkedHashMap<>();
        for (String g : PyGlobal.NAMES) vars.put(g, new PyGlobal(g));           // render variables may shadow them
        for (Map.Entry<String, ?> e : variables.entrySet()) vars.put(e.getKey(), PyValues.fromJava(e.getValue()));
        boolean track = trackGeneration && hasGeneration;
        if (track) rejectMarkers(vars);
        PyEngine engine = ENGINE.get();
        RenderState state = new RenderState(limits, clock, origin, track);
        RenderResult rr;
        state.enter();
        try {
            rr = engine.render(prepared, vars, limits.maxOutputChars());
        } catch (PyErrors.Abort a) {
            throw toException(state.abort() != null ? state.abort() : a);
        } catch (StackOverflowError e) {
            throw new TemplateException(origin, TemplateException.Kind.LIMIT, "the template recursed too deeply", 0,
                    "recursive macros are bounded by the thread stack");
        } finally {
            state.exit();
        }
        if (state.abort() != null) throw toException(state.abort());
        for (TemplateError err : rr.getErrors()) {
            if (err.getSeverity() == TemplateError.ErrorType.FATAL) throw toException(err);
            if (err.getMessage() != null && err.getMessage().startsWith("Max recursion limit")) {
                // Jinjava only warns and renders nothing; Python raises RecursionError
                throw new TemplateException(origin, TemplateException.Kind.LIMIT, "RecursionError: " + err.getMessage(),
                        line(err.getLineno()), "a macro calls itself more than 100 deep");
            }
        }
        String out = rr.getOutput();
        if (out.length() > limits.maxOutputChars()) {
            throw new TemplateException(origin, TemplateException.Kind.LIMIT, "the output exceeds "
                    + limits.maxOutputChars() + " chars", 0, "RenderLimits.maxOutputChars bounds the rendered text");
        }
        return track ? extractSpans(out) : new Result(out, List.of());
    }

    // ------------------------------------------------------------------ syntax check

    @SuppressWarnings("deprecation")     // push/popCurrent: the closeable replacement adds nothing here
    private void checkSyntax() {
        PyEngine engine = ENGINE.get();
        JinjavaInterpreter interpreter = engine.jinjava.newInterpreter();
        JinjavaInterpreter.pushCurrent(interpreter);
        RenderState state = new RenderState(RenderLimits.DEFAULT, Clock.systemUTC(), origin, false);
        state.enter();
        try {
            Node root = new TreeParser(interpreter, prepared).buildTree();
            for (TemplateError err : interpreter.getErrorsCopy()) {
                if (err.getSeverity() == TemplateError.ErrorType.FATAL) throw syntaxError(err.getMessage(), err.getLineno());
            }
            checkExpressions(root, new PyParser.PyBuilder());
        } catch (PyErrors.Abort a) {
            throw toException(a);
        } finally {
            state.exit();
            JinjavaInterpreter.popCurrent();
        }
    }

    private void checkExpressions(Node node, PyParser.PyBuilder parser) {
        String expr = null;
        if (node instanceof ExpressionNode && node.getMaster() instanceof ExpressionToken t) {
            expr = t.getExpr();
        } else if (node instanceof TagNode tag && (tag.getName().equals("if") || tag.getName().equals("elif"))) {
            expr = tag.getHelpers();
        }
        if (expr != null && !expr.isBlank()) {
            try {
                parser.build("#{" + expr.trim() + "}");
            } catch (RuntimeException e) {
                throw syntaxError("cannot parse '" + expr.trim() + "': " + e.getMessage(), node.getLineNumber());
            }
        }
        for (Node child : node.getChildren()) checkExpressions(child, parser);
    }

    private TemplateException syntaxError(String message, int line) {
        return new TemplateException(origin, TemplateException.Kind.SYNTAX, message, line(line),
                "fix the template or pass another one (a named template, or a .jinja file)");
    }

    // ------------------------------------------------------------------ errors

    private TemplateException toException(PyErrors.Abort a) {
        String hint = a.hint;
        if (hint == null && a.kind == TemplateException.Kind.RAISED) {
            hint = "the template refuses this conversation; check the roles and their order it expects";
        }
        return new TemplateException(origin, a.kind, a.pyMessage, line(a.line), hint);
    }

    private TemplateException toException(TemplateError err) {
        Throwable t = err.getException();
        while (t != null) {
            if (t instanceof PyErrors.Abort a) return toException(a);
            t = t.getCause();
        }
        String msg = err.getMessage();
        TemplateException.Kind kind = switch (err.getReason()) {
            case SYNTAX_ERROR, UNKNOWN -> msg != null && msg.startsWith("Syntax error") ? TemplateException.Kind.SYNTAX
                    : TemplateException.Kind.RUNTIME;
            case OUTPUT_TOO_BIG, COLLECTION_TOO_BIG, OVER_LIMIT -> TemplateException.Kind.LIMIT;
            case DISABLED -> TemplateException.Kind.SANDBOX;
            default -> TemplateException.Kind.RUNTIME;
        };
        return new TemplateException(origin, kind, msg, line(err.getLineno()), null);
    }

    // ------------------------------------------------------------------ generation spans

    private void rejectMarkers(Object v) {
        if (v instanceof String s) {
            if (s.indexOf(PyTags.GENERATION_START) >= 0 || s.indexOf(PyTags.GENERATION_END) >= 0) {
                throw new TemplateException(origin, TemplateException.Kind.RUNTIME,
                        "a message contains U+FDD0 or U+FDD1, Unicode noncharacters reserved for {% generation %} tracking",
                        0, "remove them from the data, or render without assistant-span tracking");
            }
        } else if (v instanceof Map<?, ?> m) {
            for (Object o : m.values()) rejectMarkers(o);
        } else if (v instanceof List<?> l) {
            for (Object o : l) rejectMarkers(o);
        }
    }

    private static Result extractSpans(String marked) {
        StringBuilder text = new StringBuilder(marked.length());
        List<Span> spans = new ArrayList<>();
        Deque<Integer> open = new ArrayDeque<>();
        for (int i = 0; i < marked.length(); i++) {
            char c = marked.charAt(i);
            if (c == PyTags.GENERATION_START) {
                open.push(text.length());
            } else if (c == PyTags.GENERATION_END) {
                int start = open.isEmpty() ? 0 : open.pop();
                spans.add(new Span(start, text.length()));
            } else {
                text.append(c);
            }
        }
        spans.sort((a, b) -> a.start() != b.start() ? Integer.compare(a.start(), b.start()) : Integer.compare(a.end(), b.end()));
        return new Result(text.toString(), spans);
    }

    @Override
    public String toString() {
        return "JinjaTemplate[" + origin + ", " + source.length() + " chars]";
    }
}
