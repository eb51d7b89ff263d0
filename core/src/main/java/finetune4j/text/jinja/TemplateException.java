package finetune4j.text.jinja;

import finetune4j.Finetune4jException;

/**
 * A chat template could not be compiled or rendered. The message names where the template came
 * from (e.g. {@code tokenizer_config.json key 'chat_template'}), what went wrong and, for
 * {@link Kind#RAISED}, carries the template's own {@code raise_exception(...)} text verbatim in
 * {@link #templateMessage()}.
 */
public class TemplateException extends Finetune4jException {
    /** What kind of failure. */
    public enum Kind {
        /** The template source does not parse (or uses a tag/filter/test that does not exist). */
        SYNTAX("template syntax error"),
        /** The template called {@code raise_exception(msg)}: it refuses this conversation. */
        RAISED("the template raised an error"),
        /** A Python-level error while rendering: a type error, an undefined value, a bad argument. */
        RUNTIME("template error"),
        /** The template tried something the sandbox forbids (mutating data, reading files, Java methods). */
        SANDBOX("template sandbox violation"),
        /** A resource bound was exceeded: output size, render time, range length, string length. */
        LIMIT("template resource limit exceeded");

        private final String description;

        Kind(String description) {
            this.description = description;
        }

        public String description() {
            return description;
        }
    }

    private final String origin;
    private final Kind kind;
    private final String templateMessage;
    private final int line;

    public TemplateException(String origin, Kind kind, String templateMessage, int line, String hint) {
        super(format(origin, kind, templateMessage, line, hint));
        this.origin = origin;
        this.kind = kind;
        this.templateMessage = templateMessage;
        this.line = line;
    }

    private static String format(String origin, Kind kind, String msg, int line, String hint) {
        StringBuilder sb = new StringBuilder(origin).append(": ").append(kind.description());
        if (line > 0) sb.append(" at template line ").append(line);
        sb.append(": ").append(msg);
        if (hint != null && !hint.isEmpty()) sb.append(" (hint: ").append(hint).append(')');
        return sb.toString();
    }

    /** Where the template came from, e.g. {@code /m/tokenizer_config.json key 'chat_template'}. */
    public String origin() {
        return origin;
    }

    public Kind kind() {
        return kind;
    }

    /** The bare message: the template's own text for {@link Kind#RAISED}. */
    public String templateMessage() {
        return templateMessage;
    }

    /** 1-based line in the template source, 0 when unknown. */
    public int line() {
        return line;
    }
}
