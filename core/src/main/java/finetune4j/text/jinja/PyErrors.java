package finetune4j.text.jinja;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;

/**
 * Aborting a render the way Python does: the first error stops it.
 *
 * <p>Jinjava records most exceptions as errors and keeps rendering; Jinja2 stops at the first one.
 * {@link Abort} is an {@link Error} so that Jinjava's {@code catch (Exception)} blocks let it through
 * to {@link JinjaTemplate}, which turns it into a {@link TemplateException}. Where Jinjava invokes a
 * function reflectively (and wraps whatever it throws), the abort is also recorded in the
 * {@link RenderState}, which stops the render at the next node.
 */
final class PyErrors {
    private PyErrors() {
    }

    /** Unwinds a render; carries the kind and message of the first failure. */
    static final class Abort extends Error {
        final TemplateException.Kind kind;
        final String pyMessage;
        final String hint;
        final int line;

        Abort(TemplateException.Kind kind, String pyMessage, String hint) {
            super(pyMessage, null, false, false);
            this.kind = kind;
            this.pyMessage = pyMessage;
            this.hint = hint;
            JinjavaInterpreter current = JinjavaInterpreter.getCurrent();
            this.line = current != null ? current.getLineNumber() : 0;
        }
    }

    static Abort abort(TemplateException.Kind kind, String msg, String hint) {
        Abort a = new Abort(kind, msg, hint);
        RenderState s = RenderState.currentOrNull();
        if (s != null) s.recordAbort(a);
        return a;
    }

    static Abort typeError(String msg) {
        return abort(TemplateException.Kind.RUNTIME, "TypeError: " + msg, null);
    }

    static Abort valueError(String msg) {
        return abort(TemplateException.Kind.RUNTIME, "ValueError: " + msg, null);
    }

    static Abort undefined(String what) {
        return abort(TemplateException.Kind.RUNTIME, "UndefinedError: " + what, null);
    }

    static Abort raised(String msg) {
        return abort(TemplateException.Kind.RAISED, msg, null);
    }

    static Abort security(String msg) {
        return abort(TemplateException.Kind.SANDBOX, "SecurityError: " + msg,
                "chat templates run in an immutable sandbox, as in transformers");
    }

    static Abort limit(String msg, String hint) {
        return abort(TemplateException.Kind.LIMIT, msg, hint);
    }
}
