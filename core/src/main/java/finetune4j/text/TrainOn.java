package finetune4j.text;

import finetune4j.ConfigException;

/**
 * Which tokens of an example count in the loss ({@code --train-on}).
 * <ul>
 *   <li>{@link #ALL}: every token;</li>
 *   <li>{@link #COMPLETION}: everything after the prompt (a prompt/completion's completion; for a
 *       conversation, from its final assistant turn, or from the completion messages of a
 *       conversational prompt/completion, to the end);</li>
 *   <li>{@link #ASSISTANT} (default): every assistant turn, with the end-of-turn text the template
 *       writes after it (e.g. {@code <|im_end|>}, {@code </s>}); assistant messages with
 *       {@code "weight": 0} (OpenAI fine-tuning format) excepted;</li>
 *   <li>{@link #LAST_ASSISTANT}: only the final assistant turn.</li>
 * </ul>
 * Plain text has no prompt: it is trained whole in every mode.
 */
public enum TrainOn {
    ALL, COMPLETION, ASSISTANT, LAST_ASSISTANT;

    /** The flag value: all, completion, assistant, last-assistant. */
    public String id() {
        return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
    }

    public static TrainOn parse(String s) {
        for (TrainOn t : values()) if (t.id().equals(s.trim().toLowerCase(java.util.Locale.ROOT))) return t;
        throw new ConfigException("--train-on", s, "all, completion, assistant or last-assistant");
    }
}
