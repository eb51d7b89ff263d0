package finetune4j.batch;

import java.util.List;
import java.util.SplittableRandom;

/**
 * Walks a dataset in batches, epoch after epoch: seeded shuffling (a new permutation per epoch,
 * a pure function of (seed, epoch)) or file order with {@code shuffle = false}. The position
 * ({@link #epoch()}, {@link #index()}) is all a checkpoint needs to resume exactly.
 *
 * <p>The last batch of an epoch may be smaller (kept, not dropped); an epoch never mixes into the
 * next batch.
 */
public final class BatchIterator {
    private final List<Tokenized> data;
    private final int batchSize;
    private final boolean shuffle;
    private final long seed;
    private final int padId;
    private final int[] order;
    private final Tokenized[] rows;
    private int epoch, index;

    public BatchIterator(List<Tokenized> data, int batchSize, boolean shuffle, long seed, int padId) {
        if (data.isEmpty()) throw new IllegalArgumentException("no examples");
        if (batchSize < 1) throw new IllegalArgumentException("batch size " + batchSize);
        this.data = List.copyOf(data);
        this.batchSize = batchSize;
        this.shuffle = shuffle;
        this.seed = seed;
        this.padId = padId;
        this.order = new int[data.size()];
        this.rows = new Tokenized[batchSize];
        seek(0, 0);
    }

    /** Longest example (the T a batch may need). */
    public int maxLength() {
        int m = 0;
        for (Tokenized t : data) m = Math.max(m, t.length());
        return m;
    }

    public int size() {
        return data.size();
    }

    /** Batches per epoch. */
    public int batchesPerEpoch() {
        return (data.size() + batchSize - 1) / batchSize;
    }

    public int epoch() {
        return epoch;
    }

    /** Index of the next example in this epoch's order. */
    public int index() {
        return index;
    }

    /** Moves to a position saved by a checkpoint. */
    public void seek(int epoch, int index) {
        if (index < 0 || index > data.size()) throw new IllegalArgumentException("index " + index + " outside [0, " + data.size() + "]");
        this.epoch = epoch;
        this.index = index;
        permutation(epoch);
    }

    /** Fills {@code batch} with the next examples, moving to the next epoch when one ends. */
    public void next(Batch batch) {
        if (index >= data.size()) {
            epoch++;
            index = 0;
            permutation(epoch);
        }
        int n = Math.min(batchSize, data.size() - index);
        for (int i = 0; i < n; i++) rows[i] = data.get(order[index + i]);
        index += n;
        batch.fill(rows, n, padId);
    }

    private void permutation(int ep) {
        for (int i = 0; i < order.length; i++) order[i] = i;
        if (!shuffle) return;
        SplittableRandom r = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + ep);
        for (int i = order.length - 1; i > 0; i--) {          // Fisher–Yates
            int j = r.nextInt(i + 1);
            int tmp = order[i];
            order[i] = order[j];
            order[j] = tmp;
        }
    }
}
