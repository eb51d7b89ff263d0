package finetune4j.model;

import com.fasterxml.jackson.databind.node.ObjectNode;
import finetune4j.ConfigException;
import finetune4j.Finetune4jException;
import finetune4j.ModelFormatException;
import finetune4j.engine.kernels.KernelSelector;
import finetune4j.engine.io.SafetensorsWriter;
import finetune4j.engine.kernels.Kernels;
import finetune4j.engine.tensor.DType;
import finetune4j.engine.tensor.NamedParam;
import finetune4j.engine.tensor.Weight;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

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

    final ModelConfig config;
    private final GenerationConfig generationConfig;
    final Kernels kernels;
    Weight embedTokens;                      // (V, C) model.embed_tokens.weight, stored dtype (FP32 heap when trainable)
    final DecoderLayer[] layers;             // [L]
    final float[] norm;                      // (C) model.norm.weight
    LinearSlot lmHead;                       // (V, C) lm_head (the embedding when tied)
    final Rope rope;
    private final AutoCloseable resource;    // the mapped files, or null
    final float eps;
    final DType baseDType;                   // stored dtype of model.embed_tokens.weight as loaded
    Path sourceDir;                          // the directory loaded from (config and tokenizer files), or null

    // full fine-tuning state (null while frozen)
    NamedParam embedParam;                   // (V, C) model.embed_tokens.weight, FP32, with its gradient
    float[] normGrad;                        // (C) gradient of model.norm.weight

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
        this.baseDType = embedTokens.dtype();
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
        if (Files.isRegularFile(dir.resolve("config.json")) && ModelConfig.rawJson(dir).hasNonNull("quantization_config")) {
            throw new ModelFormatException(dir.resolve("config.json").toString(), "has a quantization_config: this is a quantized"
                    + " (bitsandbytes 4-bit) checkpoint; load it with finetune4j.quant.QuantizedModels.load (the CLI commands"
                    + " do this automatically)");
        }
        GenerationConfig gen = GenerationConfig.load(dir);
        SafetensorsSource src = SafetensorsSource.open(dir);
        try {
            LlamaModel m = build(config, gen, src, kernels, src);
            m.sourceDir = dir;
            return m;
        } catch (RuntimeException e) {
            src.close();
            throw e;
        }
    }

    /**
     * A model whose config comes from {@code dir} and whose tensors come from {@code src}, a view of
     * the directory's weights (e.g. {@code finetune4j.quant}'s 4-bit one); {@link #close()} closes
     * {@code resource} (the mapped files; may be null). Like {@link #load(Path, Kernels)} otherwise.
     *
     * @throws ModelFormatException as {@link #load(Path)}
     */
    public static LlamaModel load(Path dir, Kernels kernels, WeightSource src, AutoCloseable resource) {
        try {
            ModelConfig config = ModelConfig.load(dir);
            GenerationConfig gen = GenerationConfig.load(dir);
            LlamaModel m = build(config, gen, src, kernels, resource);
            m.sourceDir = dir;
            return m;
        } catch (RuntimeException e) {
            if (resource != null) {
                try {
                    resource.close();
                } catch (Exception suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
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
        check(src, module + ".weight", new long[]{rows, cols}, "[" + rowsWhy + " = " + rows + ", " + colsWhy + " = " + cols + "]");
        float[] b = bias ? vector(src, module + ".bias", rows) : null;
        LinearSlot own = src.linear(module, rows, cols, b, kernels);
        if (own != null) {
            if (own.outFeatures() != rows || own.inFeatures() != cols) {
                throw new ModelFormatException(src.origin(), "layer '" + module + "' is (" + own.outFeatures() + ", "
                        + own.inFeatures() + ") but config.json implies (" + rows + ", " + cols + ")");
            }
            return own;
        }
        Weight w = matrix(src, module + ".weight", rows, rowsWhy, cols, colsWhy);
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
     * Logits of every position of B packed sequences, (B·T, V) row-major: a new array. Each
     * sequence holds examples end to end, numbered by {@code segmentIds} (B, T) as in the packed
     * {@link #forwardBackward}; every example gets the logits it gets alone (positions restart,
     * attention stays inside the example).
     */
    public float[] forwardPacked(int[] ids, int[] segmentIds, int b, int t) {
        checkContext(t, "a sequence of " + t + " positions");
        if (ids.length != b * t) throw new IllegalArgumentException("ids has " + ids.length + " entries for B=" + b + ", T=" + t);
        int[] start = new int[b * t];
        boolean packed = Segments.starts(segmentIds, b, t, start);
        Activations a = Activations.forInference(config, b, t, true);
        run(a, ids, 0, b, t, null, Logits.ALL, null, packed ? start : null);
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

    // ------------------------------------------------------------------ training

    /**
     * One training step's forward and backward pass over a batch of B sequences of T positions
     * (right-padded; padding must carry label −100), into preallocated buffers (no allocation).
     *
     * <p>Labels follow transformers' {@code LlamaForCausalLM(input_ids, labels=labels)}: {@code labels}
     * is aligned with {@code ids} (usually a copy of them with −100 where no loss is wanted) and is
     * shifted here: the logits at position i are scored against {@code labels[i + 1]}, the last
     * position of each sequence has no target. The returned loss is the SUM of the cross-entropy
     * over the target tokens ({@link #countTargets} of them); the gradients accumulated
     * ({@code +=}) into every trainable parameter's {@link NamedParam#grad()} are those of
     * {@code lossScale × sum}. With {@code lossScale = 1 / N}, N the targets of all micro-batches
     * of an optimizer step, the accumulated gradient is that of the token-weighted mean loss
     * (transformers' loss is the mean over one batch: {@code lossScale = 1 / countTargets(labels)}).
     *
     * @param a         buffers allocated for at least B × T
     * @param ids       (B, T) token ids, row-major
     * @param labels    (B, T) target ids aligned with {@code ids}, −100 = no loss
     * @param lossScale factor applied to d(sum of losses)
     * @return the summed cross-entropy over target tokens (0 when there are none)
     * @throws Finetune4jException for an id or label outside the vocabulary, or T beyond the model's context
     */
    public double forwardBackward(TrainingBuffers a, int[] ids, int[] labels, int b, int t, float lossScale) {
        return TrainingPass.run(this, a, ids, labels, null, b, t, lossScale, true);
    }

    /**
     * {@link #forwardBackward(TrainingBuffers, int[], int[], int, int, float)} over packed
     * sequences ({@code --packing}): each of the B sequences may hold several examples end to end,
     * numbered by {@code segmentIds} (B, T) (a run of equal ids is one example; 0 marks padding).
     * Each example is computed exactly as if it ran alone: positions restart at 0 per example,
     * attention is block-diagonal causal (no query sees another example's keys), and the last
     * position of an example has no target. So the loss and gradients equal those of the same
     * examples run unpacked, with the same token weighting. {@code segmentIds} null: unpacked.
     *
     * @throws IllegalArgumentException when a segment id is negative or a segment is not contiguous
     */
    public double forwardBackward(TrainingBuffers a, int[] ids, int[] labels, int[] segmentIds, int b, int t, float lossScale) {
        return TrainingPass.run(this, a, ids, labels, segmentIds, b, t, lossScale, true);
    }

    /**
     * The summed cross-entropy of {@link #forwardBackward} without the backward pass (evaluation);
     * the mean loss is this divided by {@link #countTargets}.
     */
    public double forwardLoss(TrainingBuffers a, int[] ids, int[] labels, int b, int t) {
        return TrainingPass.run(this, a, ids, labels, null, b, t, 0f, false);
    }

    /** {@link #forwardLoss(TrainingBuffers, int[], int[], int, int)} over packed sequences (see the packed {@link #forwardBackward}). */
    public double forwardLoss(TrainingBuffers a, int[] ids, int[] labels, int[] segmentIds, int b, int t) {
        return TrainingPass.run(this, a, ids, labels, segmentIds, b, t, 0f, false);
    }

    /** Target tokens of a (B, T) label batch after the causal shift: labels ≠ −100 at positions 1..T−1. */
    public static int countTargets(int[] labels, int b, int t) {
        int n = 0;
        for (int s = 0; s < b; s++) {
            for (int i = 1; i < t; i++) if (labels[s * t + i] != Kernels.IGNORE_INDEX) n++;
        }
        return n;
    }

    /** Row {@code id} of the embedding as FP32 into {@code dst[off .. off + C)}. */
    void embeddingRow(int id, float[] dst, int off) {
        float[] heap = embedTokens.heapArray();
        int c = embedTokens.cols();
        if (heap != null) System.arraycopy(heap, id * c, dst, off, c);
        else embedTokens.rowToFloat(id, dst, off);
    }

    /**
     * The names of every parameter, as transformers' {@code named_parameters()} lists them:
     * {@code model.embed_tokens.weight}; per layer the q/k/v/o projections, gate/up/down (weight,
     * then bias where the architecture has one), {@code input_layernorm.weight},
     * {@code post_attention_layernorm.weight}; {@code model.norm.weight}; {@code lm_head.weight}
     * unless tied to the embedding.
     */
    public List<String> parameterNames() {
        List<String> names = new ArrayList<>();
        names.add(EMBED);
        for (DecoderLayer l : layers) {
            for (LinearSlot s : l.slots()) {
                names.add(s.name() + ".weight");
                if (hasBias(s.name())) names.add(s.name() + ".bias");
            }
            names.add(prefix(l) + "input_layernorm.weight");
            names.add(prefix(l) + "post_attention_layernorm.weight");
        }
        names.add("model.norm.weight");
        if (!config.tieWordEmbeddings()) names.add("lm_head.weight");
        return names;
    }

    private static final String EMBED = "model.embed_tokens.weight";

    private static String prefix(DecoderLayer l) {
        return "model.layers." + l.index + ".";
    }

    private boolean hasBias(String module) {
        if (module.endsWith("q_proj") || module.endsWith("k_proj") || module.endsWith("v_proj")) return config.qkvBias();
        if (module.endsWith("o_proj")) return config.oBias();
        if (module.startsWith("model.layers.")) return config.mlpBias();
        return false;
    }

    /**
     * Full fine-tuning: every parameter whose name ({@link #parameterNames()}) matches one of
     * {@code patterns} as a whole (a Java regex; a plain name matches itself) becomes trainable.
     * Each pattern must match at least one name.
     *
     * @throws ConfigException naming a pattern that matches nothing, with the names that exist
     * @see #makeTrainable(Predicate)
     */
    public List<NamedParam> makeTrainable(List<String> patterns) {
        List<String> names = parameterNames();
        List<Pattern> compiled = new ArrayList<>();
        for (String p : patterns) {
            Pattern re;
            try {
                re = Pattern.compile(p);
            } catch (PatternSyntaxException e) {
                throw new ConfigException("trainable parameter pattern", p, "a Java regular expression (" + e.getDescription() + ")");
            }
            if (names.stream().noneMatch(n -> re.matcher(n).matches())) {
                throw new ConfigException("trainable parameter pattern", p, "a name or regex matching one of this model's "
                        + names.size() + " parameters: " + describeNames()
                        + (config.tieWordEmbeddings() ? " (lm_head is tied to model.embed_tokens.weight)" : ""));
            }
            compiled.add(re);
        }
        return makeTrainable(n -> compiled.stream().anyMatch(re -> re.matcher(n).matches()));
    }

    /** The parameter names with the layer index written {i}: one line's worth for error messages. */
    private String describeNames() {
        List<String> out = new ArrayList<>();
        for (String n : parameterNames()) {
            String g = n.replaceFirst("^model\\.layers\\.\\d+\\.", "model.layers.{i}.");
            if (!out.contains(g)) out.add(g);
        }
        return String.join(", ", out) + " with i in [0, " + layers.length + ")";
    }

    /**
     * Full fine-tuning: the parameters whose names {@code select} accepts become trainable FP32
     * parameters with gradients (a copy of the stored weight; norms are already FP32 and are
     * trained in place). A trainable tied embedding also serves as lm_head and receives the
     * gradients of both uses. Parameters already trainable stay so. Call this before wrapping the
     * selected layers with adapters.
     *
     * @return every trainable parameter of the model afterwards ({@link #trainableParameters()})
     * @throws IllegalStateException when a selected linear weight sits in a slot that is no longer
     *                               the plain base layer (already trainable, or wrapped by an adapter)
     */
    public List<NamedParam> makeTrainable(Predicate<String> select) {
        int C = config.hiddenSize();
        if (select.test(EMBED) && embedParam == null) {
            if (config.tieWordEmbeddings() && !(lmHead instanceof DenseLinear)) {
                throw new IllegalStateException("the tied lm_head is wrapped (" + lmHead.getClass().getSimpleName()
                        + "): make model.embed_tokens.weight trainable before attaching adapters to lm_head");
            }
            float[] data = embedTokens.toFloatArray();
            embedParam = new NamedParam(EMBED, new long[]{embedTokens.rows(), C}, data, new float[data.length]);
            embedTokens = Weight.ofArray(EMBED, data, embedTokens.rows(), C);
            if (config.tieWordEmbeddings()) lmHead = TrainableLinear.sharing(lmHead.name(), embedParam, kernels);
        }
        for (DecoderLayer l : layers) {
            String p = prefix(l);
            if (select.test(p + "input_layernorm.weight") && l.dInputNorm == null) l.dInputNorm = new float[C];
            if (select.test(p + "post_attention_layernorm.weight") && l.dPostAttentionNorm == null) {
                l.dPostAttentionNorm = new float[C];
            }
            for (LinearSlot s : l.slots()) {
                LinearSlot t = trainableSlot(s, select);
                if (t != s) l.replace(s.name(), t);
            }
        }
        if (select.test("model.norm.weight") && normGrad == null) normGrad = new float[C];
        if (!config.tieWordEmbeddings()) lmHead = trainableSlot(lmHead, select);
        return trainableParameters();
    }

    private LinearSlot trainableSlot(LinearSlot s, Predicate<String> select) {
        boolean w = select.test(s.name() + ".weight");
        boolean b = hasBias(s.name()) && select.test(s.name() + ".bias");
        if (!w && !b) return s;
        if (s instanceof DenseLinear d) return TrainableLinear.of(d, w, b, kernels);
        for (NamedParam p : s.trainableParameters()) {                      // already trainable as asked: keep
            if (p.name().equals(s.name() + ".weight")) w = false;
            if (p.name().equals(s.name() + ".bias")) b = false;
        }
        if (!w && !b) return s;
        throw new IllegalStateException(s.name() + " is a " + s.getClass().getSimpleName() + ", not the plain base layer:"
                + " select every full fine-tuning parameter of it in one makeTrainable call, before attaching adapters");
    }

    /**
     * Every trainable parameter with its HF name and gradient, in {@code named_parameters()} order:
     * the embedding, per layer the slots' parameters (full fine-tuning or adapters) and the norms,
     * the final norm, lm_head's. A tied lm_head's weight is listed once, as the embedding.
     * The optimizer updates {@code data()} in place; the model computes with it directly.
     */
    public List<NamedParam> trainableParameters() {
        int C = config.hiddenSize();
        List<NamedParam> out = new ArrayList<>();
        if (embedParam != null) out.add(embedParam);
        for (DecoderLayer l : layers) {
            for (LinearSlot s : l.slots()) out.addAll(s.trainableParameters());
            if (l.dInputNorm != null) out.add(new NamedParam(prefix(l) + "input_layernorm.weight", new long[]{C}, l.inputNorm, l.dInputNorm));
            if (l.dPostAttentionNorm != null) {
                out.add(new NamedParam(prefix(l) + "post_attention_layernorm.weight", new long[]{C}, l.postAttentionNorm,
                        l.dPostAttentionNorm));
            }
        }
        if (normGrad != null) out.add(new NamedParam("model.norm.weight", new long[]{C}, norm, normGrad));
        out.addAll(lmHead.trainableParameters());
        return out;
    }

    /** Sets the gradient of every trainable parameter to zero. */
    public void zeroGradients() {
        for (NamedParam p : trainableParameters()) Arrays.fill(p.grad(), 0f);
    }

    // ------------------------------------------------------------------ saving a full fine-tune

    /** Shard size of {@link #saveModel(Path, DType)}: transformers' classic {@code max_shard_size="5GB"}. */
    public static final long DEFAULT_SHARD_BYTES = 5_000_000_000L;

    /** Files copied from the source directory by {@link #saveModel} (and by the 4-bit writer), when present. */
    public static final List<String> COPIED_FILES = List.of("generation_config.json", "tokenizer.json", "tokenizer_config.json",
            "special_tokens_map.json", "tokenizer.model", "vocab.json", "merges.txt", "added_tokens.json",
            "chat_template.jinja");

    /**
     * Saves the model — trained values included — as a Hugging Face model directory: safetensors
     * (sharded like {@code save_pretrained}, with {@code model.safetensors.index.json} when there is
     * more than one shard), {@code config.json} (the loaded one's keys kept, {@code torch_dtype} set),
     * and the tokenizer and generation files of the directory the model was loaded from.
     * Parameters are written in {@code dtype}: F32, or BF16/F16 (rounded to nearest even);
     * {@code null} keeps the base model's stored dtype. Frozen weights already in that dtype are
     * copied from the mapped files; converting them (e.g. a BF16 base saved as F32) holds the
     * converted tensors in memory until they are written. A tied lm_head is not written (transformers
     * ties it again on load).
     *
     * @return the files written (weights, index, config, copied files)
     * @throws IllegalStateException when a layer is wrapped by an adapter (merge it first)
     * @throws IllegalArgumentException when {@code dir} is the directory the model was loaded from
     * @throws Finetune4jException when a file cannot be written
     */
    public List<Path> saveModel(Path dir, DType dtype) {
        return saveModel(dir, dtype, DEFAULT_SHARD_BYTES);
    }

    /** {@link #saveModel(Path, DType)} with an explicit shard size in bytes. */
    public List<Path> saveModel(Path dir, DType dtype, long maxShardBytes) {
        DType dt = dtype == null ? baseDType : dtype;
        if (!dt.isComputeFloat()) throw new IllegalArgumentException("models are saved as F32, BF16 or F16, not " + dt);
        try {
            if (sourceDir != null && Files.exists(dir) && Files.isSameFile(dir, sourceDir)) {
                throw new IllegalArgumentException("cannot save over the directory the model is loaded from (" + dir
                        + "): its weights are memory-mapped; choose another directory");
            }
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new Finetune4jException("cannot create " + dir + ": " + e.getMessage(), e);
        }
        SafetensorsWriter w = SafetensorsWriter.create().metadata("format", "pt");
        int C = config.hiddenSize();
        if (embedParam != null) w.add(EMBED, dt, embedParam.shape(), embedParam.data());
        else addMatrix(w, EMBED, embedTokens, dt);
        for (DecoderLayer l : layers) {
            for (LinearSlot s : l.slots()) addSlot(w, s, dt);
            w.add(prefix(l) + "input_layernorm.weight", dt, new long[]{C}, l.inputNorm);
            w.add(prefix(l) + "post_attention_layernorm.weight", dt, new long[]{C}, l.postAttentionNorm);
        }
        w.add("model.norm.weight", dt, new long[]{C}, norm);
        if (!config.tieWordEmbeddings()) addSlot(w, lmHead, dt);
        List<Path> written = new ArrayList<>(w.writeSharded(dir, maxShardBytes));

        String torchName = switch (dt) {
            case F32 -> "float32";
            case BF16 -> "bfloat16";
            default -> "float16";
        };
        ObjectNode base = sourceDir != null && Files.exists(sourceDir.resolve("config.json")) ? ModelConfig.rawJson(sourceDir) : null;
        if (base != null && base.has("dtype")) base.put("dtype", torchName);   // transformers v5 writes "dtype"
        config.withTorchDtype(torchName).write(dir, base);
        written.add(dir.resolve("config.json"));
        if (sourceDir != null) {
            for (String f : COPIED_FILES) {
                Path src = sourceDir.resolve(f);
                if (Files.isRegularFile(src)) written.add(copyAtomically(src, dir.resolve(f)));
            }
        }
        return written;
    }

    private void addSlot(SafetensorsWriter w, LinearSlot s, DType dt) {
        Weight weight;
        float[] bias;
        if (s instanceof DenseLinear d) {
            weight = d.weight();
            bias = d.bias();
        } else if (s instanceof TrainableLinear t) {
            weight = t.weight();
            bias = t.bias();
        } else {
            throw new IllegalStateException(s.name() + " is wrapped by " + s.getClass().getSimpleName()
                    + ": merge the adapter into the base layer (or save the adapter) before saving a full model");
        }
        addMatrix(w, s.name() + ".weight", weight, dt);
        if (bias != null) w.add(s.name() + ".bias", dt, new long[]{bias.length}, bias);
    }

    private static void addMatrix(SafetensorsWriter w, String name, Weight m, DType dt) {
        long[] shape = {m.rows(), m.cols()};
        float[] heap = m.heapArray();
        if (heap != null) w.add(name, dt, shape, heap);                  // trainable FP32 values
        else if (m.dtype() == dt) w.add(name, dt, shape, m.data());      // stored bytes, copied at write time
        else w.add(name, dt, shape, m.toFloatArray());                   // converted (held until written)
    }

    private static Path copyAtomically(Path src, Path dst) {
        finetune4j.internal.AtomicFiles.copy(src, dst);
        return dst;
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
        run(a, ids, idsOff, b, t, cache, mode, lengths, null);
    }

    /**
     * {@link #run(Activations, int[], int, int, int, KvCache, Logits, int[])} over packed sequences
     * when {@code segStart} (BT, from {@link Segments#starts}) is not null (no cache).
     */
    void run(Activations a, int[] ids, int idsOff, int b, int t, KvCache cache, Logits mode, int[] lengths, int[] segStart) {
        if (segStart != null && cache != null) throw new IllegalArgumentException("packed sequences run without a KV cache");
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
            embeddingRow(id, h0, r * C);
            a.pos[r] = past + r % t - (segStart == null ? 0 : segStart[r]);
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
            if (segStart != null) {
                Segments.attention(kernels, attnOut, a.att[l], q, kBuf, vBuf, b, t, segStart, H, KVH, D);
            } else for (int s = 0; s < b; s++) {
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
