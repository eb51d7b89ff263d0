package finetune4j.data;

import finetune4j.ConfigException;

import java.util.Arrays;
import java.util.List;

/**
 * The dataset record layouts finetune4j reads (SPECS.md §3f), each turned into an {@link Example}.
 * Detected per record from its keys (see {@link RecordParser}), or forced with {@code --format}.
 */
public enum DataFormat {
    /** {@code {"text": ...}}: plain language-modelling text, every token trained. */
    TEXT("text"),
    /** {@code {"prompt": ..., "completion": ...}}: strings (TRL standard) or message lists (TRL conversational). */
    COMPLETION("completion"),
    /** Stanford Alpaca {@code {"instruction", "input", "output"}}. */
    ALPACA("alpaca"),
    /** Databricks Dolly {@code {"instruction", "context", "response", "category"}}. */
    DOLLY("dolly"),
    /** OpenAssistant: exported message trees ({@code prompt} with nested {@code replies}), nodes, or flat message rows. */
    OASST("oasst"),
    /** ShareGPT {@code {"conversations": [{"from", "value"}]}} (also role/content, function_call/observation, tools). */
    SHAREGPT("sharegpt"),
    /** OpenAI chat {@code {"messages": [{"role", "content"}], "tools": [...]}} with {@code tool_calls}. */
    MESSAGES("messages");

    private final String id;

    DataFormat(String id) {
        this.id = id;
    }

    /** The name used on the command line and in reports. */
    public String id() {
        return id;
    }

    /** The format called {@code name} (its id, or one of the aliases prompt-completion, openai, chat). */
    public static DataFormat parse(String name) {
        String n = name.trim().toLowerCase(java.util.Locale.ROOT);
        for (DataFormat f : values()) if (f.id.equals(n)) return f;
        return switch (n) {
            case "prompt-completion", "prompt_completion" -> COMPLETION;
            case "openai", "chat" -> MESSAGES;
            case "openassistant", "oasst1" -> OASST;
            default -> throw new ConfigException("--format", name, "one of " + ids());
        };
    }

    static List<String> ids() {
        return Arrays.stream(values()).map(DataFormat::id).toList();
    }
}
