package finetune4j.generate;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import finetune4j.ConfigException;
import finetune4j.testing.Numerics;
import finetune4j.testing.Numerics.Tol;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The processors and warpers against transformers' (golden/sampling/warpers.json from
 * tools/golden/sampling_reference.py): the same surviving tokens with the same scores, alone
 * and chained in generate()'s order; the draw follows softmax; seeds reproduce.
 */
class SamplerTest {
    private static JsonNode golden() throws IOException {
        try (InputStream in = SamplerTest.class.getResourceAsStream("/golden/sampling/warpers.json")) {
            return new ObjectMapper().readTree(in);
        }
    }

    @Test
    void warpersKeepExactlyWhatTransformersKeeps() throws IOException {
        JsonNode cases = golden().get("cases");
        assertThat(cases.size()).isGreaterThanOrEqualTo(20);
        for (JsonNode c : cases) {
            String name = c.get("name").textValue();
            float[] logits = floats(c.get("logits"));
            JsonNode p = c.get("params");
            GenerationParams params = GenerationParams.builder().doSample(true)
                    .temperature(p.path("temperature").asDouble(1.0))
                    .topK(p.path("top_k").asInt(0))
                    .topP(p.path("top_p").asDouble(1.0))
                    .minP(p.path("min_p").asDouble(0.0))
                    .repetitionPenalty(p.path("repetition_penalty").asDouble(1.0))
                    .seed(1).build();
            Sampler s = new Sampler(params, logits.length);
            for (JsonNode id : c.get("input_ids")) s.observe(id.intValue());
            s.warp(logits);

            List<Integer> kept = new ArrayList<>();
            List<Float> values = new ArrayList<>();
            for (int i = 0; i < logits.length; i++) {
                if (logits[i] != Float.NEGATIVE_INFINITY) {
                    kept.add(i);
                    values.add(logits[i]);
                }
            }
            List<Integer> wantKept = new ArrayList<>();
            c.get("kept").forEach(n -> wantKept.add(n.intValue()));
            assertThat(kept).as(name).containsExactlyElementsOf(wantKept);
            float[] got = new float[values.size()];
            for (int i = 0; i < got.length; i++) got[i] = values.get(i);
            Numerics.assertClose(name + " scores", got, floats(c.get("values")), Tol.abs(0));   // same float32 ops
        }
    }

    @Test
    void repetitionPenaltyMath() {
        float[] s = {2f, -1f, 0f, 3f};
        boolean[] seen = {true, true, true, false};
        LogitsWarpers.repetitionPenalty(s, 4, seen, 2.0);
        assertThat(s).containsExactly(1f, -2f, 0f, 3f);   // positive ÷, negative ×, unseen untouched
        // applied in greedy decoding too: it can change the argmax
        GenerationParams greedy = GenerationParams.builder().repetitionPenalty(4.0).build();
        Sampler sampler = new Sampler(greedy, 3);
        sampler.observe(0);
        assertThat(sampler.next(new float[]{3f, 1f, 0.5f})).isEqualTo(1);              // 3/4 < 1
        assertThat(new Sampler(GenerationParams.builder().build(), 3).next(new float[]{3f, 1f, 0.5f})).isZero();
    }

    @Test
    void argmaxTakesTheFirstMaximumAndRejectsNaN() {
        assertThat(LogitsWarpers.argmax(new float[]{1f, 5f, 5f, -2f}, 4)).isEqualTo(1);
        assertThatThrownBy(() -> LogitsWarpers.argmax(new float[]{1f, Float.NaN}, 2))
                .isInstanceOf(finetune4j.Finetune4jException.class).hasMessageContaining("NaN");
    }

    @Test
    void drawsFollowTheSoftmax() {
        float[] logits = {0f, 1f, 2f, -1f, Float.NEGATIVE_INFINITY};
        double z = 0;
        for (float l : logits) z += Math.exp(l);
        int n = 40000;
        int[] count = new int[logits.length];
        SplittableRandom rng = new SplittableRandom(123);
        for (int i = 0; i < n; i++) count[LogitsWarpers.sample(logits, logits.length, rng)]++;
        assertThat(count[4]).isZero();                       // removed tokens are never drawn
        for (int i = 0; i < 4; i++) {
            double p = Math.exp(logits[i]) / z;
            double sigma = Math.sqrt(n * p * (1 - p));
            assertThat((double) count[i]).as("token %d", i).isCloseTo(n * p, org.assertj.core.data.Offset.offset(5 * sigma));
        }
    }

    @Test
    void sameSeedSameTokensOtherSeedOtherTokens() {
        float[] base = new float[50];
        for (int i = 0; i < base.length; i++) base[i] = (float) Math.sin(i * 0.7) * 2;
        int[] a = drawSequence(base, 42), b = drawSequence(base, 42), c = drawSequence(base, 43);
        assertThat(a).containsExactly(b);
        assertThat(a).isNotEqualTo(c);
    }

    private static int[] drawSequence(float[] base, long seed) {
        GenerationParams p = GenerationParams.builder().doSample(true).temperature(1.5).topK(0).seed(seed).build();
        Sampler s = new Sampler(p, base.length);
        int[] out = new int[60];
        for (int i = 0; i < out.length; i++) out[i] = s.next(base.clone());
        return out;
    }

    @Test
    void topKSelectsTheKthLargestUnderAnyOrder() {
        SplittableRandom rng = new SplittableRandom(5);
        float[] heap = new float[64];
        for (int trial = 0; trial < 200; trial++) {
            int n = 1 + rng.nextInt(300), k = 1 + rng.nextInt(64);
            float[] s = new float[n];
            for (int i = 0; i < n; i++) s[i] = (float) rng.nextInt(40);   // many ties
            float[] sorted = s.clone();
            java.util.Arrays.sort(sorted);
            float kth = sorted[Math.max(0, n - Math.min(k, n))];
            float[] w = s.clone();
            LogitsWarpers.topK(w, n, k, heap);
            for (int i = 0; i < n; i++) {
                assertThat(w[i]).isEqualTo(s[i] < kth ? Float.NEGATIVE_INFINITY : s[i]);
            }
        }
    }

    @Test
    void paramsValidateAndTemperatureZeroIsGreedy() {
        assertThat(GenerationParams.builder().doSample(true).temperature(0).build().greedy()).isTrue();
        assertThat(GenerationParams.builder().doSample(true).temperature(0.7).build().greedy()).isFalse();
        assertThatThrownBy(() -> GenerationParams.builder().topP(0).build())
                .isInstanceOf(ConfigException.class).hasMessageContaining("top_p");
        assertThatThrownBy(() -> GenerationParams.builder().maxNewTokens(0).build())
                .isInstanceOf(ConfigException.class).hasMessageContaining("max_new_tokens = 0");
        assertThatThrownBy(() -> GenerationParams.builder().temperature(-1).build()).isInstanceOf(ConfigException.class);
        assertThatThrownBy(() -> GenerationParams.builder().stopStrings(List.of("")).build()).isInstanceOf(ConfigException.class);
    }

    private static float[] floats(JsonNode a) {
        float[] out = new float[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = (float) a.get(i).doubleValue();
        return out;
    }
}
