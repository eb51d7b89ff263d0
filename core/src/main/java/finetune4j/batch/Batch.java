package finetune4j.batch;

/**
 * A right-padded batch, in buffers reused from step to step (no allocation in the step loop):
 * {@code ids} and {@code labels} hold {@code b·t} entries row-major (capacity may be larger),
 * {@code lengths[s]} real tokens per row, padding labelled {@link Tokenized#IGNORE}.
 */
public final class Batch {
    public final int[] ids;       // (B, T) row-major, capacity maxB·maxT
    public final int[] labels;    // (B, T)
    public final int[] lengths;   // (B)
    int b, t;
    long targetTokens;

    public Batch(int maxB, int maxT) {
        ids = new int[maxB * maxT];
        labels = new int[maxB * maxT];
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

    /** Real (non-padding) tokens, summed over rows. */
    public long tokens() {
        long n = 0;
        for (int s = 0; s < b; s++) n += lengths[s];
        return n;
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
        for (int s = 0; s < count; s++) {
            Tokenized r = rows[s];
            int len = r.length();
            System.arraycopy(r.ids(), 0, ids, s * maxT, len);
            System.arraycopy(r.labels(), 0, labels, s * maxT, len);
            java.util.Arrays.fill(ids, s * maxT + len, (s + 1) * maxT, padId);
            java.util.Arrays.fill(labels, s * maxT + len, (s + 1) * maxT, Tokenized.IGNORE);
            lengths[s] = len;
            targetTokens += r.targetTokens();
        }
    }
}
