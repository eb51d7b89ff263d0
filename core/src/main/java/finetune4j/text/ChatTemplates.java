package finetune4j.text;

import finetune4j.ConfigException;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Chat templates shipped with finetune4j, and the choice of template for a dataset
 * ({@code --template}): the model's own, a named one, or a user's Jinja file.
 *
 * <p>Named templates (sources in {@code chat-templates/builtin/} on the classpath): {@code alpaca}
 * (Stanford Alpaca prompts, exactly), {@code chatml}, {@code chatml-tools} (ChatML with Hermes/Qwen2.5
 * tool calls), {@code chatml-generation} (ChatML with {@code {% generation %}} markers),
 * {@code llama2}, {@code llama3}, {@code llama3.2} (with tools), {@code mistral} ([INST]) and
 * {@code zephyr}. All but alpaca are the templates the respective models ship, rendered identically
 * to transformers (see ChatTemplateGoldenTest).
 */
public final class ChatTemplates {
    /** Name → resource file. */
    private static final Map<String, String> NAMED = new LinkedHashMap<>();

    static {
        NAMED.put("alpaca", "alpaca");
        NAMED.put("chatml", "chatml");
        NAMED.put("chatml-tools", "chatml-tools");
        NAMED.put("chatml-generation", "chatml-generation");
        NAMED.put("llama2", "llama2-chat");
        NAMED.put("llama3", "llama3");
        NAMED.put("llama3.2", "llama3.2");
        NAMED.put("mistral", "mistral-inst");
        NAMED.put("zephyr", "zephyr");
    }

    private ChatTemplates() {
    }

    /** The names {@link #named} knows. */
    public static List<String> names() {
        return List.copyOf(NAMED.keySet());
    }

    /** The Jinja source of a named template. @throws ConfigException for an unknown name */
    public static String source(String name) {
        String file = NAMED.get(name);
        if (file == null) throw new ConfigException("--template", name, "one of " + names() + ", 'model', or a .jinja file");
        String res = "/chat-templates/builtin/" + file + ".jinja";
        try (InputStream in = ChatTemplates.class.getResourceAsStream(res)) {
            if (in == null) throw new IllegalStateException("missing resource " + res);
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A named template (no special tokens set; see {@link ChatTemplate#withSpecialTokens}). */
    public static ChatTemplate named(String name) {
        return ChatTemplate.of(source(name), "template '" + name + "'");
    }

    /**
     * The template used to render conversations.
     *
     * @param name              "model", a named template, or the path of a Jinja file
     * @param template          with the tokenizer's special tokens
     * @param addSpecialTokens  tokenize the rendered text with the tokenizer's special tokens (its BOS):
     *                          true only for {@code alpaca}, whose reference (Stanford train.py) does so;
     *                          chat templates write their special tokens themselves, and transformers
     *                          tokenizes their output without adding any
     */
    public record Choice(String name, ChatTemplate template, boolean addSpecialTokens) {
    }

    /**
     * Chooses the template: {@code spec} null → the model's chat template when it has one, else
     * {@code alpaca}; "model" → the model's (an error when it has none); a named template; or a
     * path to a Jinja file. Special tokens come from {@code config} (eos_token falls back to
     * {@code fallbackEos}, the tokenizer.json's EOS, when the config has none).
     */
    public static Choice choose(String spec, TokenizerConfig config, String fallbackEos) {
        Map<String, Object> special = new LinkedHashMap<>(config.specialTokensMap());
        if (!special.containsKey("eos_token") && fallbackEos != null) special.put("eos_token", fallbackEos);
        if (spec == null) {
            if (config.hasChatTemplate()) return new Choice("model", ChatTemplate.fromConfig(config), false);
            return new Choice("alpaca", named("alpaca").withSpecialTokens(special), true);
        }
        if (spec.equals("model")) return new Choice("model", ChatTemplate.fromConfig(config), false);
        if (NAMED.containsKey(spec)) return new Choice(spec, named(spec).withSpecialTokens(special), spec.equals("alpaca"));
        Path file = Path.of(spec);
        if (Files.isRegularFile(file)) {
            try {
                return new Choice(file.toString(), ChatTemplate.of(Files.readString(file, StandardCharsets.UTF_8), file.toString())
                        .withSpecialTokens(special), false);
            } catch (IOException e) {
                throw new ConfigException("--template", spec, "a readable Jinja file (" + e.getMessage() + ")");
            }
        }
        throw new ConfigException("--template", spec, "'model', one of " + names() + ", or an existing .jinja file");
    }
}
