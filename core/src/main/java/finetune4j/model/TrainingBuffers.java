package finetune4j.model;

import finetune4j.Finetune4jException;

import java.util.IdentityHashMap;
import java.util.Map;

/**
 * Every buffer one training step ({@link LlamaModel#forwardBackward}) needs, allocated once for a
 * batch of up to B sequences of up to T positions; the step itself allocates nothing.
 *
 * <p>What the backward pass reads is kept in one of two ways:
 * <ul>
 *   <li><b>all layers</b> (default): per layer the residual stream input, the residual after
 *       attention, both 1/rms, q, k (after RoPE), v, gate and up — the norm outputs,
 *       silu(gate)·up, the attention probabilities and the attention output are cheap to recompute
 *       (elementwise, or the attention alone: a few per cent of a layer's products) and are
 *       recomputed during backward into buffers shared by all layers;</li>
 *   <li><b>gradient checkpointing</b>: only the residual stream input of each layer; right before
 *       a layer's backward its forward is run again into a single set of layer buffers.</li>
 * </ul>
 * Logits never exist for all B·T rows: the lm_head, cross-entropy and lm_head backward run on
 * chunks of at most {@link #headRows()} target rows (rows without a target are skipped).
 *
 * <p>Shapes use the alphabet of {@code finetune4j.engine.kernels}: BT = B·T, C hidden, F MLP
 * width, H/KVH heads, D head dim, V vocabulary, R = {@link #headRows()}.
 */
public final class TrainingBuffers {
    /**
     * Default budget of the logits chunk, in floats (48 MiB: 256 rows of a 49,152-token vocabulary).
     * Every chunk streams the whole lm_head weight twice (forward and the gradient of its input),
     * and a GEMM of few rows is dominated by packing that weight: on smollm-135m (LoRA B=4 T=256)
     * 256 rows instead of the former 85 (a 16 MiB budget) took ~10% off the CPU time of a step for
     * +32 MiB; 512 rows gained nothing more.
     */
    public static final int DEFAULT_HEAD_FLOATS = 3 << 22;

    final int maxB, maxT;
    final boolean checkpointing;
    final int headRows;

    final int[] pos;           // (BT) position of each row: r % T, or inside its example when packed
    final int[] segStart;      // (BT) packed steps: where row r's example begins in its sequence (Segments)
    boolean packed;            // the current step's sequences hold several examples each (block-diagonal attention)
    final int[] targets;       // (BT) next-token targets: labels shifted left by one, −100 at the last position
    final int[] targetRows;    // (BT) indices of the rows that have a target, in order

    // saved for backward: [L] arrays, or [1] with checkpointing (the layer being differentiated)
    final float[][] resid;     // [L+1] (BT, C) input of layer l; resid[L] = final hidden. Always per layer.
    final float[][] mid;       // (BT, C) residual after attention
    final float[][] rstd1;     // (BT) 1/rms of input_layernorm
    final float[][] rstd2;     // (BT) 1/rms of post_attention_layernorm
    final float[][] q;         // (BT, H·D) after RoPE
    final float[][] k;         // (BT, KVH·D) after RoPE
    final float[][] v;         // (BT, KVH·D)
    final float[][] gate;      // (BT, F) gate_proj output
    final float[][] up;        // (BT, F) up_proj output

    // scratch shared by all layers
    final float[] ln;          // (BT, C) a norm output (input_layernorm or post_attention_layernorm)
    final float[] proj;        // (BT, C) o_proj / down_proj output before the residual add
    final float[] act;         // (BT, F) silu(gate)·up, down_proj input
    final float[] att;         // (B, H, T, T) attention probabilities of one layer, or null: recomputed in backward
    final float[] attnOut;     // (BT, H·D) attention output of one layer, o_proj input
    final float[] dres;        // (BT, C) gradient of the residual stream
    final float[] dln;         // (BT, C) gradient of a norm output
    final float[] dattn;       // (BT, H·D) gradient of the attention output
    final float[] dq;          // (BT, H·D) gradient of q
    final float[] dk;          // (BT, KVH·D)
    final float[] dv;          // (BT, KVH·D)
    final float[] dact;        // (BT, F) gradient of act, then of gate (in place)
    final float[] dup;         // (BT, F) gradient of up

    // the chunked head, R = headRows target rows at a time
    final float[] headH;       // (R, C) final hidden rows gathered
    final float[] headX;       // (R, C) their model.norm output
    final float[] headRstd;    // (R)
    final float[] headLogits;  // (R, V) logits, then dlogits in place
    final float[] headDx;      // (R, C) gradient of headX
    final float[] headDh;      // (R, C) gradient of headH
    final int[] headTargets;   // (R)

    int lastTargets;           // target rows of the last step
    StepProfile profile;       // null: steps are not profiled

    private final long activationBytes, totalBytes;

    /**
     * Largest (B, H, T, T) probability buffer kept by default: beyond it (long sequences: 7B at
     * T = 2048 would need 512 MiB, at T = 8192 more than a Java array holds) the backward
     * recomputes the probabilities a block of query rows at a time. Measured on smollm-135m,
     * B=1, T=2048 (144 MiB of probabilities): recomputing costs 12% of the step time.
     */
    public static final long KEEP_ATTENTION_MAX_BYTES = 256L << 20;

    private TrainingBuffers(ModelConfig c, int b, int t, boolean checkpointing, int headRows, Boolean keepAttention) {
        if (b <= 0 || t <= 0) throw new IllegalArgumentException("training buffers for B=" + b + ", T=" + t);
        if (headRows <= 0) throw new IllegalArgumentException("headRows must be > 0, got " + headRows);
        int C = c.hiddenSize(), F = c.intermediateSize(), L = c.numHiddenLayers(), V = c.vocabSize();
        int H = c.numAttentionHeads();
        long rows = (long) b * t;
        long attFloats = (long) b * H * t * t;
        boolean keepAtt = keepAttention != null ? keepAttention : 4 * attFloats <= KEEP_ATTENTION_MAX_BYTES;
        long biggest = Math.max(Math.max(rows * Math.max(F, c.qDim()), keepAtt ? attFloats : 0), (long) headRows * V);
        if (biggest > Integer.MAX_VALUE - 8) {
            throw new Finetune4jException("training a batch of B=" + b + " sequences of T=" + t
                    + " positions needs buffers larger than a Java array (2^31 floats) for this model"
                    + " (hint: use a smaller batch or shorter sequences)");
        }
        this.maxB = b;
        this.maxT = t;
        this.checkpointing = checkpointing;
        this.headRows = headRows;
        int bt = (int) rows;
        int sets = checkpointing ? 1 : L;
        pos = new int[bt];
        segStart = new int[bt];
        targets = new int[bt];
        targetRows = new int[bt];
        resid = sets(L + 1, bt * C);
        mid = sets(sets, bt * C);
        rstd1 = sets(sets, bt);
        rstd2 = sets(sets, bt);
        q = sets(sets, bt * c.qDim());
        k = sets(sets, bt * c.kvDim());
        v = sets(sets, bt * c.kvDim());
        gate = sets(sets, bt * F);
        up = sets(sets, bt * F);

        ln = new float[bt * C];
        proj = new float[bt * C];
        act = new float[bt * F];
        att = keepAtt ? new float[b * H * t * t] : null;
        attnOut = new float[bt * c.qDim()];
        dres = new float[bt * C];
        dln = new float[bt * C];
        dattn = new float[bt * c.qDim()];
        dq = new float[bt * c.qDim()];
        dk = new float[bt * c.kvDim()];
        dv = new float[bt * c.kvDim()];
        dact = new float[bt * F];
        dup = new float[bt * F];

        headH = new float[headRows * C];
        headX = new float[headRows * C];
        headRstd = new float[headRows];
        headLogits = new float[headRows * V];
        headDx = new float[headRows * C];
        headDh = new float[headRows * C];
        headTargets = new int[headRows];

        Map<Object, Boolean> saved = new IdentityHashMap<>();
        for (float[][] set : new float[][][]{resid, mid, rstd1, rstd2, q, k, v, gate, up}) {
            for (float[] a : set) saved.put(a, true);
        }
        long s = 0;
        for (Object a : saved.keySet()) s += 4L * ((float[]) a).length;
        activationBytes = s;
        long scratch = 0;
        for (float[] a : new float[][]{ln, proj, act, att, attnOut, dres, dln, dattn, dq, dk, dv, dact, dup,
                headH, headX, headRstd, headLogits, headDx, headDh}) {
            if (a != null) scratch += 4L * a.length;
        }
        totalBytes = activationBytes + scratch + 4L * (pos.length + segStart.length + targets.length + targetRows.length + headTargets.length);
    }

    private static float[][] sets(int n, int size) {
        float[][] out = new float[n][];
        for (int i = 0; i < n; i++) out[i] = new float[size];
        return out;
    }

    /**
     * Buffers for batches up to B × T with the default logits chunk
     * ({@link #DEFAULT_HEAD_FLOATS} / V rows, between 32 and 1024).
     */
    public static TrainingBuffers allocate(ModelConfig config, int b, int t, boolean checkpointing) {
        int rows = Math.max(32, Math.min(1024, DEFAULT_HEAD_FLOATS / config.vocabSize()));
        return allocate(config, b, t, checkpointing, Math.min(rows, b * t));
    }

    /** Buffers with an explicit logits chunk of {@code headRows} rows. */
    public static TrainingBuffers allocate(ModelConfig config, int b, int t, boolean checkpointing, int headRows) {
        return new TrainingBuffers(config, b, t, checkpointing, headRows, null);
    }

    /**
     * Buffers that keep the attention probabilities of a layer between forward and backward
     * ({@code keepAttention}) or recompute them a block of query rows at a time in backward (no
     * (B, H, T, T) buffer). {@link #allocate(ModelConfig, int, int, boolean, int)} keeps them up to
     * {@link #KEEP_ATTENTION_MAX_BYTES}.
     */
    public static TrainingBuffers allocate(ModelConfig config, int b, int t, boolean checkpointing, int headRows,
                                           boolean keepAttention) {
        return new TrainingBuffers(config, b, t, checkpointing, headRows, keepAttention);
    }

    /** Whether a layer's attention probabilities are kept for backward (else recomputed per block there). */
    public boolean keepsAttentionProbabilities() {
        return att != null;
    }

    /** Largest batch these buffers hold. */
    public int maxBatch() {
        return maxB;
    }

    /** Longest sequence these buffers hold. */
    public int maxSeq() {
        return maxT;
    }

    /** Whether layers are recomputed during backward (only their inputs are kept). */
    public boolean checkpointing() {
        return checkpointing;
    }

    /** Rows of logits computed at once. */
    public int headRows() {
        return headRows;
    }

    /** Bytes of the activations kept from the forward pass for the backward pass. */
    public long activationBytes() {
        return activationBytes;
    }

    /** Bytes of every buffer: kept activations, shared scratch and gradients, the logits chunk. */
    public long bytes() {
        return totalBytes;
    }

    /**
     * Profiles the steps run with these buffers into {@code p} (accumulating), or stops profiling
     * with {@code null}.
     */
    public void profile(StepProfile p) {
        this.profile = p;
    }

    /** Target tokens (labels ≠ −100 after the shift) of the last step run with these buffers. */
    public int lastTargets() {
        return lastTargets;
    }
}
