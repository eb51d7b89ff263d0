package finetune4j.text;

import finetune4j.InvalidDataException;
import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The trained spans {@link ConversationRenderer} finds, on every named template: each assistant turn
 * is its text plus the end-of-turn text the template writes, nothing of the header before it or the
 * newline after; the prefix method agrees with {@code {% generation %}} markers; unstable templates,
 * templates that raise and templates that drop tool calls are refused with the source named.
 */
class ConversationRendererTest {
    static final Map<String, Object> SPECIAL = Map.of("bos_token", "<s>", "eos_token", "</s>");
    static final List<ChatMessage> CHAT = List.of(ChatMessage.system("Be brief."), ChatMessage.user("Hi there"),
            ChatMessage.assistant("Hello."), ChatMessage.user("2+2?"), ChatMessage.assistant("4"));

    static ConversationRenderer renderer(String name) {
        return new ConversationRenderer(ChatTemplates.named(name).withSpecialTokens(SPECIAL)
                .withClock(Clock.fixed(Instant.parse("2025-03-09T07:04:05Z"), ZoneOffset.UTC)));
    }

    static List<String> spans(ConversationRenderer.Rendered r) {
        List<String> out = new ArrayList<>();
        for (ConversationRenderer.Span s : r.trained()) out.add(r.text().substring(s.start(), s.end()));
        return out;
    }

    @Test
    void everyTemplateTrainsEachAnswerWithItsEndOfTurnText() {
        Map<String, List<String>> want = new LinkedHashMap<>();
        want.put("chatml", List.of("Hello.<|im_end|>", "4<|im_end|>"));
        want.put("chatml-tools", List.of("Hello.<|im_end|>", "4<|im_end|>"));
        want.put("chatml-generation", List.of("Hello.<|im_end|>", "4<|im_end|>"));
        want.put("llama3", List.of("Hello.<|eot_id|>", "4<|eot_id|>"));
        want.put("llama3.2", List.of("Hello.<|eot_id|>", "4<|eot_id|>"));
        want.put("llama2", List.of(" Hello. </s>", " 4 </s>"));
        want.put("zephyr", List.of("Hello.</s>", "4</s>"));
        want.put("alpaca", List.of("Hello.</s>", "4</s>"));
        for (var e : want.entrySet()) {
            ConversationRenderer r = renderer(e.getKey());
            ConversationRenderer.Rendered all = r.render("t:1", CHAT, null, -1, TrainOn.ASSISTANT);
            assertThat(spans(all)).as(e.getKey()).isEqualTo(e.getValue());
            assertThat(spans(r.render("t:1", CHAT, null, -1, TrainOn.LAST_ASSISTANT))).as(e.getKey()).containsExactly(e.getValue().getLast());
            assertThat(spans(r.render("t:1", CHAT, null, -1, TrainOn.COMPLETION))).as(e.getKey()).containsExactly(e.getValue().getLast());
            assertThat(r.render("t:1", CHAT, null, -1, TrainOn.ALL).trained()).containsExactly(new ConversationRenderer.Span(0, all.text().length()));
        }
        // mistral refuses a system message: without it, the same shape
        List<ChatMessage> noSystem = CHAT.subList(1, CHAT.size());
        assertThat(spans(renderer("mistral").render("t:1", noSystem, null, -1, TrainOn.ASSISTANT))).containsExactly("Hello.</s>", "4</s>");
    }

    @Test
    void prefixRendersAgreeWithGenerationMarkers() {
        ConversationRenderer plain = renderer("chatml"), marked = renderer("chatml-generation");
        for (List<ChatMessage> c : List.of(CHAT, CHAT.subList(1, 3), List.of(ChatMessage.user("a"), ChatMessage.assistant(" spaced \n"),
                ChatMessage.user("b"), ChatMessage.assistant("x\ny")))) {
            ConversationRenderer.Rendered p = plain.render("t:1", c, null, -1, TrainOn.ASSISTANT), g = marked.render("t:1", c, null, -1, TrainOn.ASSISTANT);
            assertThat(p.method()).isEqualTo("prefix");
            assertThat(g.method()).isEqualTo("generation");
            assertThat(p.text()).isEqualTo(g.text());
            assertThat(p.trained()).isEqualTo(g.trained());
        }
    }

    @Test
    void unstablePrefixIsRefusedButTheLastTurnStillWorks() {
        // rewrites earlier turns once a later one exists (as Qwen3 drops past reasoning)
        ConversationRenderer r = new ConversationRenderer(ChatTemplate.of("{% for m in messages %}{% if m.role == 'assistant' and loop.last %}"
                + "[final]{% endif %}<{{ m.role }}>{{ m.content }}</{{ m.role }}>{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}"));
        assertThatThrownBy(() -> r.render("data.jsonl:7", CHAT, null, -1, TrainOn.ASSISTANT)).isInstanceOf(InvalidDataException.class)
                .hasMessageContaining("data.jsonl:7").hasMessageContaining("not prefix-stable");
        // the last assistant turn's prefix is stable: "<assistant>" is a prefix of "[final]<assistant>"? no: so completion also fails
        ConversationRenderer ok = new ConversationRenderer(ChatTemplate.of("{% for m in messages %}{% if m.role == 'assistant' and not loop.last %}"
                + "<old>{% endif %}<{{ m.role }}>{{ m.content }}</{{ m.role }}>{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}"));
        assertThatThrownBy(() -> ok.render("d:1", CHAT, null, -1, TrainOn.ASSISTANT)).hasMessageContaining("not prefix-stable");
        assertThat(spans(ok.render("d:1", CHAT, null, -1, TrainOn.LAST_ASSISTANT))).containsExactly("4</assistant>");
    }

    @Test
    void templateErrorsNameTheSource() {
        assertThatThrownBy(() -> renderer("mistral").render("chats.jsonl:3", CHAT, null, -1, TrainOn.ASSISTANT))
                .isInstanceOf(InvalidDataException.class).hasMessageStartingWith("chats.jsonl:3: chat template: ")
                .hasMessageContaining("Conversation roles must alternate");
    }

    @Test
    void toolCallsNeedATemplateThatWritesThem() {
        Map<String, Object> call = new LinkedHashMap<>();
        call.put("type", "function");
        call.put("function", Map.of("name", "get_weather", "arguments", Map.of("city", "Paris")));
        Map<String, Object> asst = new LinkedHashMap<>();
        asst.put("role", "assistant");
        asst.put("content", "");
        asst.put("tool_calls", List.of(call));
        List<ChatMessage> c = List.of(ChatMessage.user("Weather?"), ChatMessage.fromMap(asst), ChatMessage.tool("{\"t\": 21}"),
                ChatMessage.assistant("21 degrees."));
        List<Object> tools = List.of(Map.of("type", "function", "function", Map.of("name", "get_weather", "parameters", Map.of())));
        assertThat(spans(renderer("chatml-tools").render("t:1", c, tools, -1, TrainOn.ASSISTANT))).containsExactly(
                "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call><|im_end|>", "21 degrees.<|im_end|>");
        assertThat(spans(renderer("llama3.2").render("t:1", c, tools, -1, TrainOn.ASSISTANT))).containsExactly(
                "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}<|eot_id|>", "21 degrees.<|eot_id|>");
        assertThatThrownBy(() -> renderer("zephyr").render("t:9", c, tools, -1, TrainOn.ASSISTANT))
                .hasMessageStartingWith("t:9: field 'messages[1].tool_calls': the chat template does not write tool calls");
    }

    @Test
    void weightZeroTurnsAndConversationalCompletions() {
        List<ChatMessage> c = new ArrayList<>(CHAT);
        c.set(2, ChatMessage.assistant("Hello.").with("weight", 0));
        assertThat(spans(renderer("chatml").render("t:1", c, null, -1, TrainOn.ASSISTANT))).containsExactly("4<|im_end|>");
        assertThat(spans(renderer("chatml-generation").render("t:1", c, null, -1, TrainOn.ASSISTANT))).containsExactly("4<|im_end|>");
        // prompt = the first two messages: the completion runs from the first answer to the end
        assertThat(spans(renderer("chatml").render("t:1", CHAT, null, 2, TrainOn.COMPLETION))).containsExactly(
                "Hello.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>");
    }

    @Test
    void alpacaIsTheStanfordPromptExactly() {
        Map<String, Object> user = new LinkedHashMap<>();
        user.put("role", "user");
        user.put("content", "Add.\n\n1 2");
        user.put("instruction", "Add.");
        user.put("input", "1 2");
        ConversationRenderer.Rendered r = renderer("alpaca").render("t:1", List.of(ChatMessage.fromMap(user), ChatMessage.assistant("3")),
                null, -1, TrainOn.ASSISTANT);
        assertThat(r.text()).isEqualTo("Below is an instruction that describes a task, paired with an input that provides further context. "
                + "Write a response that appropriately completes the request.\n\n### Instruction:\nAdd.\n\n### Input:\n1 2\n\n### Response:3</s>");
        assertThat(spans(r)).containsExactly("3</s>");
    }
}
