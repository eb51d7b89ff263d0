package finetune4j.model;

/**
 * Every buffer one forward pass writes, preallocated for a batch of up to {@code B} sequences of
 * up to {@code T} positions (llm.c's {@code ActivationTensors}). Nothing is allocated while the
 * model runs.
 *
 * <p>Two layouts:
 * <ul>
 *   <li>{@link #forTraining}: one set of buffers per layer, all kept after the forward pass,
 *       attention probabilities included, logits for every position — for inspecting every
 *       layer's activations. (Training itself uses {@link TrainingBuffers}, which keeps only what
 *       the backward pass needs and never holds (BT, V) logits.)</li>
 *   <li>{@link #forInference}: one set of layer buffers shared by all layers (the arrays of the
 *       per-layer views are the same object), the residual stream updated in place, no
 *       attention probabilities; logits for every position or for one row per sequence.</li>
 * </ul>
 * Shapes use the alphabet of {@code finetune4j.engine.kernels}: BT = B·T rows.
 */
public final class Activations {
    final int maxB, maxT;
    final boolean perLayer;
    final boolean allLogits;

    final int[] pos;          // (BT) absolute position of each row
    final float[][] resid;    // [L+1] (BT, C) residual stream: resid[l] = input of layer l, resid[L] = final hidden
    final float[][] ln1;      // [L] (BT, C) input_layernorm output
    final float[][] rstd1;    // [L] (BT) its 1/rms
    final float[][] q;        // [L] (BT, H·D) q_proj output after RoPE
    final float[][] k;        // [L] (BT, KVH·D) k_proj output after RoPE (unused when a KV cache holds them)
    final float[][] v;        // [L] (BT, KVH·D) v_proj output
    final float[][] att;      // [L] (B, H, T, T) softmax probabilities, training only (null entries otherwise)
    final float[][] attnOut;  // [L] (BT, H·D) attention output, o_proj input
    final float[][] mid;      // [L] (BT, C) residual after attention
    final float[][] ln2;      // [L] (BT, C) post_attention_layernorm output
    final float[][] rstd2;    // [L] (BT)
    final float[][] gate;     // [L] (BT, F) gate_proj output
    final float[][] up;       // [L] (BT, F) up_proj output
    final float[][] act;      // [L] (BT, F) silu(gate)·up, down_proj input
    final float[] proj;       // (BT, C) scratch: o_proj / down_proj output before the residual add
    final float[] lnf;        // (BT, C) model.norm output (rows used: BT, or B when only last positions)
    final float[] rstdf;      // (BT)
    final float[] logits;     // (BT, V) with allLogits, else (B, V)

    private Activations(ModelConfig c, int b, int t, boolean perLayer, boolean allLogits) {
        if (b <= 0 || t <= 0) throw new IllegalArgumentException("activations for B=" + b + ", T=" + t);
        long rows = (long) b * t;
        long biggest = Math.max(rows * Math.max(c.intermediateSize(), c.qDim()), allLogits ? rows * c.vocabSize() : 0);
        if (biggest > Integer.MAX_VALUE - 8 || (perLayer && (long) b * c.numAttentionHeads() * t * t > Integer.MAX_VALUE - 8)) {
            throw new finetune4j.Finetune4jException("a batch of B=" + b + " sequences of T=" + t
                    + " positions needs buffers larger than a Java array (2^31 floats) for this model"
                    + " (hint: use a smaller batch or shorter sequences)");
        }
        this.maxB = b;
        this.maxT = t;
        this.perLayer = perLayer;
        this.allLogits = allLogits;
        int bt = b * t, C = c.hiddenSize(), F = c.intermediateSize(), L = c.numHiddenLayers();
        int nSets = perLayer ? L : 1;
        pos = new int[bt];
        ln1 = per(L, nSets, bt * C);
        rstd1 = per(L, nSets, bt);
        q = per(L, nSets, bt * c.qDim());
        k = per(L, nSets, bt * c.kvDim());
        v = per(L, nSets, bt * c.kvDim());
        att = perLayer ? per(L, L, b * c.numAttentionHeads() * t * t) : new float[L][];
        attnOut = per(L, nSets, bt * c.qDim());
        ln2 = per(L, nSets, bt * C);
        rstd2 = per(L, nSets, bt);
        gate = per(L, nSets, bt * F);
        up = per(L, nSets, bt * F);
        act = per(L, nSets, bt * F);
        if (perLayer) {
            resid = per(L + 1, L + 1, bt * C);
            mid = per(L, L, bt * C);
        } else {
            float[] stream = new float[bt * C];          // one residual stream, updated in place
            resid = new float[L + 1][];
            mid = new float[L][];
            java.util.Arrays.fill(resid, stream);
            java.util.Arrays.fill(mid, stream);
        }
        proj = new float[bt * C];
        lnf = new float[bt * C];
        rstdf = new float[bt];
        logits = new float[(allLogits ? bt : b) * c.vocabSize()];
    }

    private static float[][] per(int entries, int distinct, int size) {
        float[][] out = new float[entries][];
        for (int i = 0; i < entries; i++) out[i] = i < distinct ? new float[size] : out[i % distinct];
        return out;
    }

    /** Per-layer buffers all kept, attention probabilities, logits (BT, V): every activation for inspection. */
    public static Activations forTraining(ModelConfig config, int b, int t) {
        return new Activations(config, b, t, true, true);
    }

    /**
     * Shared layer buffers; logits for all BT rows ({@code allLogits}) or one row per sequence.
     */
    public static Activations forInference(ModelConfig config, int b, int t, boolean allLogits) {
        return new Activations(config, b, t, false, allLogits);
    }

    /** Largest batch these buffers hold. */
    public int maxBatch() {
        return maxB;
    }

    /** Longest sequence these buffers hold. */
    public int maxSeq() {
        return maxT;
    }

    /**
     * The logits of the last forward pass: (B·T, V) row-major when all positions were asked for,
     * else (B, V). A view, overwritten by the next pass.
     */
    public float[] logits() {
        return logits;
    }

    /** The final hidden states before {@code model.norm}, (B·T, C). A view. */
    public float[] hidden() {
        return resid[resid.length - 1];
    }
}
