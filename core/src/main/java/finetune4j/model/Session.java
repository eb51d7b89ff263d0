package finetune4j.model;

/**
 * Incremental decoding of one sequence: a {@link KvCache} plus the activation buffers, all
 * allocated once. {@link #feed} runs any number of new tokens (a prompt is processed in chunks of
 * up to {@link #CHUNK} positions, each one batched pass through the linear layers); {@link #step}
 * runs one token. Both return the logits of the last position fed.
 *
 * {@snippet :
 * Session s = model.newSession(prompt.length + maxNew);
 * float[] logits = s.feed(prompt);        // (V), a view: valid until the next call
 * int next = argmax(logits);
 * logits = s.step(next);
 * }
 *
 * Not thread-safe; one session per thread.
 */
public final class Session {
    /** Largest number of positions pushed through the model in one pass. */
    public static final int CHUNK = 256;

    private final LlamaModel model;
    private final KvCache cache;
    private final Activations acts;   // B = 1, T = min(capacity, CHUNK), last-position logits (V)
    private final int[] one = new int[1];

    Session(LlamaModel model, int capacity) {
        this.model = model;
        this.cache = new KvCache(model.config(), capacity);
        this.acts = Activations.forInference(model.config(), 1, Math.min(capacity, CHUNK), false);
    }

    /**
     * Appends {@code ids} at positions {@link #position()}.. and returns the logits (V) of the last
     * one — a view into this session's buffer, overwritten by the next call.
     *
     * @throws finetune4j.Finetune4jException when the session's capacity or the model's context would be exceeded
     */
    public float[] feed(int[] ids) {
        if (ids.length == 0) throw new IllegalArgumentException("feed needs at least one token");
        if (cache.length + ids.length > cache.capacity) {
            throw new finetune4j.Finetune4jException("the session holds " + cache.length + " positions; " + ids.length
                    + " more exceed its capacity of " + cache.capacity + " (hint: create the session with a larger capacity, up to "
                    + model.maxContext() + ")");
        }
        int vocab = model.config().vocabSize();
        for (int i = 0; i < ids.length; i++) {   // before any pass, so a bad id leaves the session unchanged
            if (ids[i] < 0 || ids[i] >= vocab) {
                throw new finetune4j.Finetune4jException("token id " + ids[i] + " at index " + i
                        + " is outside the vocabulary [0, " + vocab + ")");
            }
        }
        for (int off = 0; off < ids.length; off += acts.maxT) {
            int n = Math.min(acts.maxT, ids.length - off);
            boolean last = off + n == ids.length;
            model.run(acts, ids, off, 1, n, cache, last ? LlamaModel.Logits.LAST : LlamaModel.Logits.NONE, null);
        }
        return acts.logits;
    }

    /** Appends one token; returns the logits (V) of its position (a view, as for {@link #feed}). No allocation. */
    public float[] step(int id) {
        one[0] = id;
        return feed(one);
    }

    /** Positions processed so far (the next token's position). */
    public int position() {
        return cache.length;
    }

    /** Positions this session can hold. */
    public int capacity() {
        return cache.capacity;
    }

    /** Forgets positions {@code [n, position())}: the next token goes to position n. */
    public void rewind(int n) {
        cache.truncate(n);
    }

    /** The model this session runs. */
    public LlamaModel model() {
        return model;
    }

    /** Bytes of heap held by the KV cache. */
    public long cacheBytes() {
        return cache.bytes();
    }
}
