package finetune4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import finetune4j.testing.Numerics;
import finetune4j.testing.Numerics.Tol;
import org.junit.jupiter.api.Test;

import java.util.Iterator;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * RoPE tables against transformers' computation (golden from tools/golden/llama_reference.py):
 * default, Llama 3.1 / 3.2 llama3 scaling at head_dim 128 / 64, linear scaling.
 */
class RopeTest {
    @Test
    void invFreqAndTablesMatchTransformers() {
        JsonNode cases = LlamaGolden.manifest().get("rope");
        int checked = 0;
        for (Iterator<Map.Entry<String, JsonNode>> it = cases.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = e.getKey();
            JsonNode c = e.getValue().get("config");
            int headDim = c.get("head_dim").intValue();
            String scaling = c.has("rope_scaling") ? ", \"rope_scaling\": " + c.get("rope_scaling") : "";
            ModelConfig cfg = ModelConfig.parse("config.json", """
                    {"architectures": ["LlamaForCausalLM"], "hidden_size": %d, "intermediate_size": 8,
                     "num_hidden_layers": 1, "num_attention_heads": 4, "vocab_size": 8, "head_dim": %d,
                     "rope_theta": %s, "max_position_embeddings": 8192 %s}"""
                    .formatted(headDim * 4, headDim, c.get("rope_theta").asText(), scaling));
            float[] inv = Rope.invFreq(cfg);
            // inv_freq to the last float32 bit: angles at position 8191 amplify any difference 8191-fold
            Numerics.assertClose(name + " inv_freq", inv, LlamaGolden.tensor("rope." + name + ".inv_freq"), Tol.abs(0));

            Rope.Tables t = new Rope(cfg).ensure(8192);
            int half = headDim / 2;
            int[] positions = LlamaGolden.ints(e.getValue().get("positions"));
            float[] cos = new float[positions.length * half], sin = new float[positions.length * half];
            for (int r = 0; r < positions.length; r++) {
                System.arraycopy(t.cos(), positions[r] * half, cos, r * half, half);
                System.arraycopy(t.sin(), positions[r] * half, sin, r * half, half);
            }
            // cos/sin of the same float32 angle: torch's float32 vs Java's correctly rounded
            Numerics.assertClose(name + " cos", cos, LlamaGolden.tensor("rope." + name + ".cos"), Tol.abs(2e-7));
            Numerics.assertClose(name + " sin", sin, LlamaGolden.tensor("rope." + name + ".sin"), Tol.abs(2e-7));
            checked++;
        }
        assertThat(checked).isEqualTo(5);
    }

    @Test
    void tablesGrowOnDemandUpToTheContext() {
        ModelConfig cfg = ModelConfig.parse("config.json", """
                {"architectures": ["LlamaForCausalLM"], "hidden_size": 32, "intermediate_size": 8,
                 "num_hidden_layers": 1, "num_attention_heads": 4, "vocab_size": 8, "max_position_embeddings": 131072}""");
        Rope rope = new Rope(cfg);
        Rope.Tables small = rope.ensure(10);
        assertThat(small.positions()).isEqualTo(4096);                 // not 131072 up front
        Rope.Tables big = rope.ensure(5000);
        assertThat(big.positions()).isEqualTo(8192);
        assertThat(big.cos()[4095 * 4 + 1]).isEqualTo(small.cos()[4095 * 4 + 1]);
        assertThat(rope.ensure(200000).positions()).isEqualTo(131072); // capped at the context
    }
}
