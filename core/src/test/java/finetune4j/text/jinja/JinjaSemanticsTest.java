package finetune4j.text.jinja;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.InputStream;
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
 * Each probe of chat-templates/jinja-semantics.json (rendered by Python's Jinja2 in transformers'
 * environment, tools/golden/chat_templates.py) renders to the same text here, character for
 * character, or fails where Python fails.
 */
class JinjaSemanticsTest {
    static final Clock FIXED = Clock.fixed(Instant.parse("2025-03-09T07:04:05Z"), ZoneOffset.UTC);

    static JsonNode load(String name) throws Exception {
        try (InputStream in = JinjaSemanticsTest.class.getResourceAsStream("/chat-templates/" + name)) {
            if (in == null) throw new IllegalStateException("missing test resource chat-templates/" + name);
            return new ObjectMapper().readTree(in);
        }
    }

    @TestFactory
    List<DynamicTest> probesMatchPythonJinja2() throws Exception {
        JsonNode root = load("jinja-semantics.json");
        ObjectMapper om = new ObjectMapper();
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode c : root.get("cases")) {
            String id = c.get("id").asText();
            tests.add(DynamicTest.dynamicTest(id, () -> {
                Map<String, Object> vars = new LinkedHashMap<>();
                vars.put("messages", List.of());
                vars.put("tools", null);
                vars.put("documents", null);
                vars.put("add_generation_prompt", false);
                @SuppressWarnings("unchecked")
                Map<String, Object> ctx = om.convertValue(c.get("context"), Map.class);
                vars.putAll(ctx);
                String source = c.get("template").asText();
                if (c.has("expected")) {
                    JinjaTemplate t = JinjaTemplate.compile(source, "probe " + id);
                    String got = t.render(vars, RenderLimits.DEFAULT, FIXED, false).text();
                    assertThat(got).as("probe %s: %s", id, source).isEqualTo(c.get("expected").asText());
                } else {
                    assertThatThrownBy(() -> JinjaTemplate.compile(source, "probe " + id)
                            .render(vars, RenderLimits.DEFAULT, FIXED, false))
                            .as("probe %s must fail like Python: %s", id, c.get("expected_error").asText())
                            .isInstanceOf(TemplateException.class);
                }
            }));
        }
        return tests;
    }
}
