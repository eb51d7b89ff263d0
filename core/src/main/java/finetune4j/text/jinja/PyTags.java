package finetune4j.text.jinja;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.tag.ForTag;
import com.hubspot.jinjava.lib.tag.IfTag;
import com.hubspot.jinjava.lib.tag.Tag;
import com.hubspot.jinjava.tree.Node;
import com.hubspot.jinjava.tree.TagNode;
import com.hubspot.jinjava.util.ForLoop;

import java.util.ArrayList;
import java.util.List;

/**
 * Tags that differ from Jinjava's: {@code if}/{@code elif} with Python truthiness (Jinjava treats
 * the string {@code "false"} as false), transformers' {@code {% generation %}} block, and stand-ins
 * for tags a sandboxed chat template may not use.
 */
final class PyTags {
    private PyTags() {
    }

    /** Marks the start of {@code {% generation %}} output; a Unicode noncharacter, reserved for internal use. */
    static final char GENERATION_START = '\uFDD0';
    /** Marks the end of {@code {% generation %}} output. */
    static final char GENERATION_END = '\uFDD1';

    /**
     * {@code if}/{@code elif}/{@code else}: a condition is true exactly when Python's {@code bool()}
     * says so, and a {@code break}/{@code continue} inside a branch stops the branch at once.
     */
    static final class If extends IfTag {
        private static final long serialVersionUID = 1L;

        @Override
        public boolean isPositiveIfElseNode(TagNode tagNode, JinjavaInterpreter interpreter) {
            RenderState.checkCurrent();
            Object v = interpreter.resolveELExpression(tagNode.getHelpers(), tagNode.getLineNumber(), tagNode.getStartPosition());
            return PyValues.truthy(v);
        }

        @Override
        public String interpret(TagNode tagNode, JinjavaInterpreter interpreter) {
            RenderState state = RenderState.current();
            boolean active = isPositiveIfElseNode(tagNode, interpreter);
            boolean done = active;
            StringBuilder out = new StringBuilder();
            for (Node child : tagNode.getChildren()) {
                if (child instanceof TagNode t && t.getName().equals("elif")) {
                    active = !done && isPositiveIfElseNode(t, interpreter);
                    done |= active;
                } else if (child instanceof TagNode t && t.getName().equals("else")) {
                    active = !done;
                    done = true;
                } else if (active) {
                    out.append(child.render(interpreter).getValue());
                    state.checkSize(out.length(), "the output");
                    if (loopInterrupted(interpreter)) break;
                }
            }
            return out.toString();
        }
    }

    /** True when a {@code break} or {@code continue} has fired in the innermost loop. */
    static boolean loopInterrupted(JinjavaInterpreter interpreter) {
        return interpreter.getContext().get("loop") instanceof ForLoop l && l.isContinued();
    }

    /** Jinja2's loop variable: Jinjava's ForLoop plus {@code previtem}/{@code nextitem}. */
    static final class Loop extends ForLoop {
        private final List<Object> items;

        Loop(List<Object> items) {
            super(items.iterator(), items.size());
            this.items = items;
        }

        Object previtem() {
            int i = getIndex0();
            return i > 0 && i - 1 < items.size() ? items.get(i - 1) : null;
        }

        Object nextitem() {
            int i = getIndex0();
            return i + 1 < items.size() ? items.get(i + 1) : null;
        }
    }

    /**
     * {@code {% for targets in iterable [if condition] %}...[{% else %}...]{% endfor %}} with Python
     * iteration (characters of a str, keys of a dict, an error for None), tuple unpacking, the loop
     * filter and the {@code else} branch, none of which Jinjava's for tag supports as Jinja2 does.
     */
    static final class For extends ForTag {
        private static final long serialVersionUID = 1L;

        @Override
        public String interpret(TagNode tagNode, JinjavaInterpreter interpreter) {
            RenderState state = RenderState.current();
            state.check();
            Header h = Header.parse(tagNode.getHelpers());
            Object iterable = interpreter.resolveELExpression(h.iterable, tagNode.getLineNumber(), tagNode.getStartPosition());
            state.check();
            List<Object> all = PyFilters.iterate(iterable);
            List<Node> body = new ArrayList<>(), orElse = new ArrayList<>();
            List<Node> target = body;
            for (Node child : tagNode.getChildren()) {
                if (child instanceof TagNode t && t.getName().equals("else")) target = orElse;
                else target.add(child);
            }
            StringBuilder out = new StringBuilder();
            JinjavaInterpreter.InterpreterScopeClosable scope = interpreter.enterScope();
            try {
                List<Object> items = all;
                if (h.condition != null) {
                    items = new ArrayList<>();
                    for (Object item : all) {
                        bind(interpreter, h.targets, item);
                        Object ok = interpreter.resolveELExpression(h.condition, tagNode.getLineNumber(), tagNode.getStartPosition());
                        if (PyValues.truthy(ok)) items.add(item);
                    }
                }
                if (items.isEmpty()) {
                    for (Node n : orElse) out.append(n.render(interpreter).getValue());
                    return out.toString();
                }
                Loop loop = new Loop(items);
                interpreter.getContext().put("loop", loop);
                while (loop.hasNext()) {
                    Object item = loop.next();
                    bind(interpreter, h.targets, item);
                    for (Node n : body) {
                        out.append(n.render(interpreter).getValue());
                        state.checkSize(out.length(), "the output");
                        if (loop.isContinued()) break;
                    }
                    state.check();
                }
            } finally {
                scope.close();
            }
            return out.toString();
        }

        private static void bind(JinjavaInterpreter interpreter, List<String> targets, Object item) {
            if (targets.size() == 1) {
                interpreter.getContext().put(targets.get(0), item == null ? PyNone.NONE : item);
                return;
            }
            List<Object> parts = item instanceof List<?> l ? new ArrayList<>(l) : PyFilters.iterate(item);
            if (parts.size() != targets.size()) {
                throw PyErrors.valueError(parts.size() < targets.size()
                        ? "not enough values to unpack (expected " + targets.size() + ", got " + parts.size() + ")"
                        : "too many values to unpack (expected " + targets.size() + ")");
            }
            for (int i = 0; i < targets.size(); i++) interpreter.getContext().put(targets.get(i), parts.get(i));
        }
    }

    /** The parts of a for tag: targets, iterable expression, optional filter condition. */
    record Header(List<String> targets, String iterable, String condition) {
        static Header parse(String helpers) {
            String h = helpers.trim();
            int in = findKeyword(h, "in", 0);
            if (in < 0) throw PyErrors.abort(TemplateException.Kind.SYNTAX, "expected 'in' in for loop: '" + h + "'", null);
            List<String> targets = new ArrayList<>();
            for (String t : h.substring(0, in).replace("(", " ").replace(")", " ").split(",")) {
                String name = t.trim();
                if (!name.matches("[A-Za-z_][A-Za-z_0-9]*")) {
                    throw PyErrors.abort(TemplateException.Kind.SYNTAX, "bad for loop target '" + name + "' in '" + h + "'", null);
                }
                targets.add(name);
            }
            int cond = findKeyword(h, "if", in + 2);
            int recursive = findKeyword(h, "recursive", in + 2);
            if (recursive >= 0) {
                throw PyErrors.abort(TemplateException.Kind.SYNTAX, "recursive for loops are not supported", null);
            }
            String iterable = h.substring(in + 2, cond >= 0 ? cond : h.length()).trim();
            String condition = cond >= 0 ? h.substring(cond + 2).trim() : null;
            return new Header(targets, iterable, condition);
        }

        /** The index of keyword kw as a whole word at bracket depth 0 outside strings, or -1. */
        static int findKeyword(String s, String kw, int from) {
            int depth = 0;
            for (int i = from; i < s.length(); i++) {
                char c = s.charAt(i);
                if (c == '\'' || c == '"') {
                    int j = i + 1;
                    while (j < s.length() && s.charAt(j) != c) j += s.charAt(j) == '\\' ? 2 : 1;
                    i = j;
                } else if (c == '(' || c == '[' || c == '{') {
                    depth++;
                } else if (c == ')' || c == ']' || c == '}') {
                    depth--;
                } else if (depth == 0 && s.startsWith(kw, i)
                        && (i == 0 || !Character.isJavaIdentifierPart(s.charAt(i - 1)))
                        && (i + kw.length() >= s.length() || !Character.isJavaIdentifierPart(s.charAt(i + kw.length())))) {
                    return i;
                }
            }
            return -1;
        }
    }

    /**
     * transformers' {@code {% generation %}...{% endgeneration %}} (AssistantTracker): renders its
     * body and, when the render tracks assistant spans, brackets it with marker characters that
     * {@link JinjaTemplate} turns into offsets and removes.
     */
    static final class Generation implements Tag {
        private static final long serialVersionUID = 1L;

        @Override
        public String getName() {
            return "generation";
        }

        @Override
        public String getEndTagName() {
            return "endgeneration";
        }

        @Override
        public String interpret(TagNode tagNode, JinjavaInterpreter interpreter) {
            RenderState state = RenderState.current();
            StringBuilder sb = new StringBuilder();
            if (state.trackGeneration) sb.append(GENERATION_START);
            for (Node child : tagNode.getChildren()) {
                sb.append(child.render(interpreter).getValue());
                state.checkSize(sb.length(), "the output");
                if (loopInterrupted(interpreter)) break;
            }
            if (state.trackGeneration) sb.append(GENERATION_END);
            return sb.toString();
        }
    }

    /** {@code {% with a = 1, b = x %}...{% endwith %}}: a scope with its own variables. */
    static final class With implements Tag {
        private static final long serialVersionUID = 1L;

        @Override
        public String getName() {
            return "with";
        }

        @Override
        public String getEndTagName() {
            return "endwith";
        }

        @Override
        public String interpret(TagNode tagNode, JinjavaInterpreter interpreter) {
            RenderState state = RenderState.current();
            String h = tagNode.getHelpers().trim();
            List<String[]> assignments = new ArrayList<>();
            int from = 0;
            while (from < h.length()) {
                int eq = h.indexOf('=', from);
                if (eq < 0) throw PyErrors.abort(TemplateException.Kind.SYNTAX, "expected 'name = value' in with: '" + h + "'", null);
                int end = topLevelComma(h, eq + 1);
                assignments.add(new String[]{h.substring(from, eq).trim(), h.substring(eq + 1, end).trim()});
                from = end + 1;
            }
            List<Object> values = new ArrayList<>();
            for (String[] a : assignments) {
                values.add(interpreter.resolveELExpression(a[1], tagNode.getLineNumber(), tagNode.getStartPosition()));
            }
            StringBuilder out = new StringBuilder();
            JinjavaInterpreter.InterpreterScopeClosable scope = interpreter.enterScope();
            try {
                for (int i = 0; i < assignments.size(); i++) {
                    Object v = values.get(i);
                    interpreter.getContext().put(assignments.get(i)[0], v == null ? PyNone.NONE : v);
                }
                for (Node child : tagNode.getChildren()) {
                    out.append(child.render(interpreter).getValue());
                    state.checkSize(out.length(), "the output");
                    if (loopInterrupted(interpreter)) break;
                }
            } finally {
                scope.close();
            }
            return out.toString();
        }

        /** The index of the first comma at bracket depth 0 outside strings at or after from, or s.length(). */
        private static int topLevelComma(String s, int from) {
            int depth = 0;
            for (int i = from; i < s.length(); i++) {
                char c = s.charAt(i);
                if (c == '\'' || c == '"') {
                    int j = i + 1;
                    while (j < s.length() && s.charAt(j) != c) j += s.charAt(j) == '\\' ? 2 : 1;
                    i = j;
                } else if (c == '(' || c == '[' || c == '{') {
                    depth++;
                } else if (c == ')' || c == ']' || c == '}') {
                    depth--;
                } else if (c == ',' && depth == 0) {
                    return i;
                }
            }
            return s.length();
        }
    }

    /** {@code {% filter upper %}...{% endfilter %}}: the rendered body passed through a filter chain. */
    static final class FilterBlock implements Tag {
        private static final long serialVersionUID = 1L;
        private static final String BODY = "__finetune4j_filter_body__";

        @Override
        public String getName() {
            return "filter";
        }

        @Override
        public String getEndTagName() {
            return "endfilter";
        }

        @Override
        public String interpret(TagNode tagNode, JinjavaInterpreter interpreter) {
            RenderState state = RenderState.current();
            StringBuilder body = new StringBuilder();
            for (Node child : tagNode.getChildren()) {
                body.append(child.render(interpreter).getValue());
                state.checkSize(body.length(), "the output");
            }
            JinjavaInterpreter.InterpreterScopeClosable scope = interpreter.enterScope();
            try {
                interpreter.getContext().put(BODY, body.toString());
                Object v = interpreter.resolveELExpression(BODY + "|" + tagNode.getHelpers().trim(),
                        tagNode.getLineNumber(), tagNode.getStartPosition());
                return PyRepr.str(v);
            } finally {
                scope.close();
            }
        }
    }

    /** A Jinjava tag Jinja2 lacks or a sandboxed template may not use (include, import, extends...). */
    record Unsupported(String name, boolean endTag) implements Tag {
        @Override
        public String getName() {
            return name;
        }

        @Override
        public String getEndTagName() {
            return endTag ? "end" + name : null;
        }

        @Override
        public String interpret(TagNode tagNode, JinjavaInterpreter interpreter) {
            switch (name) {
                case "include", "import", "from", "extends" -> throw PyErrors.security("the '" + name
                        + "' tag would load another template; chat templates cannot read files or other templates");
                default -> throw PyErrors.abort(TemplateException.Kind.SYNTAX, "Encountered unknown tag '" + name + "'.",
                        "finetune4j supports Jinja2's tags plus loopcontrols and transformers' generation");
            }
        }
    }
}
