package finetune4j.model;

import finetune4j.Finetune4jException;
import finetune4j.engine.kernels.Kernels;

import java.util.Arrays;

/**
 * One training step of {@link LlamaModel}: the forward pass saving what backward needs, the
 * chunked lm_head + cross-entropy, and the backward pass, written out layer by layer in the
 * llm.c manner (each line of the backward mirrors one line of the forward, in reverse).
 *
 * <pre>
 * forward, per layer l (x = resid[l], all (BT, ·)):
 *   ln1 = rmsnorm(x)·w1                    rstd1 kept, ln1 recomputed in backward
 *   q, k, v = slots(ln1); q, k = rope(q, k)     kept
 *   a = attention(q, k, v)                 recomputed in backward, with the probabilities
 *   mid = x + o(a)                         kept
 *   ln2 = rmsnorm(mid)·w2                  rstd2 kept, ln2 recomputed
 *   g, u = gate(ln2), up(ln2)              kept
 *   resid[l+1] = mid + down(silu(g)·u)     silu(g)·u recomputed
 * head, per chunk of target rows: h → rmsnorm·norm → lm_head → CE (+ dlogits) → lm_head backward
 *   → rmsnorm backward → dres rows                (logits exist for one chunk only)
 * backward, l = L−1 .. stop: the lines above in reverse, dres (BT, C) carrying d resid
 * </pre>
 *
 * <p>The backward stops at the lowest layer that holds anything trainable (unless the embedding
 * is trainable): below it nothing would receive a gradient. Labels follow transformers'
 * {@code LlamaForCausalLM(labels=...)}: they are aligned with the input ids and shifted here, so
 * the logits at position i are scored against {@code labels[i + 1]}; the last position of each
 * sequence has no target.
 */
final class TrainingPass {
    private TrainingPass() {
    }

    /**
     * Runs the step; returns the SUM of the cross-entropy over target tokens. With
     * {@code backward}, every trainable parameter's gradient is accumulated with the loss scaled
     * by {@code lossScale}.
     */
    static double run(LlamaModel m, TrainingBuffers a, int[] ids, int[] labels, int b, int t, float lossScale,
                      boolean backward) {
        ModelConfig c = m.config;
        check(m, a, ids, labels, b, t, lossScale);
        final int C = c.hiddenSize(), L = c.numHiddenLayers();
        final int bt = b * t;
        Rope.Tables rt = m.rope.ensure(t);

        // embedding, positions, next-token targets (labels shifted left by one within each sequence)
        StepProfile p = a.profile;
        long t0 = StepProfile.start(p);
        int nTargets = 0;
        for (int r = 0; r < bt; r++) {
            m.embeddingRow(ids[r], a.resid[0], r * C);
            int i = r % t;
            a.pos[r] = i;
            int target = i + 1 < t ? labels[r + 1] : Kernels.IGNORE_INDEX;
            a.targets[r] = target;
            if (target != Kernels.IGNORE_INDEX) a.targetRows[nTargets++] = r;
        }
        a.lastTargets = nTargets;
        StepProfile.add(p, StepProfile.Part.EMBED, t0);

        for (int l = 0; l < L; l++) layerForward(m, a, l, set(a, l), b, t, rt, false, true, p);

        int stop = backward ? lowestDifferentiatedLayer(m) : L;
        boolean needHidden = backward && (stop < L || m.normGrad != null);
        t0 = StepProfile.start(p);
        double loss = head(m, a, nTargets, lossScale, backward, needHidden);
        StepProfile.add(p, StepProfile.Part.HEAD, t0);
        if (!backward || nTargets == 0 || stop == L) return loss;

        for (int l = L - 1; l >= stop; l--) {
            if (a.checkpointing) {                                                   // recompute, probabilities kept
                t0 = StepProfile.start(p);
                layerForward(m, a, l, 0, b, t, rt, true, false, null);
                StepProfile.add(p, StepProfile.Part.LAYER_RECOMPUTE, t0);
            }
            boolean needDx = l > stop || m.embedParam != null;
            layerBackward(m, a, l, set(a, l), b, t, rt, a.checkpointing, needDx, p);
        }
        if (m.embedParam != null) {
            t0 = StepProfile.start(p);
            m.kernels.embeddingBackward(m.embedParam.grad(), a.dres, 0, ids, 0, bt, C);
            StepProfile.add(p, StepProfile.Part.EMBED_BACK, t0);
        }
        return loss;
    }

    /** Index of layer l's saved buffers: l, or 0 when checkpointing keeps one set. */
    private static int set(TrainingBuffers a, int l) {
        return a.checkpointing ? 0 : l;
    }

    /** The lowest layer whose backward is needed: 0 with a trainable embedding, else the lowest holding a trainable parameter (L: none). */
    private static int lowestDifferentiatedLayer(LlamaModel m) {
        if (m.embedParam != null) return 0;
        for (int l = 0; l < m.layers.length; l++) {
            DecoderLayer ly = m.layers[l];
            if (ly.dInputNorm != null || ly.dPostAttentionNorm != null) return l;
            for (LinearSlot s : new LinearSlot[]{ly.q, ly.k, ly.v, ly.o, ly.gate, ly.up, ly.down}) {
                if (!s.trainableParameters().isEmpty()) return l;
            }
        }
        return m.layers.length;
    }

    private static void check(LlamaModel m, TrainingBuffers a, int[] ids, int[] labels, int b, int t, float lossScale) {
        if (b <= 0 || t <= 0) throw new IllegalArgumentException("B=" + b + ", T=" + t);
        if (b > a.maxB || t > a.maxT) {
            throw new IllegalArgumentException("B=" + b + ", T=" + t + " exceeds the training buffers for B=" + a.maxB + ", T=" + a.maxT);
        }
        if (ids.length < b * t || labels.length < b * t) {      // longer arrays: reused buffers, first B·T used
            throw new IllegalArgumentException("ids has " + ids.length + " and labels " + labels.length
                    + " entries; B=" + b + " × T=" + t + " = " + b * t + " needed");
        }
        if (!Float.isFinite(lossScale)) throw new IllegalArgumentException("lossScale " + lossScale);
        m.checkContext(t, "a training sequence of " + t + " positions");
        int V = m.config.vocabSize();
        for (int r = 0; r < b * t; r++) {
            if (ids[r] < 0 || ids[r] >= V) {
                throw new Finetune4jException("token id " + ids[r] + " at row " + (r / t) + ", position " + (r % t)
                        + " is outside the vocabulary [0, " + V + ")");
            }
            if (labels[r] != Kernels.IGNORE_INDEX && (labels[r] < 0 || labels[r] >= V)) {
                throw new Finetune4jException("label " + labels[r] + " at row " + (r / t) + ", position " + (r % t)
                        + " is outside the vocabulary [0, " + V + ") and is not the ignore index " + Kernels.IGNORE_INDEX);
            }
        }
    }

    /**
     * Layer l forward from resid[l] into buffer set s. {@code keepAtt}: write the probabilities to
     * {@code a.att}; {@code writeResid}: write resid[l+1] (a recompute under checkpointing has it).
     * {@code p}: the profile the parts are timed into, or null.
     */
    static void layerForward(LlamaModel m, TrainingBuffers a, int l, int s, int b, int t, Rope.Tables rt,
                             boolean keepAtt, boolean writeResid, StepProfile p) {
        ModelConfig c = m.config;
        Kernels K = m.kernels;
        DecoderLayer ly = m.layers[l];
        final int C = c.hiddenSize(), F = c.intermediateSize(), H = c.numAttentionHeads(), KVH = c.numKeyValueHeads();
        final int D = c.headDim(), qDim = c.qDim(), kvDim = c.kvDim(), bt = b * t;
        float[] x = a.resid[l], q = a.q[s], k = a.k[s], v = a.v[s], attnOut = a.attnOut, mid = a.mid[s];

        long t0 = StepProfile.start(p);
        K.rmsnorm(a.ln, 0, a.rstd1[s], 0, x, 0, ly.inputNorm, bt, C, m.eps);         // ln1 (BT, C)
        t0 = StepProfile.add(p, StepProfile.Part.NORM, t0);
        ly.q.forward(q, 0, a.ln, 0, bt);                                              // (BT, H·D)
        ly.k.forward(k, 0, a.ln, 0, bt);                                              // (BT, KVH·D)
        ly.v.forward(v, 0, a.ln, 0, bt);                                              // (BT, KVH·D)
        t0 = StepProfile.add(p, StepProfile.Part.QKV, t0);
        K.rope(q, 0, bt, H, D, a.pos, 0, rt.cos(), rt.sin());
        K.rope(k, 0, bt, KVH, D, a.pos, 0, rt.cos(), rt.sin());
        t0 = StepProfile.add(p, StepProfile.Part.ROPE, t0);
        for (int seq = 0; seq < b; seq++) {
            K.attention(attnOut, seq * t * qDim, keepAtt ? a.att : null, seq * H * t * t, q, seq * t * qDim,
                    k, seq * t * kvDim, v, seq * t * kvDim, t, t, 0, H, KVH, D);
        }
        t0 = StepProfile.add(p, StepProfile.Part.ATTENTION, t0);
        ly.o.forward(a.proj, 0, attnOut, 0, bt);                                      // (BT, C)
        t0 = StepProfile.add(p, StepProfile.Part.O, t0);
        K.add(mid, 0, x, 0, a.proj, 0, bt * C);
        t0 = StepProfile.add(p, StepProfile.Part.RESIDUAL, t0);

        K.rmsnorm(a.ln, 0, a.rstd2[s], 0, mid, 0, ly.postAttentionNorm, bt, C, m.eps);  // ln2 (BT, C)
        t0 = StepProfile.add(p, StepProfile.Part.NORM, t0);
        ly.gate.forward(a.gate[s], 0, a.ln, 0, bt);                                   // (BT, F)
        ly.up.forward(a.up[s], 0, a.ln, 0, bt);                                       // (BT, F)
        t0 = StepProfile.add(p, StepProfile.Part.GATE_UP, t0);
        K.siluMul(a.act, 0, a.gate[s], 0, a.up[s], 0, bt * F);
        t0 = StepProfile.add(p, StepProfile.Part.SILU, t0);
        ly.down.forward(a.proj, 0, a.act, 0, bt);                                     // (BT, C)
        t0 = StepProfile.add(p, StepProfile.Part.DOWN, t0);
        if (writeResid) K.add(a.resid[l + 1], 0, mid, 0, a.proj, 0, bt * C);
        StepProfile.add(p, StepProfile.Part.RESIDUAL, t0);
    }

    /**
     * Layer l backward: on entry {@code a.dres} = d resid[l+1], on exit d resid[l] (when
     * {@code needDx}; otherwise only parameter gradients are produced). {@code attReady}: the
     * attention output and probabilities of this layer are already in {@code a.attnOut} and
     * {@code a.att} (a checkpointed layer was just recomputed); otherwise they are recomputed
     * here from the saved q, k, v (the same kernel on the same inputs: the same bits).
     * {@code p}: the profile the parts are timed into, or null.
     */
    static void layerBackward(LlamaModel m, TrainingBuffers a, int l, int s, int b, int t, Rope.Tables rt,
                              boolean attReady, boolean needDx, StepProfile p) {
        ModelConfig c = m.config;
        Kernels K = m.kernels;
        DecoderLayer ly = m.layers[l];
        final int C = c.hiddenSize(), F = c.intermediateSize(), H = c.numAttentionHeads(), KVH = c.numKeyValueHeads();
        final int D = c.headDim(), qDim = c.qDim(), kvDim = c.kvDim(), bt = b * t;
        float[] x = a.resid[l], q = a.q[s], k = a.k[s], v = a.v[s], attnOut = a.attnOut, mid = a.mid[s];
        float[] gate = a.gate[s], up = a.up[s];

        // MLP block: resid[l+1] = mid + down(silu(gate(ln2)) · up(ln2)), ln2 = rmsnorm(mid)·w2
        long t0 = StepProfile.start(p);
        K.siluMul(a.act, 0, gate, 0, up, 0, bt * F);                                  // down_proj input again
        t0 = StepProfile.add(p, StepProfile.Part.SILU_BACK, t0);
        ly.down.backward(a.dact, 0, false, a.dres, 0, a.act, 0, bt);                  // d act (BT, F)
        t0 = StepProfile.add(p, StepProfile.Part.DOWN_BACK, t0);
        K.siluMulBackward(a.dact, 0, a.dup, 0, a.dact, 0, gate, 0, up, 0, bt * F);    // d gate (over d act), d up
        t0 = StepProfile.add(p, StepProfile.Part.SILU_BACK, t0);
        K.rmsnorm(a.ln, 0, a.rstd2[s], 0, mid, 0, ly.postAttentionNorm, bt, C, m.eps);  // ln2 again
        t0 = StepProfile.add(p, StepProfile.Part.NORM_BACK, t0);
        ly.gate.backward(a.dln, 0, false, a.dact, 0, a.ln, 0, bt);                    // d ln2 (BT, C)
        ly.up.backward(a.dln, 0, true, a.dup, 0, a.ln, 0, bt);
        t0 = StepProfile.add(p, StepProfile.Part.GATE_UP_BACK, t0);
        K.rmsnormBackward(a.dres, 0, ly.dPostAttentionNorm, a.dln, 0, mid, 0, ly.postAttentionNorm,
                a.rstd2[s], 0, bt, C);                                                 // dres = d mid
        t0 = StepProfile.add(p, StepProfile.Part.NORM_BACK, t0);

        // attention block: mid = x + o(attention(rope(q(ln1)), rope(k(ln1)), v(ln1))), ln1 = rmsnorm(x)·w1
        if (!attReady) {                                                               // output and probabilities again
            for (int seq = 0; seq < b; seq++) {
                K.attention(attnOut, seq * t * qDim, a.att, seq * H * t * t, q, seq * t * qDim,
                        k, seq * t * kvDim, v, seq * t * kvDim, t, t, 0, H, KVH, D);
            }
            t0 = StepProfile.add(p, StepProfile.Part.ATTENTION_RECOMPUTE, t0);
        }
        ly.o.backward(a.dattn, 0, false, a.dres, 0, attnOut, 0, bt);                   // d attnOut (BT, H·D)
        t0 = StepProfile.add(p, StepProfile.Part.O_BACK, t0);
        K.attentionBackward(a.dq, 0, a.dk, 0, a.dv, 0, a.dattn, 0, q, 0, k, 0, v, 0, a.att, 0, b, t, H, KVH, D);
        t0 = StepProfile.add(p, StepProfile.Part.ATTENTION_BACK, t0);
        K.ropeBackward(a.dq, 0, bt, H, D, a.pos, 0, rt.cos(), rt.sin());
        K.ropeBackward(a.dk, 0, bt, KVH, D, a.pos, 0, rt.cos(), rt.sin());
        t0 = StepProfile.add(p, StepProfile.Part.ROPE_BACK, t0);
        K.rmsnorm(a.ln, 0, a.rstd1[s], 0, x, 0, ly.inputNorm, bt, C, m.eps);         // ln1 again
        t0 = StepProfile.add(p, StepProfile.Part.NORM_BACK, t0);
        boolean needDln = needDx || ly.dInputNorm != null;
        float[] dln = needDln ? a.dln : null;                                          // d ln1 (BT, C)
        ly.q.backward(dln, 0, false, a.dq, 0, a.ln, 0, bt);
        ly.k.backward(dln, 0, true, a.dk, 0, a.ln, 0, bt);
        ly.v.backward(dln, 0, true, a.dv, 0, a.ln, 0, bt);
        t0 = StepProfile.add(p, StepProfile.Part.QKV_BACK, t0);
        if (needDln) {
            K.rmsnormBackward(needDx ? a.dres : null, 0, ly.dInputNorm, a.dln, 0, x, 0, ly.inputNorm,
                    a.rstd1[s], 0, bt, C);                                             // dres = d resid[l]
            StepProfile.add(p, StepProfile.Part.NORM_BACK, t0);
        }
    }

    /**
     * model.norm, lm_head and cross-entropy over the target rows, {@code a.headRows} at a time.
     * With {@code backward}: dlogits scaled by {@code lossScale}, lm_head and norm backward, and
     * (when {@code needHidden}) {@code a.dres} = d final hidden (zero on rows without a target).
     */
    private static double head(LlamaModel m, TrainingBuffers a, int nTargets, float lossScale, boolean backward,
                               boolean needHidden) {
        ModelConfig c = m.config;
        Kernels K = m.kernels;
        final int C = c.hiddenSize(), V = c.vocabSize(), R = a.headRows;
        float[] hidden = a.resid[c.numHiddenLayers()];
        if (needHidden) Arrays.fill(a.dres, 0f);
        double loss = 0;
        for (int c0 = 0; c0 < nTargets; c0 += R) {
            int n = Math.min(R, nTargets - c0);
            for (int i = 0; i < n; i++) {                                              // gather the chunk's rows
                int r = a.targetRows[c0 + i];
                System.arraycopy(hidden, r * C, a.headH, i * C, C);
                a.headTargets[i] = a.targets[r];
            }
            K.rmsnorm(a.headX, 0, a.headRstd, 0, a.headH, 0, m.norm, n, C, m.eps);    // (n, C)
            m.lmHead.forward(a.headLogits, 0, a.headX, 0, n);                          // (n, V)
            Kernels.LossSum ls = K.crossEntropy(backward ? a.headLogits : null, 0, a.headLogits, 0,
                    a.headTargets, 0, n, V, lossScale);                                // dlogits in place
            loss += ls.loss();
            if (!backward) continue;
            m.lmHead.backward(needHidden ? a.headDx : null, 0, false, a.headLogits, 0, a.headX, 0, n);
            if (!needHidden) continue;
            Arrays.fill(a.headDh, 0, n * C, 0f);
            K.rmsnormBackward(a.headDh, 0, m.normGrad, a.headDx, 0, a.headH, 0, m.norm, a.headRstd, 0, n, C);
            for (int i = 0; i < n; i++) System.arraycopy(a.headDh, i * C, a.dres, a.targetRows[c0 + i] * C, C);
        }
        return loss;
    }
}
