package finetune4j.model;

import finetune4j.Finetune4jException;
import finetune4j.ModelFormatException;
import finetune4j.engine.kernels.KernelSelector;
import finetune4j.engine.kernels.Kernels;
import finetune4j.engine.tensor.Weight;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * A Llama-family decoder ({@code LlamaForCausalLM}, {@code MistralForCausalLM},
 * {@code Qwen2ForCausalLM}) written out layer by layer, llm.c style:
 *
 * <pre>
 * h = embed_tokens[ids]                                         (BT, C)
 * for each layer:
 *   x = rmsnorm(h) · input_layernorm                            (BT, C)
 *   q, k, v = x·Wqᵀ (+bq), x·Wkᵀ (+bk), x·Wvᵀ (+bv)              (BT, H·D), (BT, KVH·D) ×2
 *   q, k = rope(q), rope(k)                                      rotate-half layout
 *   a = softmax(q·kᵀ/√D + causal) · v   (GQA: head h reads KV head h/(H/KVH))
 *   h = h + a·Woᵀ (+bo)
 *   x = rmsnorm(h) · post_attention_layernorm
 *   h = h + (silu(x·Wgᵀ) ⊙ x·Wuᵀ)·Wdᵀ
 * logits = (rmsnorm(h) · norm)·W_lmᵀ       (W_lm = embed_tokens when tied)
 * </pre>
 *
 * Weights stay in their stored dtype (F32/BF16/F16, memory-mapped); every product accumulates in
 * FP32 through the kernel door; norms and softmax in FP32 — the numerics of transformers running
 * the same checkpoint in float32. Every linear layer is a {@link LinearSlot} that adapters can wrap
 * ({@link #replaceLinear}).
 *
 * <p>Use: {@link #forward(int[])} for one sequence, {@link #forwardBatch} for several
 * right-padded ones, {@link #newSession(int)} for incremental decoding with a KV cache.
 * The model itself is read-only while running; each {@link Session} or {@link Activations} owns
 * its buffers, so sessions on different threads do not interfere.
 */
public final class LlamaModel implements AutoCloseable {
    /** Which logits a forward pass computes. */
    public enum Logits {
        /** None (e.g. the first chunks of a long prompt). */
        NONE,
        /** One row per sequence: its last position ({@code lengths[b] - 1}, or T-1). */
        LAST,
        /** Every position (B·T rows). */
        ALL
    }

    private final ModelConfig config;
    private final GenerationConfig generationConfig;
    private final Kernels kernels;
    private final Weight embedTokens;        // (V, C) model.embed_tokens.weight, stored dtype
    private final DecoderLayer[] layers;     // [L]
    private final float[] norm;              // (C) model.norm.weight
    private LinearSlot lmHead;               // (V, C) lm_head (the embedding when tied)
    private final Rope rope;
    private final AutoCloseable resource;    // the mapped files, or null
    private final float eps;

    private LlamaModel(ModelConfig config, GenerationConfig generationConfig, Kernels kernels, Weight embedTokens,
                       DecoderLayer[] layers, float[] norm, LinearSlot lmHead, AutoCloseable resource) {
        this.config = config;
        this.generationConfig = generationConfig;
        this.kernels = kernels;
        this.embedTokens = embedTokens;
        this.layers = layers;
        this.norm = norm;
        this.lmHead = lmHead;
        this.resource = resource;
        this.rope = new Rope(config);
        this.eps = (float) config.rmsNormEps();
    }

    /**
     * Loads a Hugging Face model directory ({@code config.json}, optional
     * {@code generation_config.json}, {@code model.safetensors} or shards with their index),
     * with the default kernels.
     *
     * @throws ModelFormatException for a missing or malformed file, an unsupported architecture,
     *                              a missing tensor or a tensor of the wrong shape
     */
    public static LlamaModel load(Path dir) {
        return load(dir, KernelSelector.get());
    }

    /** {@link #load(Path)} with explicit kernels. */
    public static LlamaModel load(Path dir, Kernels kernels) {
        ModelConfig config = ModelConfig.load(dir);
        GenerationConfig gen = GenerationConfig.load(dir);
        SafetensorsSource src = SafetensorsSource.open(dir);
        try {
            return build(config, gen, src, kernels, src);
        } catch (RuntimeException e) {
            src.close();
            throw e;
        }
    }

    /** A model over tensors from any source (tests, tools); the caller keeps ownership of the source. */
    public static LlamaModel fromWeights(ModelConfig config, GenerationConfig gen, WeightSource src, Kernels kernels) {
        return build(config, gen, src, kernels, null);
    }

    private static LlamaModel build(ModelConfig c, GenerationConfig gen, WeightSource src, Kernels kernels,
                                    AutoCloseable resource) {
        int C = c.hiddenSize(), F = c.intermediateSize(), V = c.vocabSize();
        String qShape = "num_attention_heads·head_dim = " + c.qDim();
        String kvShape = "num_key_value_heads·head_dim = " + c.kvDim();
        Weight embed = matrix(src, "model.embed_tokens.weight", V, "vocab_size", C, "hidden_size");
        DecoderLayer[] layers = new DecoderLayer[c.numHiddenLayers()];
        for (int i = 0; i < layers.length; i++) {
            String p = "model.layers." + i + ".";
            layers[i] = new DecoderLayer(i,
                    vector(src, p + "input_layernorm.weight", C),
                    vector(src, p + "post_attention_layernorm.weight", C),
                    linear(src, kernels, p + "self_attn.q_proj", c.qDim(), qShape, C, "hidden_size", c.qkvBias()),
                    linear(src, kernels, p + "self_attn.k_proj", c.kvDim(), kvShape, C, "hidden_size", c.qkvBias()),
                    linear(src, kernels, p + "self_attn.v_proj", c.kvDim(), kvShape, C, "hidden_size", c.qkvBias()),
                    linear(src, kernels, p + "self_attn.o_proj", C, "hidden_size", c.qDim(), qShape, c.oBias()),
                    linear(src, kernels, p + "mlp.gate_proj", F, "intermediate_size", C, "hidden_size", c.mlpBias()),
                    linear(src, kernels, p + "mlp.up_proj", F, "intermediate_size", C, "hidden_size", c.mlpBias()),
                    linear(src, kernels, p + "mlp.down_proj", C, "hidden_size", F, "intermediate_size", c.mlpBias()));
        }
        float[] norm = vector(src, "model.norm.weight", C);
        LinearSlot head = c.tieWordEmbeddings()
                ? new DenseLinear("lm_head", embed, null, kernels)
                : linear(src, kernels, "lm_head", V, "vocab_size", C, "hidden_size", false);
        return new LlamaModel(c, gen, kernels, embed, layers, norm, head, resource);
    }

    private static LinearSlot linear(WeightSource src, Kernels kernels, String module, int rows, String rowsWhy,
                                     int cols, String colsWhy, boolean bias) {
        Weight w = matrix(src, module + ".weight", rows, rowsWhy, cols, colsWhy);
        float[] b = bias ? vector(src, module + ".bias", rows) : null;
        return new DenseLinear(module, w, b, kernels);
    }

    private static Weight matrix(WeightSource src, String name, int rows, String rowsWhy, int cols, String colsWhy) {
        long[] want = {rows, cols};
        check(src, name, want, "[" + rowsWhy + " = " + rows + ", " + colsWhy + " = " + cols + "]");
        Weight w = src.weight(name);
        if (w.rows() != rows || w.cols() != cols) {
            throw new ModelFormatException(src.origin(), "tensor '" + name + "' is (" + w.rows() + ", " + w.cols()
                    + ") but config.json implies (" + rows + ", " + cols + ")");
        }
        return w;
    }

    private static float[] vector(WeightSource src, String name, int n) {
        check(src, name, new long[]{n}, "[" + n + "]");
        return src.floats(name);
    }

    private static void check(WeightSource src, String name, long[] want, String why) {
        if (!src.contains(name)) {
            throw new ModelFormatException(src.origin(), "tensor '" + name + "' is missing; config.json implies shape "
                    + why + " (hint: is config.json from the same checkpoint as the weights?)");
        }
        long[] got = src.shape(name);
        if (!Arrays.equals(got, want)) {
            throw new ModelFormatException(src.origin(), "tensor '" + name + "' has shape " + Arrays.toString(got)
                    + " but config.json implies " + why + " (hint: is config.json from the same checkpoint as the weights?)");
        }
    }

    // ------------------------------------------------------------------ public surface

    public ModelConfig config() {
        return config;
    }

    public GenerationConfig generationConfig() {
        return generationConfig;
    }

    public Kernels kernels() {
        return kernels;
    }

    /** Longest sequence this model processes exactly (see {@link ModelConfig#maxContext()}). */
    public int maxContext() {
        return config.maxContext();
    }

    /** Parameters, counting a tied embedding once (as {@code model.num_parameters()} does). */
    public long parameterCount() {
        long n = (long) embedTokens.rows() * embedTokens.cols() + norm.length;
        for (DecoderLayer l : layers) {
            n += l.inputNorm.length + l.postAttentionNorm.length;
            for (LinearSlot s : l.slots()) n += s.parameterCount();
        }
        if (!config.tieWordEmbeddings()) n += lmHead.parameterCount();
        return n;
    }

    /** Bytes of parameters held: matrices in their stored dtype, norm weights as FP32. */
    public long weightBytes() {
        long n = embedTokens.data().byteSize() + 4L * norm.length;
        for (DecoderLayer l : layers) {
            n += 4L * (l.inputNorm.length + l.postAttentionNorm.length);
            for (LinearSlot s : l.slots()) n += s.weightBytes();
        }
        if (!config.tieWordEmbeddings()) n += lmHead.weightBytes();
        return n;
    }

    /**
     * Bytes of parameters one decode step reads: every linear slot (lm_head included, the whole
     * embedding when tied), the norms, and one embedding row.
     */
    public long decodeBytesPerToken() {
        long n = embedTokens.data().byteSize() / embedTokens.rows() + 4L * norm.length + lmHead.weightBytes();
        for (DecoderLayer l : layers) {
            n += 4L * (l.inputNorm.length + l.postAttentionNorm.length);
            for (LinearSlot s : l.slots()) n += s.weightBytes();
        }
        return n;
    }

    /** Every linear slot, layer by layer (q, k, v, o, gate, up, down), then lm_head. */
    public List<LinearSlot> linearSlots() {
        List<LinearSlot> out = new ArrayList<>();
        for (DecoderLayer l : layers) out.addAll(List.of(l.slots()));
        out.add(lmHead);
        return out;
    }

    /**
     * Replaces the slot named {@code name} (an HF module name such as
     * {@code model.layers.3.self_attn.q_proj}) with {@code wrap.apply(current)}; the replacement
     * must keep the input and output widths. Not to be called while a forward pass runs.
     *
     * @throws IllegalArgumentException for an unknown name or changed widths
     */
    public void replaceLinear(String name, UnaryOperator<LinearSlot> wrap) {
        LinearSlot current = null;
        for (LinearSlot s : linearSlots()) {
            if (s.name().equals(name)) current = s;
        }
        if (current == null) throw new IllegalArgumentException("no linear layer named '" + name + "'");
        LinearSlot next = wrap.apply(current);
        if (next.inFeatures() != current.inFeatures() || next.outFeatures() != current.outFeatures()) {
            throw new IllegalArgumentException(name + ": replacement is (" + next.outFeatures() + ", " + next.inFeatures()
                    + "), the slot is (" + current.outFeatures() + ", " + current.inFeatures() + ")");
        }
        if (name.equals(lmHead.name())) {
            lmHead = next;
            return;
        }
        for (DecoderLayer l : layers) {
            if (l.replace(name, next)) return;
        }
    }

    /** Logits (V) of the last position of {@code ids}: a new array. */
    public float[] forward(int[] ids) {
        checkContext(ids.length, "a sequence of " + ids.length + " positions");
        Activations a = Activations.forInference(config, 1, ids.length, false);
        forward(a, ids, 1, ids.length, null, Logits.LAST);
        return a.logits.clone();
    }

    /** Logits of every position of {@code ids}, (T, V) row-major: a new array. */
    public float[] forwardAll(int[] ids) {
        checkContext(ids.length, "a sequence of " + ids.length + " positions");
        Activations a = Activations.forInference(config, 1, ids.length, true);
        forward(a, ids, 1, ids.length, null, Logits.ALL);
        return a.logits.clone();
    }

    /**
     * Several sequences at once, right-padded to T: {@code ids} is (B, T) row-major, sequence b
     * holds {@code lengths[b]} real tokens followed by padding (any valid ids). Causal attention
     * keeps padding from affecting real positions. Returns a new array: (B·T, V) when
     * {@code allPositions}, else (B, V) with the logits at position {@code lengths[b] - 1}.
     */
    public float[] forwardBatch(int[] ids, int b, int t, int[] lengths, boolean allPositions) {
        checkContext(t, "a sequence of " + t + " positions");
        if (ids.length != b * t) throw new IllegalArgumentException("ids has " + ids.length + " entries for B=" + b + ", T=" + t);
        Activations a = Activations.forInference(config, b, t, allPositions);
        forward(a, ids, b, t, lengths, allPositions ? Logits.ALL : Logits.LAST);
        return a.logits.clone();
    }

    /**
     * The forward pass into preallocated buffers (no allocation): {@code ids} (B, T) row-major,
     * right-padded with {@code lengths} (null: all T). Results stay in {@code a} (logits,
     * and every activation when {@code a} is {@link Activations#forTraining}).
     */
    public void forward(Activations a, int[] ids, int b, int t, int[] lengths, Logits logits) {
        if (lengths != null) {
            if (lengths.length != b) throw new IllegalArgumentException("lengths has " + lengths.length + " entries for B=" + b);
            for (int i = 0; i < b; i++) {
                if (lengths[i] < 1 || lengths[i] > t) {
                    throw new IllegalArgumentException("lengths[" + i + "] = " + lengths[i] + " is outside [1, T=" + t + "]");
                }
            }
        }
        run(a, ids, 0, b, t, null, logits, lengths);
    }

    /** A decoding session with a KV cache for up to {@code capacity} positions (≤ {@link #maxContext()}). */
    public Session newSession(int capacity) {
        checkContext(capacity, "a session of " + capacity + " positions");
        return new Session(this, capacity);
    }

    @Override
    public void close() {
        if (resource != null) {
            try {
                resource.close();
            } catch (Exception e) {
                throw new Finetune4jException("closing model weights: " + e.getMessage(), e);
            }
        }
    }

    // ------------------------------------------------------------------ the forward pass

    void checkContext(int positions, String what) {
        if (positions > config.maxContext()) {
            throw new Finetune4jException(what + " exceeds the model's context of " + config.maxContext()
                    + " positions (" + config.maxContextReason() + "); hint: shorten the prompt or lower max_new_tokens"
                    + " so that prompt + new tokens ≤ " + config.maxContext());
        }
    }

    /**
     * One pass over rows {@code ids[idsOff .. idsOff + B·T)}. With a cache (B = 1), the rows sit
     * at positions {@code cache.length ..} and their keys/values are appended to the cache.
     */
    void run(Activations a, int[] ids, int idsOff, int b, int t, KvCache cache, Logits mode, int[] lengths) {
        if (b > a.maxB || t > a.maxT) {
            throw new IllegalArgumentException("B=" + b + ", T=" + t + " exceeds activations for B=" + a.maxB + ", T=" + a.maxT);
        }
        if (mode == Logits.ALL && !a.allLogits) throw new IllegalArgumentException("activations hold last-position logits only");
        if (cache != null && b != 1) throw new IllegalArgumentException("a KV cache holds one sequence, got B=" + b);
        final int C = config.hiddenSize(), F = config.intermediateSize(), V = config.vocabSize();
        final int H = config.numAttentionHeads(), KVH = config.numKeyValueHeads(), D = config.headDim();
        final int qDim = config.qDim(), kvDim = config.kvDim();
        final int bt = b * t;
        final int past = cache == null ? 0 : cache.length;
        if (cache != null && past + t > cache.capacity) {
            throw new Finetune4jException("the session holds " + past + " positions; " + t + " more exceed its capacity of "
                    + cache.capacity + " (hint: create the session with a larger capacity, up to " + config.maxContext() + ")");
        }
        checkContext(past + t, "a sequence of " + (past + t) + " positions");
        Rope.Tables rt = rope.ensure(past + t);

        // embedding lookup (stored dtype → FP32) and positions
        float[] h0 = a.resid[0];                                          // (BT, C)
        for (int r = 0; r < bt; r++) {
            int id = ids[idsOff + r];
            if (id < 0 || id >= V) {
                throw new Finetune4jException("token id " + id + " at row " + (r / t) + ", position " + (r % t)
                        + " is outside the vocabulary [0, " + V + ")");
            }
            embedTokens.rowToFloat(id, h0, r * C);
            a.pos[r] = past + r % t;
        }

        for (int l = 0; l < layers.length; l++) {
            DecoderLayer L = layers[l];
            float[] x = a.resid[l];                                       // (BT, C) layer input
            float[] ln1 = a.ln1[l], q = a.q[l], attnOut = a.attnOut[l];  // (BT, C), (BT, H·D), (BT, H·D)

            // attention block
            kernels.rmsnorm(ln1, 0, a.rstd1[l], 0, x, 0, L.inputNorm, bt, C, eps);
            float[] kBuf = cache == null ? a.k[l] : cache.k[l];          // (BT, KVH·D) or cache (capacity, KVH·D)
            float[] vBuf = cache == null ? a.v[l] : cache.v[l];
            int kvOff = past * kvDim;                                     // cache rows [past, past+T)
            L.q.forward(q, 0, ln1, 0, bt);
            L.k.forward(kBuf, kvOff, ln1, 0, bt);
            L.v.forward(vBuf, kvOff, ln1, 0, bt);
            kernels.rope(q, 0, bt, H, D, a.pos, 0, rt.cos(), rt.sin());
            kernels.rope(kBuf, kvOff, bt, KVH, D, a.pos, 0, rt.cos(), rt.sin());
            for (int s = 0; s < b; s++) {
                int qOff = s * t * qDim;
                if (cache != null) {
                    kernels.attention(attnOut, qOff, null, 0, q, qOff, kBuf, 0, vBuf, 0, t, past + t, past, H, KVH, D);
                } else {
                    float[] att = a.att[l];                               // (B, H, T, T) or null
                    kernels.attention(attnOut, qOff, att, s * H * t * t, q, qOff, kBuf, s * t * kvDim, vBuf, s * t * kvDim,
                            t, t, 0, H, KVH, D);
                }
            }
            L.o.forward(a.proj, 0, attnOut, 0, bt);                      // (BT, C)
            float[] mid = a.mid[l];
            kernels.add(mid, 0, x, 0, a.proj, 0, bt * C);

            // MLP block
            float[] ln2 = a.ln2[l], gate = a.gate[l], up = a.up[l], act = a.act[l];
            kernels.rmsnorm(ln2, 0, a.rstd2[l], 0, mid, 0, L.postAttentionNorm, bt, C, eps);
            L.gate.forward(gate, 0, ln2, 0, bt);                          // (BT, F)
            L.up.forward(up, 0, ln2, 0, bt);                              // (BT, F)
            kernels.siluMul(act, 0, gate, 0, up, 0, bt * F);
            L.down.forward(a.proj, 0, act, 0, bt);                        // (BT, C)
            kernels.add(a.resid[l + 1], 0, mid, 0, a.proj, 0, bt * C);
        }
        if (cache != null) cache.length = past + t;

        float[] hidden = a.resid[layers.length];                          // (BT, C)
        switch (mode) {
            case NONE -> {
            }
            case ALL -> {
                kernels.rmsnorm(a.lnf, 0, a.rstdf, 0, hidden, 0, norm, bt, C, eps);
                lmHead.forward(a.logits, 0, a.lnf, 0, bt);               // (BT, V)
            }
            case LAST -> {
                for (int s = 0; s < b; s++) {
                    int row = s * t + (lengths == null ? t - 1 : lengths[s] - 1);
                    kernels.rmsnorm(a.lnf, s * C, a.rstdf, s, hidden, row * C, norm, 1, C, eps);
                }
                lmHead.forward(a.logits, 0, a.lnf, 0, b);                // (B, V)
            }
        }
    }
}
