package finetune4j.model;

/**
 * The parameters of one {@code LlamaDecoderLayer}: two RMSNorm weights (FP32) and seven linear
 * slots. Slots are replaceable (adapters wrap them); norms are updated in place when trainable
 * (their gradients then live beside them).
 */
final class DecoderLayer {
    final int index;
    final float[] inputNorm;          // (C) model.layers.{i}.input_layernorm.weight
    final float[] postAttentionNorm;  // (C) model.layers.{i}.post_attention_layernorm.weight
    float[] dInputNorm;               // (C) its gradient when trainable, else null
    float[] dPostAttentionNorm;       // (C) its gradient when trainable, else null
    LinearSlot q;     // (H·D, C)   self_attn.q_proj
    LinearSlot k;     // (KVH·D, C) self_attn.k_proj
    LinearSlot v;     // (KVH·D, C) self_attn.v_proj
    LinearSlot o;     // (C, H·D)   self_attn.o_proj
    LinearSlot gate;  // (F, C)     mlp.gate_proj
    LinearSlot up;    // (F, C)     mlp.up_proj
    LinearSlot down;  // (C, F)     mlp.down_proj

    DecoderLayer(int index, float[] inputNorm, float[] postAttentionNorm, LinearSlot q, LinearSlot k, LinearSlot v,
                 LinearSlot o, LinearSlot gate, LinearSlot up, LinearSlot down) {
        this.index = index;
        this.inputNorm = inputNorm;
        this.postAttentionNorm = postAttentionNorm;
        this.q = q;
        this.k = k;
        this.v = v;
        this.o = o;
        this.gate = gate;
        this.up = up;
        this.down = down;
    }

    LinearSlot[] slots() {
        return new LinearSlot[]{q, k, v, o, gate, up, down};
    }

    /** Replaces the slot with this HF module name; false when the name is not one of this layer's. */
    boolean replace(String name, LinearSlot s) {
        if (name.equals(q.name())) q = s;
        else if (name.equals(k.name())) k = s;
        else if (name.equals(v.name())) v = s;
        else if (name.equals(o.name())) o = s;
        else if (name.equals(gate.name())) gate = s;
        else if (name.equals(up.name())) up = s;
        else if (name.equals(down.name())) down = s;
        else return false;
        return true;
    }
}
