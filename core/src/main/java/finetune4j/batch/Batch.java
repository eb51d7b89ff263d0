package finetune4j.batch;

import java.util.Arrays;

/**
 * A right-padded batch, in buffers reused from step to step (no allocation in the step loop):
 * {@code ids}, {@code labels}, {@code positionIds} and {@code segmentIds} hold {@code b·t} entries
 * row-major (capacity may be larger), {@code lengths[s]} real tokens per row, padding labelled
 * {@link Tokenized#IGNORE}.
 *
 * <p><b>Attention contract.</b> A row may hold several examples packed end to end ({@link Packer}).
 * {@code segmentIds[s·t + i]} numbers the example token i belongs to (1, 2, ... within the row; 0 for
 * padding) and {@code positionIds[s·t + i]} is its position inside that example (restarting at 0 for
 * each). A model must let query position i attend to key position j only when
 * {@link #attends(int, int, int)} is true: same row, same non-zero segment, {@code j ≤ i}
 * (block-diagonal causal), and use {@code positionIds} for RoPE. Then each packed example's logits
 * equal those of the example run alone. When {@link #packed()} is false every row is one example
 * starting at 0, and a plain causal mask over the first {@code lengths[s]} tokens is the same thing.
 * Labels already respect the boundaries: the first label of each packed example after the first is
 * IGNORE, so the loss never asks one example to predict the next.
 */
public final class Batch {
    public final int[] ids;          // (B, T) row-major, capacity maxB·maxT
    public final int[] labels;       // (B, T)
    public final int[] positionIds;  // (B, T) position inside its example; 0 on padding
    public final int[] segmentIds;   // (B, T) 1-based example number inside the row; 0 on padding
    public final int[] lengths;      // (B)
    int b, t;
    long targetTokens;
    boolean packed;

    public Batch(int maxB, int maxT) {
        ids = new int[maxB * maxT];
        labels = new int[maxB * maxT];
        positionIds = new int[maxB * maxT];
        segmentIds = new int[maxB * maxT];
        lengths = new int[maxB];
    }

    /** Rows in this batch. */
    public int b() {
        return b;
    }

    /** Padded length T of this batch (the longest row). */
    public int t() {
        return t;
    }

    /** Next-token targets that count in the loss, summed over rows. */
    public long targetTokens() {
        return targetTokens;
    }

    /** True when some row holds more than one example (then the block-diagonal mask matters). */
    public boolean packed() {
        return packed;
    }

    /** Real (non-padding) tokens, summed over rows. */
    public long tokens() {
        long n = 0;
        for (int s = 0; s < b; s++) n += lengths[s];
        return n;
    }

    /** The attention rule of the contract: may query {@code i} of row {@code s} attend to key {@code j}? */
    public boolean attends(int s, int i, int j) {
        int seg = segmentIds[s * t + i];
        return seg != 0 && j <= i && segmentIds[s * t + j] == seg;
    }

    /** Fills this batch with {@code rows}, padding with {@code padId}. */
    public void fill(Tokenized[] rows, int count, int padId) {
        int maxT = 1;
        for (int s = 0; s < count; s++) maxT = Math.max(maxT, rows[s].length());
        if ((long) count * maxT > ids.length) {
            throw new IllegalArgumentException("batch of " + count + "×" + maxT + " exceeds capacity " + ids.length);
        }
        b = count;
        t = maxT;
        targetTokens = 0;
        packed = false;
        for (int s = 0; s < count; s++) {
            Tokenized r = rows[s];
            int len = r.length(), base = s * maxT;
            System.arraycopy(r.ids(), 0, ids, base, len);
            System.arraycopy(r.labels(), 0, labels, base, len);
            int[] starts = r.starts();
            packed |= starts.length > 1;
            for (int k = 0; k < starts.length; k++) {
                int from = starts[k], to = k + 1 < starts.length ? starts[k + 1] : len;
                for (int i = from; i < to; i++) {
                    positionIds[base + i] = i - from;
                    segmentIds[base + i] = k + 1;
                }
            }
            Arrays.fill(ids, base + len, base + maxT, padId);
            Arrays.fill(labels, base + len, base + maxT, Tokenized.IGNORE);
            Arrays.fill(positionIds, base + len, base + maxT, 0);
            Arrays.fill(segmentIds, base + len, base + maxT, 0);
            lengths[s] = len;
            targetTokens += r.targetTokens();
        }
    }
}
