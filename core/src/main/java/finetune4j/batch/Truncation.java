package finetune4j.batch;

import finetune4j.ConfigException;

import java.util.Arrays;

/**
 * What happens to an example longer than the sequence length ({@code --truncate}): cut on the
 * {@link #RIGHT} (keep the start, the default), on the {@link #LEFT} (keep the end: the last answer
 * and its end-of-turn token survive, the system prompt may not), or {@link #DROP} it. A cut may
 * leave no trained token; {@link DataPipeline} drops such examples (they would only cost compute)
 * and counts them.
 */
public enum Truncation {
    RIGHT, LEFT, DROP;

    public static Truncation parse(String s) {
        return switch (s.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "right" -> RIGHT;
            case "left" -> LEFT;
            case "drop" -> DROP;
            default -> throw new ConfigException("--truncate", s, "right, left or drop");
        };
    }

    /** {@code t} fitted into {@code maxLen} tokens, or null when it is dropped. */
    public Tokenized apply(Tokenized t, int maxLen) {
        if (t.length() <= maxLen) return t;
        Tokenized cut = switch (this) {
            case DROP -> null;
            case RIGHT -> new Tokenized(Arrays.copyOf(t.ids(), maxLen), Arrays.copyOf(t.labels(), maxLen), t.source());
            case LEFT -> new Tokenized(Arrays.copyOfRange(t.ids(), t.length() - maxLen, t.length()),
                    Arrays.copyOfRange(t.labels(), t.length() - maxLen, t.length()), t.source());
        };
        return cut;
    }
}
