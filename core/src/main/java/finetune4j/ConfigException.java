package finetune4j;

/**
 * A configuration value (a CLI flag, a YAML/JSON config key, a config.json field) is invalid.
 * The message names the key, the value found and what is allowed.
 */
public class ConfigException extends Finetune4jException {
    private final String key;

    public ConfigException(String key, Object value, String allowed) {
        super(key + " = " + render(value) + " is not allowed: expected " + allowed);
        this.key = key;
    }

    /** For problems that are not a single bad value (e.g. a combination of flags). */
    public ConfigException(String message) {
        super(message);
        this.key = null;
    }

    private static String render(Object value) {
        return value instanceof CharSequence s ? "'" + s + "'" : String.valueOf(value);
    }

    /** The offending key, or {@code null} for a message-only problem. */
    public String key() {
        return key;
    }
}
