package finetune4j.batch;

import java.util.List;
import java.util.SplittableRandom;

/**
 * Walks a dataset in batches, epoch after epoch. The order of an epoch is a pure function of
 * (seed, epoch), so the position ({@link #epoch()}, {@link #index()}) is all a checkpoint needs to
 * resume exactly:
 * <ul>
 *   <li>{@link Order#FILE}: the data's order;</li>
 *   <li>{@link Order#SHUFFLE}: a new seeded permutation per epoch;</li>
 *   <li>{@link Order#BUCKET}: shuffled, then in chunks of {@value #BUCKET_BATCHES} batches sorted by
 *       length (longest first) and cut into batches, whose order is shuffled again: rows of a batch
 *       have similar lengths (little padding) while batches still come in random order.</li>
 * </ul>
 * The last batch of an epoch may be smaller (kept, not dropped); an epoch never mixes into the next
 * batch.
 */
public final class BatchIterator {
    /** How examples are ordered each epoch. */
    public enum Order {
        FILE, SHUFFLE, BUCKET
    }

    /** Batches per sorting chunk with {@link Order#BUCKET}. */
    public static final int BUCKET_BATCHES = 32;

    private final List<Tokenized> data;
    private final int batchSize;
    private final Order mode;
    private final long seed;
    private final int padId;
    private final int[] order;
    private final Tokenized[] rows;
    private int epoch, index;

    /** {@code shuffle}: {@link Order#SHUFFLE}, else {@link Order#FILE}. */
    public BatchIterator(List<Tokenized> data, int batchSize, boolean shuffle, long seed, int padId) {
        this(data, batchSize, shuffle ? Order.SHUFFLE : Order.FILE, seed, padId);
    }

    public BatchIterator(List<Tokenized> data, int batchSize, Order order, long seed, int padId) {
        if (data.isEmpty()) throw new IllegalArgumentException("no examples");
        if (batchSize < 1) throw new IllegalArgumentException("batch size " + batchSize);
        this.data = List.copyOf(data);
        this.batchSize = batchSize;
        this.mode = order;
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

    /** The example order of {@code epoch} (a copy; for tests and tools). */
    public int[] order(int epoch) {
        int e = this.epoch;
        permutation(epoch);
        int[] out = order.clone();
        permutation(e);
        return out;
    }

    private void permutation(int ep) {
        for (int i = 0; i < order.length; i++) order[i] = i;
        if (mode == Order.FILE) return;
        SplittableRandom r = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + ep);
        shuffle(order, 0, order.length, r);
        if (mode != Order.BUCKET) return;
        int chunk = batchSize * BUCKET_BATCHES;
        Integer[] tmp = new Integer[Math.min(chunk, order.length)];
        for (int from = 0; from < order.length; from += chunk) {
            int to = Math.min(order.length, from + chunk);
            for (int i = from; i < to; i++) tmp[i - from] = order[i];
            java.util.Arrays.sort(tmp, 0, to - from, (a, b) -> Integer.compare(data.get(b).length(), data.get(a).length()));
            for (int i = from; i < to; i++) order[i] = tmp[i - from];
        }
        // shuffle whole batches (the last, possibly short, batch stays last)
        int full = order.length / batchSize;
        int[] batches = new int[full];
        for (int i = 0; i < full; i++) batches[i] = i;
        shuffle(batches, 0, full, r);
        int[] copy = order.clone();
        for (int b = 0; b < full; b++) System.arraycopy(copy, batches[b] * batchSize, order, b * batchSize, batchSize);
    }

    private static void shuffle(int[] a, int from, int to, SplittableRandom r) {
        for (int i = to - 1; i > from; i--) {                 // Fisher–Yates
            int j = from + r.nextInt(i - from + 1);
            int tmp = a[i];
            a[i] = a[j];
            a[j] = tmp;
        }
    }
}
