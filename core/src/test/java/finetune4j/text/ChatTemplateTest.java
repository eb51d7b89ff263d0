package finetune4j.text;

import com.fasterxml.jackson.databind.ObjectMapper;
import finetune4j.ConfigException;
import finetune4j.Finetune4jException;
import finetune4j.InvalidDataException;
import finetune4j.text.jinja.RenderLimits;
import finetune4j.text.jinja.TemplateException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/** ChatTemplate's API and its errors: raised messages, syntax errors, missing templates, bad messages. */
class ChatTemplateTest {
    static final String GEMMA_LIKE = "{{ bos_token }}{% if messages[0]['role'] == 'system' %}"
            + "{{ raise_exception('System role not supported') }}{% endif %}"
            + "{% for m in messages %}{{ '<turn>' + m['role'] + '\\n' + m['content'] | trim + '<end>\\n' }}{% endfor %}"
            + "{% if add_generation_prompt %}{{ '<turn>model\\n' }}{% endif %}";

    @TempDir
    Path dir;

    private TokenizerConfig config(String json) throws IOException {
        Files.writeString(dir.resolve("tokenizer_config.json"), json);
        return TokenizerConfig.load(dir);
    }

    private static String json(String s) throws Exception {
        return new ObjectMapper().writeValueAsString(s);
    }

    @Test
    void rendersWithTheConfigsSpecialTokens() throws Exception {
        ChatTemplate t = ChatTemplate.fromConfig(config("{\"bos_token\": \"<bos>\", \"chat_template\": " + json(GEMMA_LIKE) + "}"));
        assertThat(t.render(List.of(ChatMessage.user("  hi  ")), true))
                .isEqualTo("<bos><turn>user\nhi<end>\n<turn>model\n");
        assertThat(t.render(List.of(ChatMessage.user("hi")), false, Map.of("bos_token", "[B]")))
                .as("extra variables override special tokens").isEqualTo("[B]<turn>user\nhi<end>\n");
    }

    @Test
    void raiseExceptionSurfacesWithTheTemplatesMessage() throws Exception {
        ChatTemplate t = ChatTemplate.fromConfig(config("{\"chat_template\": " + json(GEMMA_LIKE) + "}"));
        TemplateException e = catchThrowableOfType(TemplateException.class,
                () -> t.render(List.of(ChatMessage.system("be nice"), ChatMessage.user("hi")), true));
        assertThat(e).isInstanceOf(Finetune4jException.class);
        assertThat(e.kind()).isEqualTo(TemplateException.Kind.RAISED);
        assertThat(e.templateMessage()).isEqualTo("System role not supported");
        assertThat(e.getMessage())
                .contains(dir.resolve("tokenizer_config.json") + " key 'chat_template'")
                .contains("the template raised an error")
                .contains("System role not supported");
    }

    @Test
    void syntaxErrorNamesTheConfigKeyAndLine() throws Exception {
        TokenizerConfig c = config("{\"chat_template\": " + json("line one\n{% for m in messages %}\n{{ m.content ) }}\n{% endfor %}") + "}");
        TemplateException e = catchThrowableOfType(TemplateException.class, () -> ChatTemplate.fromConfig(c));
        assertThat(e.kind()).isEqualTo(TemplateException.Kind.SYNTAX);
        assertThat(e.getMessage()).contains("tokenizer_config.json key 'chat_template'");
        assertThat(e.line()).isEqualTo(3);

        TemplateException unclosed = catchThrowableOfType(TemplateException.class,
                () -> ChatTemplate.of("{% for m in messages %}{{ m }}", "x.jinja"));
        assertThat(unclosed.kind()).isEqualTo(TemplateException.Kind.SYNTAX);
        assertThat(unclosed.getMessage()).startsWith("x.jinja: template syntax error");

        TemplateException filter = catchThrowableOfType(TemplateException.class, () -> ChatTemplate.of("{{ 1|nofilter }}", "x.jinja"));
        assertThat(filter.getMessage()).contains("No filter named 'nofilter'");

        TemplateException comment = catchThrowableOfType(TemplateException.class, () -> ChatTemplate.of("a {# open", "x.jinja"));
        assertThat(comment.getMessage()).contains("Missing end of comment tag");
    }

    @Test
    void runtimeErrorsNameTheSourceLine() {
        String src = "{#- header\n   spanning lines -#}\n{%- for m in messages %}\n  {{- m.content }}\n"
                + "  {%- if m.role == 'system' %}\n    {{- raise_exception('no system on line 6') }}\n  {%- endif %}\n{%- endfor %}\n";
        ChatTemplate t = ChatTemplate.of(src, "t.jinja");
        assertThat(t.render(List.of(ChatMessage.user("a"), ChatMessage.user("b")), false)).isEqualTo("ab");
        TemplateException e = catchThrowableOfType(TemplateException.class, () -> t.render(List.of(ChatMessage.system("s")), false));
        assertThat(e.line()).isEqualTo(6);
        assertThat(e.getMessage()).isEqualTo("t.jinja: the template raised an error at template line 6: no system on line 6"
                + " (hint: the template refuses this conversation; check the roles and their order it expects)");
        TemplateException te = catchThrowableOfType(TemplateException.class,
                () -> ChatTemplate.of("a\n\n{{ 'x' + 1 }}", "u.jinja").render(List.of(), false));
        assertThat(te.kind()).isEqualTo(TemplateException.Kind.RUNTIME);
        assertThat(te.line()).isEqualTo(3);
        assertThat(te.templateMessage()).isEqualTo("TypeError: can only concatenate str (not \"int\") to str");
    }

    @Test
    void missingChatTemplateGivesAHint() throws Exception {
        TokenizerConfig c = config("{\"bos_token\": \"<s>\"}");
        assertThatThrownBy(() -> ChatTemplate.fromConfig(c))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining(dir.toString())
                .hasMessageContaining("no chat template")
                .hasMessageContaining("hint: pass a template");
    }

    @Test
    void severalTemplatesWithoutDefaultNeedAName() throws Exception {
        TokenizerConfig c = config("{\"chat_template\": [{\"name\": \"chat_a\", \"template\": \"T\"}, {\"name\": \"rag\", \"template\": \"R\"}]}");
        assertThatThrownBy(() -> ChatTemplate.fromConfig(c))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("[chat_a, rag]")
                .hasMessageContaining("hint: pass a named template");
        assertThatThrownBy(() -> ChatTemplate.fromConfig(c, "chat"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("'chat'").hasMessageContaining("[chat_a, rag]");
        assertThat(ChatTemplate.fromConfig(c, "rag").render(List.of(), false)).isEqualTo("R");
    }

    @Test
    void toolUseTemplateIsChosenWhenToolsArePassed() throws Exception {
        TokenizerConfig c = config("{\"chat_template\": [{\"name\": \"default\", \"template\": \"D\"},"
                + " {\"name\": \"tool_use\", \"template\": \"T{{ tools|length }}\"}]}");
        ChatTemplate t = ChatTemplate.fromConfig(c);
        assertThat(t.render(List.of(), false)).isEqualTo("D");
        assertThat(t.render(ChatTemplate.Request.of(List.of(), false).withTools(List.of(Map.of("name", "f")))).text()).isEqualTo("T1");
        assertThat(ChatTemplate.fromConfig(c, "default").render(ChatTemplate.Request.of(List.of(), false)
                .withTools(List.of())).text()).as("an explicit name wins").isEqualTo("D");

        TokenizerConfig onlyTools = config("{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"T\"}]}");
        ChatTemplate tt = ChatTemplate.fromConfig(onlyTools);
        assertThat(tt.render(ChatTemplate.Request.of(List.of(), false).withTools(List.of())).text()).isEqualTo("T");
        assertThatThrownBy(() -> tt.render(List.of(), false)).isInstanceOf(ConfigException.class).hasMessageContaining("pass tools");
    }

    @Test
    void toolsAndDocumentsAreNoneUnlessGiven() {
        ChatTemplate t = ChatTemplate.of("{{ tools is defined }}/{{ tools is none }}/{{ documents is none }}/"
                + "{% for tool in tools or [] %}{{ tool.function.name }}{% endfor %}");
        assertThat(t.render(List.of(), false)).isEqualTo("True/True/True/");
        Map<String, Object> tool = Map.of("type", "function", "function", Map.of("name", "get_weather"));
        assertThat(t.render(ChatTemplate.Request.of(List.of(), false).withTools(List.of(tool))).text())
                .isEqualTo("True/False/True/get_weather");
    }

    @Test
    void messagesKeepEveryFieldFromJson() throws Exception {
        var node = new ObjectMapper().readTree("""
                [{"role": "user", "content": "Weather?"},
                 {"role": "assistant", "content": null, "tool_calls": [{"type": "function",
                   "function": {"name": "get_weather", "arguments": {"city": "Oslo", "days": 2}}}]},
                 {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "cold"}]}]""");
        List<ChatMessage> msgs = ChatMessage.listFromJson(node, "data.jsonl", 7);
        ChatTemplate t = ChatTemplate.of("{% for m in messages %}{{ m.role }}:{{ m.content }}"
                + "{% if m.tool_calls %}{{ m.tool_calls[0].function.arguments|tojson }}{% endif %}"
                + "{% if m.tool_call_id is defined %}#{{ m.tool_call_id }}{% endif %}|{% endfor %}");
        assertThat(t.render(msgs, false)).isEqualTo(
                "user:Weather?|assistant:None{\"city\": \"Oslo\", \"days\": 2}|tool:[{'type': 'text', 'text': 'cold'}]#c1|");
    }

    @Test
    void badMessagesAreRefusedWithTheirPlace() throws Exception {
        var node = new ObjectMapper().readTree("[{\"role\": \"user\", \"content\": \"a\"}, {\"content\": \"b\"}]");
        assertThatThrownBy(() -> ChatMessage.listFromJson(node, "data.jsonl", 7))
                .isInstanceOf(InvalidDataException.class)
                .hasMessageContaining("data.jsonl:7")
                .hasMessageContaining("messages[1].role");
        var bad = new ObjectMapper().readTree("[{\"role\": \"user\", \"content\": 5}]");
        assertThatThrownBy(() -> ChatMessage.listFromJson(bad, "data.jsonl", 8))
                .isInstanceOf(InvalidDataException.class).hasMessageContaining("messages[0].content");
        assertThatThrownBy(() -> ChatMessage.of("", "x")).isInstanceOf(InvalidDataException.class).hasMessageContaining("role");
    }

    @Test
    void limitsApply() {
        ChatTemplate t = ChatTemplate.of("{% for m in messages %}{{ m.content * 1000 }}{% endfor %}")
                .withLimits(new RenderLimits(5_000, Duration.ofSeconds(5), 100_000));
        assertThat(t.render(List.of(ChatMessage.user("ab")), false)).hasSize(2000);
        TemplateException e = catchThrowableOfType(TemplateException.class,
                () -> t.render(List.of(ChatMessage.user("abc"), ChatMessage.user("defgh")), false));
        assertThat(e.kind()).isEqualTo(TemplateException.Kind.LIMIT);
    }

    @Test
    void assistantSpansMarkGenerationBlocks() {
        ChatTemplate t = ChatTemplate.of("{% for m in messages %}<{{ m.role }}>{% if m.role == 'assistant' %}"
                + "{% generation %}{{ m.content }}</s>{% endgeneration %}{% else %}{{ m.content }}{% endif %}{% endfor %}");
        assertThat(t.hasAssistantMarkers()).isTrue();
        var r = t.render(ChatTemplate.Request.of(List.of(ChatMessage.user("q👋"), ChatMessage.assistant("a🎉")), false)
                .withAssistantSpans());
        assertThat(r.text()).isEqualTo("<user>q👋<assistant>a🎉</s>");
        assertThat(r.assistantSpans()).hasSize(1);
        var span = r.assistantSpans().get(0);
        assertThat(r.text().substring(span.start(), span.end())).isEqualTo("a🎉</s>");
        assertThat(t.render(List.of(ChatMessage.assistant("x")), false)).as("untracked render has no markers").isEqualTo("<assistant>x</s>");
        assertThatThrownBy(() -> t.render(ChatTemplate.Request.of(List.of(ChatMessage.user("\uFDD0")), false).withAssistantSpans()))
                .isInstanceOf(TemplateException.class).hasMessageContaining("U+FDD0");
    }

    @Test
    void concurrentRendersAgree() throws Exception {
        ChatTemplate t = ChatTemplate.of(GEMMA_LIKE).withSpecialTokens(Map.of("bos_token", "<bos>"));
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<String>> fs = new ArrayList<>();
            for (int i = 0; i < 64; i++) {
                int k = i;
                fs.add(pool.submit(() -> t.render(List.of(ChatMessage.user("m" + k), ChatMessage.assistant("r" + k)), true)));
            }
            for (int i = 0; i < fs.size(); i++) {
                assertThat(fs.get(i).get()).isEqualTo("<bos><turn>user\nm" + i + "<end>\n<turn>assistant\nr" + i + "<end>\n<turn>model\n");
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void nullExtraValuesAreNone() {
        Map<String, Object> extra = new HashMap<>();
        extra.put("flag", null);
        assertThat(ChatTemplate.of("{{ flag is defined }}/{{ flag is none }}").render(List.of(), false, extra)).isEqualTo("True/True");
    }
}
