package finetune4j.batch;

/**
 * A tokenized example: {@code ids} and {@code labels} of the same length T, aligned as Hugging Face
 * causal-LM labels are ({@code labels[i]} is the token at position i, or {@link #IGNORE} where the
 * loss must not look; the model shifts: logits at i predict {@code labels[i + 1]}).
 */
public record Tokenized(int[] ids, int[] labels, String source) {
    /** The label of positions that do not count in the loss (PyTorch's {@code ignore_index}). */
    public static final int IGNORE = -100;

    public Tokenized {
        if (ids.length != labels.length) {
            throw new IllegalArgumentException(source + ": " + ids.length + " ids but " + labels.length + " labels");
        }
    }

    public int length() {
        return ids.length;
    }

    /** Next-token targets that count: positions {@code i ≥ 1} whose label is not {@link #IGNORE}. */
    public int targetTokens() {
        int n = 0;
        for (int i = 1; i < labels.length; i++) if (labels[i] != IGNORE) n++;
        return n;
    }
}
