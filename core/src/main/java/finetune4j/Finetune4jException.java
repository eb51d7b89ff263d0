package finetune4j;

/**
 * Root of the small exception hierarchy every user-facing error of finetune4j belongs to.
 *
 * <p>Messages are complete sentences that name the file, line or key, what was expected, what
 * was found and, where one helps, a hint. The CLI prints {@link #getMessage()} as one line and
 * exits non-zero; a stack trace is printed only with {@code --debug}.
 */
public class Finetune4jException extends RuntimeException {
    public Finetune4jException(String message) {
        super(message);
    }

    public Finetune4jException(String message, Throwable cause) {
        super(message, cause);
    }
}
