package finetune4j.model;

import finetune4j.engine.tensor.NamedParam;
import finetune4j.testing.DoubleOps;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The whole Llama forward pass and the summed causal-LM cross-entropy in {@code double}, built
 * from {@link DoubleOps}: the function the model-level finite-difference checks differentiate.
 * Parameters are double copies of the model's FP32 trainable values, by HF name; {@link #param}
 * returns the live array, so a perturbation of it changes the next {@link #loss}.
 */
final class DoubleLlama {
    private final ModelConfig c;
    private final Map<String, double[]> params = new HashMap<>();
    private final float[] cos, sin;   // the model's RoPE tables (float32, as the Java model uses them)

    DoubleLlama(ModelConfig c, List<NamedParam> all, Rope.Tables rope) {
        this.c = c;
        for (NamedParam p : all) params.put(p.name(), DoubleOps.toDouble(p.data()));
        this.cos = rope.cos();
        this.sin = rope.sin();
    }

    double[] param(String name) {
        double[] p = params.get(name);
        if (p == null) throw new IllegalArgumentException("no parameter " + name);
        return p;
    }

    private double[] linear(String module, double[] x, int m, int n, int k) {
        return DoubleOps.linear(x, param(module + ".weight"), params.get(module + ".bias"), m, n, k);
    }

    /** Σ over targets of −log p(labels[i+1] | ids[..i]), transformers' shift, −100 ignored. */
    double loss(int[] ids, int[] labels, int b, int t) {
        int C = c.hiddenSize(), F = c.intermediateSize(), V = c.vocabSize(), H = c.numAttentionHeads();
        int KVH = c.numKeyValueHeads(), D = c.headDim(), bt = b * t;
        double eps = (float) c.rmsNormEps();
        int[] pos = new int[bt], targets = new int[bt];
        for (int r = 0; r < bt; r++) {
            pos[r] = r % t;
            targets[r] = r % t + 1 < t ? labels[r + 1] : -100;
        }
        double[] x = DoubleOps.embedding(param("model.embed_tokens.weight"), ids, C);
        for (int l = 0; l < c.numHiddenLayers(); l++) {
            String p = "model.layers." + l + ".";
            double[] ln1 = DoubleOps.rmsnorm(x, param(p + "input_layernorm.weight"), bt, C, eps);
            double[] q = DoubleOps.rope(linear(p + "self_attn.q_proj", ln1, bt, c.qDim(), C), bt, H, D, pos, cos, sin);
            double[] k = DoubleOps.rope(linear(p + "self_attn.k_proj", ln1, bt, c.kvDim(), C), bt, KVH, D, pos, cos, sin);
            double[] v = linear(p + "self_attn.v_proj", ln1, bt, c.kvDim(), C);
            double[] att = DoubleOps.attention(q, k, v, b, t, H, KVH, D);
            x = DoubleOps.add(x, linear(p + "self_attn.o_proj", att, bt, C, c.qDim()));
            double[] ln2 = DoubleOps.rmsnorm(x, param(p + "post_attention_layernorm.weight"), bt, C, eps);
            double[] act = DoubleOps.siluMul(linear(p + "mlp.gate_proj", ln2, bt, F, C), linear(p + "mlp.up_proj", ln2, bt, F, C));
            x = DoubleOps.add(x, linear(p + "mlp.down_proj", act, bt, C, F));
        }
        double[] h = DoubleOps.rmsnorm(x, param("model.norm.weight"), bt, C, eps);
        double[] head = c.tieWordEmbeddings() ? param("model.embed_tokens.weight") : param("lm_head.weight");
        double[] logits = DoubleOps.linear(h, head, null, bt, V, C);
        return DoubleOps.crossEntropySum(logits, targets, bt, V);
    }
}
