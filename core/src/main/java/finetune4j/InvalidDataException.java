package finetune4j;

/**
 * A training or evaluation record is unusable. The message carries {@code path:line}, the field
 * and the reason, e.g. {@code data.jsonl:17: field 'messages[2].role': expected one of [...], got 'bot'}.
 */
public class InvalidDataException extends Finetune4jException {
    private final String path;
    private final long line;
    private final String field;

    public InvalidDataException(String path, long line, String field, String reason) {
        super(format(path, line, field, reason));
        this.path = path;
        this.line = line;
        this.field = field;
    }

    private static String format(String path, long line, String field, String reason) {
        StringBuilder sb = new StringBuilder(path);
        if (line > 0) sb.append(':').append(line);
        sb.append(": ");
        if (field != null && !field.isEmpty()) sb.append("field '").append(field).append("': ");
        return sb.append(reason).toString();
    }

    public String path() {
        return path;
    }

    /** 1-based line (or record) number; 0 when unknown. */
    public long line() {
        return line;
    }

    public String field() {
        return field;
    }
}
