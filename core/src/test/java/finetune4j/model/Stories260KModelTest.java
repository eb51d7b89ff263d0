package finetune4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import finetune4j.testing.Numerics;
import finetune4j.testing.SharedData;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The real stories260K checkpoint (read in place from ../shared/data) against the torch
 * reference: logits of every position of prompt + first 8 greedy tokens, for both prompts of
 * greedy_runc.json, by full prefill and by KV-cache decode.
 */
class Stories260KModelTest {
    @Test
    void logitsMatchTheTorchReference() {
        Path dir = SharedData.require("models/stories260K/hf");
        JsonNode cases = LlamaGolden.manifest().get("stories260K");
        assertThat(cases.size()).isEqualTo(2);
        try (LlamaModel m = LlamaModel.load(dir)) {
            int V = m.config().vocabSize();
            for (int c = 0; c < cases.size(); c++) {
                int[] ids = LlamaGolden.ints(cases.get(c).get("ids"));
                int promptLen = cases.get(c).get("prompt_len").intValue();
                float[] want = LlamaGolden.tensor("stories260K.case" + c + ".logits");
                Numerics.assertClose("stories260K case " + c + " prefill", m.forwardAll(ids), want, LlamaModelTest.LOGITS);

                Session s = m.newSession(ids.length);
                float[] first = s.feed(Arrays.copyOf(ids, promptLen));        // first step: the prompt
                Numerics.assertClose("case " + c + " first-step logits", first, 0, want, (promptLen - 1) * V, V,
                        LlamaModelTest.LOGITS);
                for (int t = promptLen; t < ids.length; t++) {
                    Numerics.assertClose("case " + c + " decode " + t, s.step(ids[t]), 0, want, t * V, V, LlamaModelTest.LOGITS);
                }
            }
        }
    }
}
