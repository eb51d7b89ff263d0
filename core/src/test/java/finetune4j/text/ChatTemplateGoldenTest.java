package finetune4j.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import finetune4j.testing.SharedData;
import finetune4j.text.jinja.JinjaTemplate;
import finetune4j.text.jinja.TemplateException;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/**
 * Every case of chat-templates/goldens.json (rendered by tools/golden/chat_templates.py in
 * transformers' Jinja2 environment) renders identically here, character for character; expected
 * errors raise, and raise_exception(...) messages come through verbatim. Built-in templates are read
 * from the committed .jinja files, the others from ../shared/data/tokenizers (skipped when absent),
 * whose TokenizerConfig must also yield the special-token map transformers passed.
 */
class ChatTemplateGoldenTest {
    static final Clock FIXED = Clock.fixed(Instant.parse("2025-03-09T07:04:05Z"), ZoneOffset.UTC);
    static final ObjectMapper JSON = new ObjectMapper();

    static JsonNode resource(String name) throws Exception {
        try (InputStream in = ChatTemplateGoldenTest.class.getResourceAsStream("/chat-templates/" + name)) {
            if (in == null) throw new IllegalStateException("missing test resource chat-templates/" + name);
            return JSON.readTree(in);
        }
    }

    static String builtin(String name) throws Exception {
        try (InputStream in = ChatTemplateGoldenTest.class.getResourceAsStream("/chat-templates/builtin/" + name + ".jinja")) {
            if (in == null) throw new IllegalStateException("missing test resource chat-templates/builtin/" + name + ".jinja");
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @TestFactory
    List<DynamicTest> goldensMatchTransformers() throws Exception {
        JsonNode root = resource("goldens.json");
        List<DynamicTest> tests = new ArrayList<>();
        Map<String, ChatTemplate> cache = new HashMap<>();
        for (JsonNode c : root.get("cases")) {
            String id = c.get("template_id").asText() + " / " + c.get("case").asText();
            tests.add(DynamicTest.dynamicTest(id, () -> runCase(c, id, cache)));
        }
        assertThat(tests).hasSizeGreaterThan(100);
        return tests;
    }

    @SuppressWarnings("unchecked")
    private static void runCase(JsonNode c, String id, Map<String, ChatTemplate> cache) throws Exception {
        String templateId = c.get("template_id").asText();
        Map<String, Object> special = JSON.convertValue(c.get("special_tokens"), Map.class);
        ChatTemplate t = cache.get(templateId);
        if (t == null) {
            if (templateId.startsWith("builtin:")) {
                String name = templateId.substring("builtin:".length());
                t = ChatTemplate.of(builtin(name), "builtin/" + name + ".jinja").withSpecialTokens(special);
            } else {
                TokenizerConfig cfg = TokenizerConfig.load(SharedData.require(c.get("shared_dir").asText()));
                assertThat(cfg.specialTokensMap()).as("special tokens transformers passes for %s", templateId).isEqualTo(special);
                t = ChatTemplate.fromConfig(cfg, c.has("template_name") ? c.get("template_name").asText() : null);
            }
            t = t.withClock(FIXED);
            cache.put(templateId, t);
        }
        List<ChatMessage> messages = ChatMessage.listFromJson(c.get("messages"), id, 0);
        List<Object> tools = c.get("tools").isNull() ? null : JSON.convertValue(c.get("tools"), List.class);
        Map<String, Object> kwargs = JSON.convertValue(c.get("kwargs"), Map.class);
        ChatTemplate.Request req = ChatTemplate.Request.of(messages, c.get("add_generation_prompt").asBoolean())
                .withTools(tools).withExtra(kwargs).withAssistantSpans();
        ChatTemplate template = t;
        if (c.has("expected")) {
            ChatTemplate.Rendered r = template.render(req);
            String want = c.get("expected").asText();
            assertThat(r.text()).as(id).isEqualTo(want);
            if (c.has("generation_spans")) {
                List<JinjaTemplate.Span> wantSpans = new ArrayList<>();
                for (JsonNode s : c.get("generation_spans")) {
                    // Python offsets count code points; ours count UTF-16 chars
                    wantSpans.add(new JinjaTemplate.Span(want.offsetByCodePoints(0, s.get(0).asInt()),
                            want.offsetByCodePoints(0, s.get(1).asInt())));
                }
                assertThat(r.assistantSpans()).as("assistant spans of %s", id).isEqualTo(wantSpans);
            }
        } else {
            String kind = c.get("error_kind").asText();
            String msg = c.get("expected_error").asText();
            if (kind.equals("raise_exception")) {
                TemplateException e = catchThrowableOfType(TemplateException.class, () -> template.render(req));
                assertThat(e).as("%s must raise: %s", id, msg).isNotNull();
                assertThat(e.kind()).isEqualTo(TemplateException.Kind.RAISED);
                assertThat(e.templateMessage()).isEqualTo(msg);
                assertThat(e.getMessage()).contains(msg).contains(template.origin());
            } else {
                assertThatThrownBy(() -> template.render(req)).as("%s must fail like Python: %s", id, msg)
                        .isInstanceOf(TemplateException.class);
            }
        }
    }
}
