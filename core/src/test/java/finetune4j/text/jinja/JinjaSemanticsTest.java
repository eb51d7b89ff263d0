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

    /**
     * The Jinja2 filters whose output is Python library code (or random) fail naming the filter
     * and the reason, as does attr() of a method name, instead of rendering something else.
     */
    @org.junit.jupiter.api.Test
    void filtersNotReproducedFailWithTheReason() {
        Map<String, String> uses = Map.of("pprint", "{{ [1]|pprint }}", "random", "{{ [1, 2]|random }}",
                "striptags", "{{ '<b>x</b>'|striptags }}", "urlize", "{{ 'see https://x.org'|urlize }}",
                "wordwrap", "{{ 'a b'|wordwrap(1) }}");
        assertThat(uses.keySet()).isEqualTo(PyFilters.NOT_REPRODUCED.keySet());
        uses.forEach((name, source) -> assertThatThrownBy(() -> JinjaTemplate.compile(source, "probe " + name)
                .render(Map.of(), RenderLimits.DEFAULT, FIXED, false))
                .isInstanceOf(TemplateException.class)
                .hasMessageContaining("'" + name + "' is not supported")
                .hasMessageContaining(PyFilters.NOT_REPRODUCED.get(name)));
        assertThatThrownBy(() -> JinjaTemplate.compile("{{ m|attr('items') }}", "probe attr")
                .render(Map.of("m", Map.of("a", 1)), RenderLimits.DEFAULT, FIXED, false))
                .isInstanceOf(TemplateException.class).hasMessageContaining("bound method");
    }
}
