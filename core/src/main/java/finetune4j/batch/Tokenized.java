package finetune4j.batch;

import java.util.Arrays;
import java.util.List;

/**
 * A tokenized example: {@code ids} and {@code labels} of the same length T, aligned as Hugging Face
 * causal-LM labels are ({@code labels[i]} is the token at position i, or {@link #IGNORE} where the
 * loss must not look; the model shifts: logits at i predict {@code labels[i + 1]}).
 *
 * <p>A packed row ({@link Packer}) holds several examples end to end: {@code starts} lists where
 * each begins ({@code starts[0] == 0}); the first label of every example after the first is
 * {@link #IGNORE}, so no loss crosses from one example into the next.
 *
 * @param ids    (T) token ids
 * @param labels (T) labels, {@link #IGNORE} where masked
 * @param source {@code path:line} of the record(s), for messages
 * @param starts (S) start position of each example in the row, ascending from 0
 */
public record Tokenized(int[] ids, int[] labels, String source, int[] starts) {
    /** The label of positions that do not count in the loss (PyTorch's {@code ignore_index}). */
    public static final int IGNORE = -100;

    private static final int[] SINGLE = {0};

    public Tokenized {
        if (ids.length != labels.length) {
            throw new IllegalArgumentException(source + ": " + ids.length + " ids but " + labels.length + " labels");
        }
        if (starts == null || starts.length == 0) starts = SINGLE;
        if (starts[0] != 0) throw new IllegalArgumentException(source + ": starts must begin at 0, got " + Arrays.toString(starts));
        for (int i = 1; i < starts.length; i++) {
            if (starts[i] <= starts[i - 1] || starts[i] >= Math.max(1, ids.length)) {
                throw new IllegalArgumentException(source + ": starts must increase inside the row, got " + Arrays.toString(starts));
            }
        }
    }

    /** One example (not packed). */
    public Tokenized(int[] ids, int[] labels, String source) {
        this(ids, labels, source, SINGLE);
    }

    public int length() {
        return ids.length;
    }

    /** Examples in this row (1 unless packed). */
    public int examples() {
        return starts.length;
    }

    /** Next-token targets that count: positions {@code i ≥ 1} whose label is not {@link #IGNORE}. */
    public int targetTokens() {
        int n = 0;
        for (int i = 1; i < labels.length; i++) if (labels[i] != IGNORE) n++;
        return n;
    }

    /**
     * Several examples packed end to end into one row. Each example's first label becomes
     * {@link #IGNORE} (except the first example's, which no target ever reads), so the row's
     * {@link #targetTokens()} is the sum of the examples'.
     */
    public static Tokenized concat(List<Tokenized> parts) {
        int n = 0;
        for (Tokenized t : parts) n += t.length();
        int[] ids = new int[n], labels = new int[n], starts = new int[parts.size()];
        StringBuilder src = new StringBuilder();
        int pos = 0;
        for (int k = 0; k < parts.size(); k++) {
            Tokenized t = parts.get(k);
            if (t.examples() != 1) throw new IllegalArgumentException(t.source() + " is already packed");
            starts[k] = pos;
            System.arraycopy(t.ids, 0, ids, pos, t.length());
            System.arraycopy(t.labels, 0, labels, pos, t.length());
            if (k > 0) labels[pos] = IGNORE;
            pos += t.length();
            if (k > 0) src.append(' ');
            src.append(t.source());
        }
        return new Tokenized(ids, labels, src.toString(), starts);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Tokenized t && Arrays.equals(ids, t.ids) && Arrays.equals(labels, t.labels)
                && source.equals(t.source) && Arrays.equals(starts, t.starts);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(ids) * 31 + Arrays.hashCode(labels);
    }

    @Override
    public String toString() {
        return "Tokenized[" + source + ", " + ids.length + " tokens" + (starts.length > 1 ? ", " + starts.length + " packed" : "") + "]";
    }
}
