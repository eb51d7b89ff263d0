package finetune4j.model;

/**
 * Keys (after RoPE) and values of every position processed so far, per layer, for incremental
 * decoding of one sequence. Preallocated for {@code capacity} positions:
 * {@code k[l], v[l]: (capacity, KVH·D)}, row t = position t.
 */
public final class KvCache {
    final float[][] k; // [L] (capacity, KVH·D)
    final float[][] v; // [L] (capacity, KVH·D)
    final int capacity;
    int length;        // positions [0, length) are filled

    public KvCache(ModelConfig config, int capacity) {
        if (capacity <= 0) throw new IllegalArgumentException("KV cache capacity " + capacity);
        long floats = (long) capacity * config.kvDim();
        if (floats > Integer.MAX_VALUE - 8) {
            throw new finetune4j.Finetune4jException("a KV cache of " + capacity + " positions × " + config.kvDim()
                    + " floats per layer exceeds a Java array (hint: lower the context length)");
        }
        this.capacity = capacity;
        int L = config.numHiddenLayers();
        k = new float[L][(int) floats];
        v = new float[L][(int) floats];
    }

    /** Positions held. */
    public int length() {
        return length;
    }

    /** Positions it can hold. */
    public int capacity() {
        return capacity;
    }

    /** Forgets positions {@code [n, length)} (n ≤ length): decoding continues from position n. */
    public void truncate(int n) {
        if (n < 0 || n > length) throw new IllegalArgumentException("truncate to " + n + " with " + length + " positions held");
        length = n;
    }

    /** Bytes of heap held by keys and values. */
    public long bytes() {
        return 2L * k.length * k[0].length * Float.BYTES;
    }
}
