package finetune4j.text.jinja;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/**
 * The sandbox: a chat template cannot read files or classpath resources, cannot reach Java methods
 * of the objects it sees, cannot mutate its inputs, and its output, loops, ranges and run time are
 * bounded, each with a clear {@link TemplateException}.
 */
class TemplateSandboxTest {
    static final Map<String, Object> VARS = Map.of(
            "messages", List.of(Map.of("role", "user", "content", "hi")),
            "s", "text", "d", Map.of("k", "v"), "xs", List.of(1, 2, 3));

    static TemplateException fail(String source, RenderLimits limits) {
        TemplateException e = catchThrowableOfType(TemplateException.class, () -> JinjaTemplate.compile(source, "t.jinja")
                .render(VARS, limits, Clock.systemUTC(), false));
        assertThat(e).as("template must fail: %s", source).isNotNull();
        assertThat(e.getMessage()).startsWith("t.jinja: ");
        return e;
    }

    static String render(String source) {
        return JinjaTemplate.compile(source, "t.jinja").render(VARS, RenderLimits.DEFAULT, Clock.systemUTC(), false).text();
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "{% include 'chat-templates/builtin/chatml.jinja' %}",      // exists on the test classpath
            "{% include '/etc/passwd' %}",
            "{% import 'chat-templates/builtin/chatml.jinja' as m %}",
            "{% from 'x.jinja' import y %}",
            "{% extends 'chat-templates/builtin/chatml.jinja' %}"})
    void templatesCannotLoadFilesOrResources(String source) {
        TemplateException e = fail(source, RenderLimits.DEFAULT);
        assertThat(e.kind()).isEqualTo(TemplateException.Kind.SANDBOX);
        assertThat(e.getMessage()).contains("cannot read files");
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "{{ s.getClass() }}",
            "{{ s.getClass().forName('java.lang.Runtime') }}",
            "{{ d.getClass() }}",
            "{{ xs.getClass() }}",
            "{{ s.toString() }}",
            "{{ s.hashCode() }}",
            "{{ s.getBytes() }}",
            "{% for x in xs %}{{ loop.getClass() }}{% endfor %}",
            "{% set ns = namespace(a=1) %}{{ ns.getClass() }}",
            "{% macro m() %}x{% endmacro %}{{ m.getClass() }}",
            "{{ messages[0].entrySet() }}",
            "{{ range.getClass() }}"})
    void javaMethodsAreUnreachable(String source) {
        TemplateException e = fail(source, RenderLimits.DEFAULT);
        assertThat(e.kind()).isIn(TemplateException.Kind.RUNTIME, TemplateException.Kind.SANDBOX);
        assertThat(e.getMessage()).doesNotContain("java.lang.Runtime@");
    }

    @Test
    void javaPropertiesAreUndefined() {
        // bean getters (getClass -> .class, getBytes -> .bytes, isEmpty -> .empty) are not properties
        assertThat(render("[{{ s.class }}][{{ s.bytes }}][{{ s.empty }}][{{ d.class }}][{{ xs.class }}]"))
                .isEqualTo("[][][][][]");
        assertThat(render("[{{ s.__class__ }}][{{ d.__class__ }}]")).isEqualTo("[][]");
    }

    @ParameterizedTest
    @ValueSource(strings = {"{{ xs.append(4) }}", "{{ xs.pop() }}", "{{ xs.sort() }}", "{{ d.update({'a': 1}) }}",
            "{{ d.pop('k') }}", "{{ d.clear() }}", "{{ messages.append({}) }}"})
    void inputsAreImmutable(String source) {
        TemplateException e = fail(source, RenderLimits.DEFAULT);
        assertThat(e.kind()).isEqualTo(TemplateException.Kind.SANDBOX);
        assertThat(e.getMessage()).contains("is unsafe");
    }

    @ParameterizedTest
    @ValueSource(strings = {"{% do xs.append(1) %}", "{{ today() }}", "{{ type(s) }}", "{{ unixtimestamp() }}",
            "{{ '{{ 7 * 7 }}'|render }}", "{{ s|fromjson }}", "{{ s|md5 }}", "{% print s %}", "{% cycle 'a', 'b' %}"})
    void jinjavaOnlyTagsFiltersAndFunctionsAreAbsent(String source) {
        fail(source, RenderLimits.DEFAULT);
    }

    @Test
    void outputIsNotReinterpreted() {
        Map<String, Object> vars = Map.of("c", "{{ 7 * 7 }} {% if true %}x{% endif %}");
        String out = JinjaTemplate.compile("{{ c }}", "t").render(vars, RenderLimits.DEFAULT, Clock.systemUTC(), false).text();
        assertThat(out).isEqualTo("{{ 7 * 7 }} {% if true %}x{% endif %}");
    }

    @Test
    void outputSizeIsBounded() {
        RenderLimits small = new RenderLimits(10_000, Duration.ofSeconds(10), 100_000);
        TemplateException e = fail("{% for i in range(1000) %}{{ 'x' * 100 }}{% endfor %}", small);
        assertThat(e.kind()).isEqualTo(TemplateException.Kind.LIMIT);
        assertThat(e.getMessage()).contains("10000");
        e = fail("{{ 'x' * 100000000 }}", small);
        assertThat(e.kind()).isEqualTo(TemplateException.Kind.LIMIT);
        e = fail("{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", small);
        assertThat(e.kind()).isEqualTo(TemplateException.Kind.LIMIT);
        e = fail("{{ ['x'] * 100000000 }}", small);
        assertThat(e.kind()).isEqualTo(TemplateException.Kind.LIMIT);
    }

    @Test
    void rangesAreBoundedLikeJinja2Sandbox() {
        assertThat(render("{{ range(100000)|length }}")).isEqualTo("100000");
        TemplateException e = fail("{{ range(100001)|length }}", RenderLimits.DEFAULT);
        assertThat(e.kind()).isEqualTo(TemplateException.Kind.LIMIT);
        assertThat(e.templateMessage()).contains("Range too big");
    }

    @Test
    void renderTimeIsBoundedEvenWithoutOutput() {
        RenderLimits fast = new RenderLimits(1_000_000, Duration.ofMillis(300), 100_000);
        long t0 = System.nanoTime();
        TemplateException e = fail("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}", fast);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertThat(e.kind()).isEqualTo(TemplateException.Kind.LIMIT);
        assertThat(e.getMessage()).contains("300 ms");
        assertThat(ms).as("stopped near the deadline").isLessThan(5_000);
    }

    @Test
    void renderTimeIsBoundedInExpressionLoops() {
        RenderLimits fast = new RenderLimits(1_000_000, Duration.ofMillis(300), 100_000);
        TemplateException e = fail("{% for a in range(100000) %}{{ range(100000)|select('odd')|list|length }}{% endfor %}", fast);
        assertThat(e.kind()).isEqualTo(TemplateException.Kind.LIMIT);
    }

    @Test
    void recursionIsBounded() {
        TemplateException e = fail("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", RenderLimits.DEFAULT);
        assertThat(e.kind()).isIn(TemplateException.Kind.LIMIT, TemplateException.Kind.RUNTIME);
    }

    @Test
    void interruptStopsARender() throws Exception {
        Thread[] worker = new Thread[1];
        TemplateException[] got = new TemplateException[1];
        worker[0] = new Thread(() -> got[0] = catchThrowableOfType(TemplateException.class, () -> JinjaTemplate.compile(
                "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}", "t")
                .render(VARS, new RenderLimits(1000, Duration.ofMinutes(5), 100_000), Clock.systemUTC(), false)));
        worker[0].start();
        Thread.sleep(200);
        worker[0].interrupt();
        worker[0].join(10_000);
        assertThat(worker[0].isAlive()).isFalse();
        assertThat(got[0]).isNotNull();
        assertThat(got[0].kind()).isEqualTo(TemplateException.Kind.LIMIT);
    }
}
