package finetune4j.data;

/**
 * One training or evaluation example, as read from a dataset record, before tokenization.
 * {@code source} is {@code path:line} of the record, carried for error messages.
 */
public sealed interface Example {
    String source();

    /** Plain text: every token is trained ({@code {"text": ...}}). */
    record Text(String source, String text) implements Example {
    }

    /** A prompt and its completion: only the completion is trained ({@code {"prompt", "completion"}}). */
    record PromptCompletion(String source, String prompt, String completion) implements Example {
    }
}
