package finetune4j.generate;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import finetune4j.model.LlamaModel;
import finetune4j.testing.SharedData;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Greedy generation of the real stories260K model equals llama2.c run.c's output token for token
 * ({@code models/stories260K/expected/greedy_runc.json}: 200 positions in all, prompt included,
 * stopping on BOS (id 1), which the converted generation_config.json lists as an eos id).
 */
class Stories260KGenerationTest {
    private static LlamaModel model;
    private static JsonNode expected;

    @BeforeAll
    static void load() throws IOException {
        Path dir = SharedData.require("models/stories260K/hf");
        expected = new ObjectMapper().readTree(SharedData.require("models/stories260K/expected/greedy_runc.json").toFile());
        model = LlamaModel.load(dir);
    }

    @AfterAll
    static void close() {
        if (model != null) model.close();
    }

    @Test
    void greedyEqualsLlama2cForBothPrompts() {
        assertThat(expected.get("cases").size()).isEqualTo(2);
        for (JsonNode c : expected.get("cases")) {
            int[] prompt = ints(c.get("prompt_ids"));
            int[] want = ints(c.get("generated_ids"));
            int maxNew = 200 - prompt.length + 1;
            assertThat(c.get("max_new_tokens").intValue()).isEqualTo(maxNew);
            GenerationParams p = GenerationParams.defaults(model.generationConfig(), model.config())
                    .maxNewTokens(maxNew).build();
            assertThat(p.eosTokenIds()).containsExactly(2, 1);
            assertThat(p.greedy()).isTrue();
            List<Integer> streamed = new ArrayList<>();
            GenerationResult r = new Generator(model).generate(prompt, p, (id, i) -> streamed.add(id));
            assertThat(r.generatedIds()).as("prompt '%s'", c.get("prompt").textValue()).containsExactly(want);
            assertThat(r.stopReason()).isEqualTo(c.get("stopped_on_bos").booleanValue() ? StopReason.EOS : StopReason.LENGTH);
            assertThat(streamed).containsExactlyElementsOf(java.util.Arrays.stream(want).boxed().toList());
        }
    }

    private static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = a.get(i).intValue();
        return out;
    }
}
