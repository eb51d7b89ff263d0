package finetune4j.model;

import finetune4j.engine.kernels.Kernels;

/**
 * Packed rows ({@code --packing}): several examples end to end in one row of T positions, with a
 * block-diagonal causal mask (a query attends only to earlier keys of its own example) and
 * positions restarting at 0 for each example, so every example sees exactly what it sees alone.
 *
 * <p>A row's examples are given by per-position segment ids (the {@code segmentIds} of
 * {@code finetune4j.batch.Batch}): a segment is a maximal run of equal ids; an id that ends may
 * not appear again later in the row. Padding (id 0) forms its own run(s), attending among
 * themselves (their outputs are finite and never read by a target).
 *
 * <p>Attention runs as the variable-length form of FlashAttention ({@code flash_attn_varlen_func}
 * with {@code cu_seqlens}): one call of the ordinary causal kernel of the kernel door per segment,
 * on the segment's rows of q, k and v. So a packed example is computed by the very kernel call
 * that computes it alone, no masked score is ever formed, and the unpacked path is untouched.
 * The probabilities of a row's segments lie one after the other in that row's (H, T, T) block
 * of {@code att}: segment n takes H·n² floats, and Σ n² ≤ T² always fits.
 */
final class Segments {
    private Segments() {
    }

    /**
     * Fills {@code start[r]} (BT) with the position, inside its row, at which the segment of row r
     * begins.
     *
     * @param segmentIds (B, T) row-major segment ids (entries past B·T are ignored)
     * @return true when some row holds more than one segment (else the plain causal path is the same)
     * @throws IllegalArgumentException when an id is negative or reappears after its run ended
     */
    static boolean starts(int[] segmentIds, int b, int t, int[] start) {
        if (segmentIds.length < b * t) {
            throw new IllegalArgumentException("segmentIds has " + segmentIds.length + " entries; B=" + b + " × T=" + t + " needed");
        }
        boolean packed = false;
        for (int s = 0; s < b; s++) {
            int base = s * t, from = 0;
            for (int i = 0; i < t; i++) {
                int id = segmentIds[base + i];
                if (id < 0) throw new IllegalArgumentException("segmentIds[" + s + ", " + i + "] = " + id + " is negative");
                if (i > 0 && id != segmentIds[base + i - 1]) {
                    from = i;
                    packed = true;
                    for (int j = 0; j < i && id != 0; j++) {
                        if (segmentIds[base + j] == id) {
                            throw new IllegalArgumentException("segment " + id + " of row " + s + " is not contiguous: it reappears at"
                                    + " position " + i + " after another segment");
                        }
                    }
                }
                start[base + i] = from;
            }
        }
        return packed;
    }

    /** The end (exclusive) of the segment starting at {@code from} in the row at {@code base}. */
    static int end(int[] start, int base, int from, int t) {
        int to = from + 1;
        while (to < t && start[base + to] == from) to++;
        return to;
    }

    /**
     * Causal attention within each segment: {@link Kernels#attention} per segment of every row.
     * q, out: (BT, H·D); k, v: (BT, KVH·D); att: (B, H, T, T) or null (see the class comment).
     */
    static void attention(Kernels K, float[] out, float[] att, float[] q, float[] k, float[] v, int b, int t,
                          int[] start, int heads, int kvHeads, int headDim) {
        int qDim = heads * headDim, kvDim = kvHeads * headDim;
        for (int s = 0; s < b; s++) {
            int base = s * t, attOff = s * heads * t * t;
            for (int from = 0; from < t; ) {
                int to = end(start, base, from, t), n = to - from, r = base + from;
                K.attention(out, r * qDim, att, att == null ? 0 : attOff, q, r * qDim, k, r * kvDim, v, r * kvDim,
                        n, n, 0, heads, kvHeads, headDim);
                attOff += heads * n * n;
                from = to;
            }
        }
    }

    /**
     * The backward of {@link #attention}: {@link Kernels#attentionBackward} per segment, from the
     * probabilities {@link #attention} saved. dq: (BT, H·D); dk, dv: (BT, KVH·D), overwritten.
     */
    static void attentionBackward(Kernels K, float[] dq, float[] dk, float[] dv, float[] dout, float[] q, float[] k,
                                  float[] v, float[] att, int b, int t, int[] start, int heads, int kvHeads, int headDim) {
        int qDim = heads * headDim, kvDim = kvHeads * headDim;
        for (int s = 0; s < b; s++) {
            int base = s * t, attOff = s * heads * t * t;
            for (int from = 0; from < t; ) {
                int to = end(start, base, from, t), n = to - from, r = base + from;
                K.attentionBackward(dq, r * qDim, dk, r * kvDim, dv, r * kvDim, dout, r * qDim, q, r * qDim, k, r * kvDim,
                        v, r * kvDim, att, attOff, 1, n, heads, kvHeads, headDim);
                attOff += heads * n * n;
                from = to;
            }
        }
    }
}
