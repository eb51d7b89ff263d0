package finetune4j.generate;

import finetune4j.ConfigException;
import finetune4j.Finetune4jException;
import finetune4j.model.LlamaModel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Stop reasons, streaming, reproducibility and input checks of the generation loop (tiny model). */
class GeneratorTest {
    private static LlamaModel model;
    private static final int[] PROMPT = {1, 17, 200, 45};
    /** A stand-in decoder: token id 17 → "<17>". */
    private static final Function<int[], String> DECODE = ids -> {
        StringBuilder sb = new StringBuilder();
        for (int id : ids) sb.append('<').append(id).append('>');
        return sb.toString();
    };

    @BeforeAll
    static void load() throws Exception {
        model = LlamaModel.load(Path.of(GeneratorTest.class.getResource("/tiny-models/llama-gqa-f32").toURI()));
    }

    @AfterAll
    static void close() {
        model.close();
    }

    private static GenerationParams.Builder greedy(int n) {
        return GenerationParams.builder().maxNewTokens(n).eosTokenIds(List.of());
    }

    @Test
    void greedyEqualsArgmaxOfTheFullForwardAtEachStep() {
        GenerationResult r = new Generator(model).generate(PROMPT, greedy(12).build(), TokenListener.none());
        assertThat(r.stopReason()).isEqualTo(StopReason.LENGTH);
        assertThat(r.generatedIds()).hasSize(12);
        int[] seq = PROMPT.clone();
        for (int tok : r.generatedIds()) {
            float[] logits = model.forward(seq);                    // no cache: recompute everything
            assertThat(tok).isEqualTo(LogitsWarpers.argmax(logits, logits.length));
            seq = Arrays.copyOf(seq, seq.length + 1);
            seq[seq.length - 1] = tok;
        }
        assertThat(r.promptIds()).containsExactly(PROMPT);
        assertThat(r.prefillNanos()).isPositive();
    }

    @Test
    void stopsOnAnyEosIdAndReportsIt() {
        int[] free = new Generator(model).generate(PROMPT, greedy(12).build(), TokenListener.none()).generatedIds();
        int eos = free[5];
        int firstAt = 0;
        while (free[firstAt] != eos) firstAt++;
        GenerationResult r = new Generator(model).generate(PROMPT,
                greedy(12).eosTokenIds(List.of(255, eos)).build(), TokenListener.none());
        assertThat(r.stopReason()).isEqualTo(StopReason.EOS);
        assertThat(r.generatedIds()).containsExactly(Arrays.copyOf(free, firstAt + 1));   // eos included, as HF
        assertThat(r.stopReason().label()).isEqualTo("eos");
    }

    @Test
    void stopsOnAStopStringInTheDecodedText() {
        int[] free = new Generator(model).generate(PROMPT, greedy(12).build(), TokenListener.none()).generatedIds();
        String stop = "<" + free[3] + "><" + free[4] + ">";          // spans two tokens
        GenerationResult r = new Generator(model).generate(PROMPT,
                greedy(12).stopStrings(List.of("never", stop)).build(), DECODE, TokenListener.none());
        assertThat(r.stopReason()).isEqualTo(StopReason.STOP);
        assertThat(r.stopString()).isEqualTo(stop);
        assertThat(DECODE.apply(r.generatedIds())).contains(stop);
        assertThat(DECODE.apply(Arrays.copyOf(r.generatedIds(), r.generatedIds().length - 1))).doesNotContain(stop);
        assertThatThrownBy(() -> new Generator(model).generate(PROMPT, greedy(4).stopStrings(List.of("x")).build(),
                TokenListener.none())).isInstanceOf(ConfigException.class).hasMessageContaining("decoder");
    }

    @Test
    void listenerSeesEveryTokenInOrder() {
        List<String> seen = new ArrayList<>();
        GenerationResult r = new Generator(model).generate(PROMPT, greedy(7).build(), (id, i) -> seen.add(i + ":" + id));
        List<String> want = new ArrayList<>();
        for (int i = 0; i < r.generatedIds().length; i++) want.add(i + ":" + r.generatedIds()[i]);
        assertThat(seen).containsExactlyElementsOf(want);
    }

    @Test
    void seededSamplingIsReproducible() {
        GenerationParams p = greedy(20).doSample(true).temperature(1.2).topK(40).topP(0.95).minP(0.01)
                .repetitionPenalty(1.1).seed(2024).build();
        int[] a = new Generator(model).generate(PROMPT, p, TokenListener.none()).generatedIds();
        int[] b = new Generator(model).generate(PROMPT, p, TokenListener.none()).generatedIds();
        int[] c = new Generator(model).generate(PROMPT, p.toBuilder().seed(2025).build(), TokenListener.none()).generatedIds();
        assertThat(a).containsExactly(b);
        assertThat(a).isNotEqualTo(c);
        assertThat(new Generator(model).generate(PROMPT, p, TokenListener.none()).seed()).isEqualTo(2024);
    }

    @Test
    void defaultsComeFromTheModelsGenerationConfig() {
        GenerationParams p = GenerationParams.defaults(model.generationConfig(), model.config()).build();
        assertThat(p.eosTokenIds()).containsExactly(2);
        assertThat(p.greedy()).isTrue();
        assertThat(p.topK()).isEqualTo(50);
    }

    @Test
    void badInputs() {
        Generator g = new Generator(model);
        assertThatThrownBy(() -> g.generate(new int[0], greedy(4).build(), TokenListener.none()))
                .isInstanceOf(ConfigException.class).hasMessageContaining("at least one token");
        assertThatThrownBy(() -> g.generate(new int[]{1, 999}, greedy(4).build(), TokenListener.none()))
                .isInstanceOf(ConfigException.class).hasMessageContaining("prompt[1] = 999");
        assertThatThrownBy(() -> g.generate(PROMPT, greedy(125).build(), TokenListener.none()))
                .isInstanceOf(Finetune4jException.class)
                .hasMessageContaining("prompt (4 tokens) + max_new_tokens (125) = 129")
                .hasMessageContaining("context of 128")
                .hasMessageContaining("max_new_tokens ≤ 124");
        assertThatThrownBy(() -> g.generate(new int[130], greedy(1).build(), TokenListener.none()))
                .isInstanceOf(Finetune4jException.class).hasMessageContaining("the prompt has 130 tokens");
        assertThat(g.generate(PROMPT, greedy(124).build(), TokenListener.none()).generatedIds()).hasSize(124);
    }

    @Test
    void textStreamerHoldsBackIncompleteCharacters() {
        // token 1 → "ab", token 2 → half of a character (decodes to U+FFFD until token 3 completes it)
        Function<int[], String> decode = ids -> {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < ids.length; i++) {
                if (ids[i] == 1) sb.append("ab");
                if (ids[i] == 2) sb.append(i + 1 < ids.length && ids[i + 1] == 3 ? "é" : "\uFFFD");
            }
            return sb.toString();
        };
        List<String> out = new ArrayList<>();
        TextStreamer ts = new TextStreamer(decode, out::add);
        ts.onToken(1, 0);
        ts.onToken(2, 1);
        ts.onToken(3, 2);
        ts.onToken(1, 3);
        ts.onToken(2, 4);
        ts.finish();
        assertThat(out).containsExactly("ab", "é", "ab", "\uFFFD");
        assertThat(String.join("", out)).isEqualTo(decode.apply(new int[]{1, 2, 3, 1, 2}));
    }
}
