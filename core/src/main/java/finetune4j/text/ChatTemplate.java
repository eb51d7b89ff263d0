package finetune4j.text;

import finetune4j.ConfigException;
import finetune4j.text.jinja.JinjaTemplate;
import finetune4j.text.jinja.RenderLimits;
import finetune4j.text.jinja.TemplateException;

import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A model's chat template: turns a conversation into the exact prompt text the model was trained
 * on, as Hugging Face transformers' {@code tokenizer.apply_chat_template(..., tokenize=False)} does.
 *
 * <p>The template sees {@code messages} (maps with role, content and any other fields),
 * {@code add_generation_prompt}, {@code tools} and {@code documents} (None when not given), the
 * tokenizer's special tokens ({@code bos_token}, {@code eos_token}, ...; unset ones are undefined),
 * and any extra variables, which override the special tokens. It may call
 * {@code raise_exception(msg)} (surfacing as a {@link TemplateException} of kind RAISED carrying
 * {@code msg}) and {@code strftime_now(fmt)}. Rendering is sandboxed and bounded by
 * {@link RenderLimits}; see {@link JinjaTemplate} for the engine.
 *
 * {@snippet :
 * TokenizerConfig cfg = TokenizerConfig.load(Path.of("models/qwen3"));
 * ChatTemplate t = ChatTemplate.fromConfig(cfg);
 * String prompt = t.render(List.of(ChatMessage.user("Hi!")), true, Map.of("enable_thinking", false));
 * }
 */
public final class ChatTemplate {
    private final JinjaTemplate template;            // null only when the config has just a 'tool_use' template
    private final JinjaTemplate toolUse;             // the config's 'tool_use' template when chosen by default, else null
    private final Map<String, Object> specialTokens;
    private final RenderLimits limits;
    private final Clock clock;

    private ChatTemplate(JinjaTemplate template, JinjaTemplate toolUse, Map<String, Object> specialTokens,
                         RenderLimits limits, Clock clock) {
        this.template = template;
        this.toolUse = toolUse;
        this.specialTokens = specialTokens;
        this.limits = limits;
        this.clock = clock;
    }

    /** Everything one render takes; {@code tools}/{@code documents} null means "not given" (None). */
    public record Request(List<ChatMessage> messages, boolean addGenerationPrompt, List<?> tools, List<?> documents,
                          Map<String, ?> extra, boolean trackAssistantSpans) {
        public Request {
            if (messages == null) throw new IllegalArgumentException("messages is null");
            messages = List.copyOf(messages);
            extra = extra == null ? Map.of() : extra;
        }

        public static Request of(List<ChatMessage> messages, boolean addGenerationPrompt) {
            return new Request(messages, addGenerationPrompt, null, null, Map.of(), false);
        }

        public Request withTools(List<?> tools) {
            return new Request(messages, addGenerationPrompt, tools, documents, extra, trackAssistantSpans);
        }

        public Request withDocuments(List<?> documents) {
            return new Request(messages, addGenerationPrompt, tools, documents, extra, trackAssistantSpans);
        }

        public Request withExtra(Map<String, ?> extra) {
            return new Request(messages, addGenerationPrompt, tools, documents, extra, trackAssistantSpans);
        }

        /** Also return the {@code {% generation %}} spans (transformers' return_assistant_tokens_mask). */
        public Request withAssistantSpans() {
            return new Request(messages, addGenerationPrompt, tools, documents, extra, true);
        }
    }

    /**
     * The prompt text and, when requested and the template marks them with {@code {% generation %}},
     * the assistant spans as half-open UTF-16 char ranges of {@code text}.
     */
    public record Rendered(String text, List<JinjaTemplate.Span> assistantSpans) {
    }

    /** A template from its Jinja source. @throws TemplateException when it does not parse */
    public static ChatTemplate of(String source) {
        return of(source, "chat template");
    }

    /** As {@link #of(String)}, naming {@code origin} (a file, a config key) in every error. */
    public static ChatTemplate of(String source, String origin) {
        return new ChatTemplate(JinjaTemplate.compile(source, origin), null, Map.of(), RenderLimits.DEFAULT, Clock.systemDefaultZone());
    }

    /**
     * The default chat template of a tokenizer directory, with its special tokens: the
     * {@code chat_template.jinja} file, the config's {@code chat_template} string, or the template
     * named "default" in a list. As in transformers, a template named "tool_use" is used instead
     * whenever tools are passed.
     *
     * @throws ConfigException when there is no template, or several and neither "default" nor "tool_use"
     * @throws TemplateException when a template does not parse (naming the file and key)
     */
    public static ChatTemplate fromConfig(TokenizerConfig config) {
        return fromConfig(config, null);
    }

    /**
     * The chat template called {@code name} (e.g. "tool_use", "rag") of a tokenizer directory, or
     * the default one (see {@link #fromConfig(TokenizerConfig)}) when {@code name} is null.
     */
    public static ChatTemplate fromConfig(TokenizerConfig config, String name) {
        Map<String, TokenizerConfig.TemplateSource> all = config.chatTemplates();
        if (all.isEmpty()) {
            throw new ConfigException(config.describe() + ": no chat template (neither a 'chat_template' key in "
                    + TokenizerConfig.CONFIG_FILE + " nor a " + TokenizerConfig.CHAT_TEMPLATE_FILE + " file); this is"
                    + " probably a base model's tokenizer (hint: pass a template: ChatTemplate.of(source), e.g. ChatML,"
                    + " or choose a chat/instruct model)");
        }
        Map<String, Object> tokens = config.specialTokensMap();
        if (name != null) {
            TokenizerConfig.TemplateSource chosen = all.get(name);
            if (chosen == null) throw new ConfigException("chat_template", name, "one of " + all.keySet() + " in " + config.describe());
            return new ChatTemplate(compile(chosen), null, tokens, RenderLimits.DEFAULT, Clock.systemDefaultZone());
        }
        TokenizerConfig.TemplateSource dflt = all.get("default"), tool = all.get("tool_use");
        if (dflt == null && tool == null) {
            throw new ConfigException(config.describe() + " has several chat templates " + all.keySet()
                    + " and none is named 'default' (hint: pass a named template, e.g. ChatTemplate.fromConfig(config, \""
                    + all.keySet().iterator().next() + "\"))");
        }
        return new ChatTemplate(dflt == null ? null : compile(dflt), tool == null ? null : compile(tool), tokens,
                RenderLimits.DEFAULT, Clock.systemDefaultZone());
    }

    private static JinjaTemplate compile(TokenizerConfig.TemplateSource s) {
        return JinjaTemplate.compile(s.source(), s.origin());
    }

    /** A copy passing these special tokens (by attribute name: bos_token, eos_token, ...). */
    public ChatTemplate withSpecialTokens(Map<String, ?> tokens) {
        return new ChatTemplate(template, toolUse, Map.copyOf(tokens), limits, clock);
    }

    public ChatTemplate withLimits(RenderLimits limits) {
        return new ChatTemplate(template, toolUse, specialTokens, limits, clock);
    }

    /** The clock {@code strftime_now} reads (fix it for reproducible prompts). */
    public ChatTemplate withClock(Clock clock) {
        return new ChatTemplate(template, toolUse, specialTokens, limits, clock);
    }

    /** {@code apply_chat_template(messages, add_generation_prompt=..., tokenize=False, **extra)}. */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt, Map<String, ?> extra) {
        return render(Request.of(messages, addGenerationPrompt).withExtra(extra)).text();
    }

    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return render(messages, addGenerationPrompt, Map.of());
    }

    /** Renders a full request (tools, documents, assistant spans). */
    public Rendered render(Request request) {
        Map<String, Object> vars = new LinkedHashMap<>();
        List<Object> messages = new ArrayList<>(request.messages().size());
        for (ChatMessage m : request.messages()) messages.add(m.fields());
        vars.put("messages", messages);
        vars.put("tools", request.tools());
        vars.put("documents", request.documents());
        vars.put("add_generation_prompt", request.addGenerationPrompt());
        vars.putAll(specialTokens);
        vars.putAll(request.extra());
        JinjaTemplate.Result r = select(request.tools() != null).render(vars, limits, clock, request.trackAssistantSpans());
        return new Rendered(r.text(), r.generationSpans());
    }

    /** transformers' get_chat_template: 'tool_use' when tools are passed and it exists, else the default. */
    private JinjaTemplate select(boolean withTools) {
        if (withTools && toolUse != null) return toolUse;
        if (template == null) {
            throw new ConfigException(toolUse.origin() + ": this tokenizer has only a 'tool_use' chat template, which"
                    + " transformers applies when tools are passed (hint: pass tools, or a named template)");
        }
        return template;
    }

    /** True when the (default) template marks assistant text with {@code {% generation %}}. */
    public boolean hasAssistantMarkers() {
        return template != null ? template.hasGenerationMarkers() : toolUse.hasGenerationMarkers();
    }

    /** The source of the template used without tools (the 'tool_use' one if it is the only one). */
    public String source() {
        return (template != null ? template : toolUse).source();
    }

    public String origin() {
        return (template != null ? template : toolUse).origin();
    }

    /** The special tokens passed to the template. */
    public Map<String, Object> specialTokens() {
        return specialTokens;
    }

    @Override
    public String toString() {
        return "ChatTemplate[" + origin() + (template != null && toolUse != null ? " + tool_use" : "") + "]";
    }
}
