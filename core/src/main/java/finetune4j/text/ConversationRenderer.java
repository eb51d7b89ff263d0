package finetune4j.text;

import finetune4j.InvalidDataException;
import finetune4j.text.jinja.JinjaTemplate;
import finetune4j.text.jinja.TemplateException;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Renders a conversation with a chat template and finds, in the rendered text, the character spans
 * whose tokens are trained ({@link TrainOn}). The spans come from the text itself, so they are right
 * whatever the template writes around each turn.
 *
 * <p>How an assistant turn's span is found:
 * <ol>
 *   <li>When the template marks assistant text with {@code {% generation %}...{% endgeneration %}},
 *       the marked spans, as transformers' {@code return_assistant_tokens_mask} uses them.</li>
 *   <li>Otherwise by rendering prefixes: for assistant message i, {@code P = render(messages[:i],
 *       add_generation_prompt=True)} and {@code F = render(messages[:i+1])}; the turn is
 *       {@code F[len(P):]} with trailing ASCII whitespace (space, tab, CR, LF, FF, VT) removed. So the span holds the assistant's text
 *       and whatever the template writes after it up to the next turn (its end-of-turn token:
 *       {@code <|im_end|>}, {@code <|eot_id|>}, {@code </s>}), but not the header the generation
 *       prompt already wrote ({@code <|im_start|>assistant\n}) nor the newline between turns. This
 *       needs a prefix-stable template: P must start F and F must start the full rendering. A
 *       template that rewrites earlier turns (Qwen3 drops past reasoning; some put tools before the
 *       last user turn) is refused for that conversation, naming the message (hint: a template with
 *       generation markers, or {@code --train-on last-assistant}, which renders only the final prefix).</li>
 * </ol>
 * {@code completion}: from the end of {@code render(messages[:k], add_generation_prompt=True)} (k =
 * the first completion message) to the end, trailing whitespace removed. Errors (a template that
 * raises, an unstable prefix, an empty turn, tool calls the template does not write) are
 * {@link InvalidDataException}s naming the example's source.
 */
public final class ConversationRenderer {
    private final ChatTemplate template;

    public ConversationRenderer(ChatTemplate template) {
        this.template = template;
    }

    public ChatTemplate template() {
        return template;
    }

    /** A half-open range {@code [start, end)} of the rendered text, in UTF-16 units. */
    public record Span(int start, int end) {
    }

    /**
     * The rendered text and its trained spans.
     *
     * @param method "all", "generation" ({@code {% generation %}} markers) or "prefix" (prefix renders)
     */
    public record Rendered(String text, List<Span> trained, String method) {
        public Rendered {
            trained = List.copyOf(trained);
        }
    }

    /**
     * Renders {@code messages} (with {@code tools}, null for none) and finds the spans trained under {@code mode}.
     *
     * @param source          the example's {@code path:line}, named in errors
     * @param completionStart first message of the completion (for {@link TrainOn#COMPLETION}); −1: the
     *                        final run of assistant messages
     * @throws InvalidDataException when the conversation cannot be rendered or masked
     */
    public Rendered render(String source, List<ChatMessage> messages, List<?> tools, int completionStart, TrainOn mode) {
        String text = render(source, messages, tools, false);
        checkToolsRendered(source, messages, tools, text);
        List<Span> spans = new ArrayList<>();
        switch (mode) {
            case ALL -> {
                spans.add(new Span(0, text.length()));
                return new Rendered(text, spans, "all");
            }
            case COMPLETION -> {
                int k = completionStart;
                if (k < 0) {
                    k = messages.size();
                    while (k > 0 && messages.get(k - 1).role().equals("assistant")) k--;
                }
                String p = prefix(source, messages, tools, k, text);
                int end = trimmedEnd(text, p.length());
                if (end <= p.length()) throw new InvalidDataException(source, 0, null, "the completion renders as no text: nothing to train on");
                spans.add(new Span(p.length(), end));
                return new Rendered(text, spans, template.hasAssistantMarkers() ? "generation" : "prefix");
            }
            default -> {
            }
        }
        List<Integer> assistants = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) if (messages.get(i).role().equals("assistant")) assistants.add(i);
        if (assistants.isEmpty()) throw new InvalidDataException(source, 0, null, "no assistant turn: nothing to train on");
        List<Integer> wanted = mode == TrainOn.LAST_ASSISTANT ? List.of(assistants.getLast()) : assistants;
        if (template.hasAssistantMarkers()) {
            List<JinjaTemplate.Span> marked = renderWithSpans(source, messages, tools).assistantSpans();
            if (marked.isEmpty()) {
                throw new InvalidDataException(source, 0, null, "the chat template has {% generation %} markers but marks no text in this"
                        + " conversation (hint: --train-on all, or another --template)");
            }
            boolean aligned = marked.size() == assistants.size();
            for (int k = 0; k < marked.size(); k++) {
                if (mode == TrainOn.LAST_ASSISTANT && k != marked.size() - 1) continue;
                if (aligned && zeroWeight(messages.get(assistants.get(k)))) continue;
                spans.add(new Span(marked.get(k).start(), marked.get(k).end()));
            }
            if (spans.isEmpty()) throw new InvalidDataException(source, 0, null, "every assistant turn has weight 0: nothing to train on");
            return new Rendered(text, spans, "generation");
        }
        for (int i : wanted) {
            if (zeroWeight(messages.get(i))) continue;
            String p = prefix(source, messages, tools, i, text);
            String f = i == messages.size() - 1 ? text : render(source, messages.subList(0, i + 1), tools, false);
            if (!f.startsWith(p) || !text.startsWith(f)) {
                throw new InvalidDataException(source, 0, "messages[" + i + "]", "the chat template is not prefix-stable here: rendering the"
                        + " conversation up to this assistant turn does not give a prefix of the whole rendering, so the turn's span cannot be"
                        + " found (hint: a template with {% generation %} markers, or --train-on last-assistant)");
            }
            int end = trimmedEnd(f, p.length());
            if (end <= p.length()) {
                throw new InvalidDataException(source, 0, "messages[" + i + "]", "empty assistant turn: the template renders no text for it");
            }
            spans.add(new Span(p.length(), end));
        }
        if (spans.isEmpty()) throw new InvalidDataException(source, 0, null, "every assistant turn has weight 0: nothing to train on");
        return new Rendered(text, spans, "prefix");
    }

    /** {@code render(messages[:k], add_generation_prompt=True)}, checked to start {@code text}. */
    private String prefix(String source, List<ChatMessage> messages, List<?> tools, int k, String text) {
        String p = render(source, messages.subList(0, k), tools, true);
        if (!text.startsWith(p)) {
            throw new InvalidDataException(source, 0, "messages[" + k + "]", "the chat template is not prefix-stable here: the rendering"
                    + " of the conversation before this message (with the generation prompt) is not a prefix of the whole rendering (hint: a"
                    + " template with {% generation %} markers, or --train-on last-assistant)");
        }
        return p;
    }

    private String render(String source, List<ChatMessage> messages, List<?> tools, boolean addGenerationPrompt) {
        try {
            return template.render(ChatTemplate.Request.of(messages, addGenerationPrompt).withTools(tools)).text();
        } catch (TemplateException e) {
            throw new InvalidDataException(source, 0, null, "chat template: " + e.getMessage());
        }
    }

    private ChatTemplate.Rendered renderWithSpans(String source, List<ChatMessage> messages, List<?> tools) {
        try {
            return template.render(ChatTemplate.Request.of(messages, false).withTools(tools).withAssistantSpans());
        } catch (TemplateException e) {
            throw new InvalidDataException(source, 0, null, "chat template: " + e.getMessage());
        }
    }

    /**
     * A template that ignores tool calls would silently drop them: every called function's name and
     * every tool definition's name must appear in the rendered text.
     */
    private void checkToolsRendered(String source, List<ChatMessage> messages, List<?> tools, String text) {
        for (int i = 0; i < messages.size(); i++) {
            if (!(messages.get(i).fields().get("tool_calls") instanceof List<?> calls)) continue;
            for (Object c : calls) {
                String name = functionName(c);
                if (name != null && !text.contains(name)) {
                    throw new InvalidDataException(source, 0, "messages[" + i + "].tool_calls", "the chat template does not write tool calls"
                            + " ('" + name + "' is missing from the rendered text) (hint: --template chatml-tools or llama3.2, or a model"
                            + " template that supports tools)");
                }
            }
        }
        if (tools == null) return;
        for (Object t : tools) {
            String name = functionName(t);
            if (name != null && !text.contains(name)) {
                throw new InvalidDataException(source, 0, "tools", "the chat template does not write tool definitions ('" + name
                        + "' is missing from the rendered text) (hint: --template chatml-tools or llama3.2)");
            }
        }
    }

    private static String functionName(Object callOrTool) {
        if (!(callOrTool instanceof Map<?, ?> m)) return null;
        Object f = m.get("function");
        if (f instanceof Map<?, ?> fm && fm.get("name") instanceof String s) return s;
        return m.get("name") instanceof String s ? s : null;
    }

    private static boolean zeroWeight(ChatMessage m) {
        return m.fields().get("weight") instanceof Number n && n.doubleValue() == 0;
    }

    /** The end of {@code s} without trailing ASCII whitespace (space, \t, \n, \r, \f, \v), not before {@code from}. */
    private static int trimmedEnd(String s, int from) {
        int end = s.length();
        while (end > from && " \t\n\r\f\u000B".indexOf(s.charAt(end - 1)) >= 0) end--;
        return end;
    }
}
