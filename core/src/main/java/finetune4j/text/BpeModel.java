package finetune4j.text;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * tokenizer.json {@code model} of type BPE ({@code tokenizers/src/models/bpe/model.rs}): turns one
 * pre-tokenized word into ids by starting from its characters (with {@code byte_fallback} to
 * {@code <0xNN>} tokens or {@code unk_token} for characters missing from the vocab) and applying
 * merges, lowest rank first, leftmost first among equal ranks.
 *
 * <p>The merge loop is HF's: symbols in a linked list over arrays, candidate pairs in a min-heap keyed
 * by {@code (rank, position)}, stale heap entries skipped, so a word of n symbols costs O(n log n).
 * Results are cached per word (capacity and length limit as HF's), which makes repeated words free.
 * Thread-safe: the only mutable state is the concurrent cache.
 */
final class BpeModel {
    /** HF {@code DEFAULT_CACHE_CAPACITY}; when full, new words are no longer cached. */
    static final int CACHE_CAPACITY = 10_000;
    /** HF caches only words shorter than this (bytes there, chars here). */
    static final int CACHE_MAX_WORD = 256;

    private final Map<String, Integer> vocab;
    private final String[] idToToken;             // (maxId + 1), null where the vocab has a gap
    private final MergeMap merges;
    private final int unkId;                      // -1: no unk_token
    private final boolean fuseUnk;
    private final boolean byteFallback;
    private final int[] byteIds;                  // (256) id of <0xNN>, -1 when absent
    private final String continuingSubwordPrefix; // null when absent
    private final String endOfWordSuffix;         // null when absent
    private final boolean ignoreMerges;
    private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();

    /**
     * @param merges pairs of token ids, in rank order (index = rank); {@code mergedIds[i]} is the id
     *               of the merged token of pair i
     */
    BpeModel(Map<String, Integer> vocab, int[] mergeLeft, int[] mergeRight, int[] mergedIds, int unkId, boolean fuseUnk,
             boolean byteFallback, String continuingSubwordPrefix, String endOfWordSuffix, boolean ignoreMerges) {
        this.vocab = vocab;
        int maxId = -1;
        for (int id : vocab.values()) maxId = Math.max(maxId, id);
        this.idToToken = new String[maxId + 1];
        for (Map.Entry<String, Integer> e : vocab.entrySet()) idToToken[e.getValue()] = e.getKey();
        this.merges = new MergeMap(mergeLeft.length);
        for (int r = 0; r < mergeLeft.length; r++) merges.put(mergeLeft[r], mergeRight[r], r, mergedIds[r]); // later duplicates win, as in HF's HashMap
        this.unkId = unkId;
        this.fuseUnk = fuseUnk;
        this.byteFallback = byteFallback;
        this.byteIds = new int[256];
        for (int b = 0; b < 256; b++) {
            Integer id = vocab.get(String.format("<0x%02X>", b));
            byteIds[b] = id == null ? -1 : id;
        }
        this.continuingSubwordPrefix = continuingSubwordPrefix;
        this.endOfWordSuffix = endOfWordSuffix;
        this.ignoreMerges = ignoreMerges;
    }

    /** Number of entries of {@code model.vocab}. */
    int vocabEntries() {
        return vocab.size();
    }

    /** Largest id in the vocab plus one. */
    int idSpace() {
        return idToToken.length;
    }

    Integer tokenToId(String token) {
        return vocab.get(token);
    }

    String idToToken(int id) {
        return id >= 0 && id < idToToken.length ? idToToken[id] : null;
    }

    /** Appends the ids of {@code word} to {@code out}. */
    void tokenize(String word, IntList out) {
        if (word.isEmpty()) return;
        if (ignoreMerges) {
            Integer id = vocab.get(word);
            if (id != null) {
                out.add(id);
                return;
            }
        }
        int[] ids = cache.get(word);
        if (ids == null) {
            ids = mergeWord(word);
            if (word.length() < CACHE_MAX_WORD && cache.size() < CACHE_CAPACITY) cache.put(word, ids);
        }
        out.addAll(ids);
    }

    /** HF {@code BPE::merge_word}: initial symbols per char, then {@code Word::merge_all}. */
    int[] mergeWord(String w) {
        int n = w.length();
        IntList symbols = new IntList(n);
        boolean pendingUnk = false;             // HF's `unk`: an unknown run not yet added
        for (int i = 0; i < n; ) {
            int end = i + Character.charCount(w.codePointAt(i));
            String s = w.substring(i, end);
            if (i > 0 && continuingSubwordPrefix != null) s = continuingSubwordPrefix + s;
            if (end == n && endOfWordSuffix != null) s = s + endOfWordSuffix;
            i = end;
            Integer id = vocab.get(s);
            if (id != null) {
                if (pendingUnk) {
                    symbols.add(unkId);
                    pendingUnk = false;
                }
                symbols.add(id);
                continue;
            }
            if (byteFallback) {
                byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
                boolean all = true;
                for (byte b : bytes) all &= byteIds[b & 0xFF] >= 0;
                if (all) {
                    // HF leaves a pending unk pending here; it is added after these bytes
                    for (byte b : bytes) symbols.add(byteIds[b & 0xFF]);
                    continue;
                }
            }
            if (unkId >= 0) {
                if (pendingUnk && !fuseUnk) symbols.add(unkId);
                pendingUnk = true;
            }
        }
        if (pendingUnk) symbols.add(unkId);
        return mergeAll(symbols.toArray());
    }

    /** HF {@code Word::merge_all} without dropout. {@code sym} holds the initial symbol ids. */
    private int[] mergeAll(int[] sym) {
        int m = sym.length;
        if (m < 2) return sym;
        int[] prev = new int[m], next = new int[m];
        boolean[] removed = new boolean[m];
        for (int i = 0; i < m; i++) {
            prev[i] = i - 1;
            next[i] = i + 1 < m ? i + 1 : -1;
        }
        LongHeap heap = new LongHeap(m);
        for (int i = 0; i + 1 < m; i++) {
            long mv = merges.get(sym[i], sym[i + 1]);
            if (mv != MergeMap.MISSING) heap.push(entry(MergeMap.rank(mv), i));
        }
        int remaining = m;
        while (!heap.isEmpty()) {
            long top = heap.pop();
            int rank = (int) (top >>> 32), pos = (int) top;
            if (removed[pos]) continue;
            int nx = next[pos];
            if (nx < 0) continue;
            long mv = merges.get(sym[pos], sym[nx]);
            if (mv == MergeMap.MISSING || MergeMap.rank(mv) != rank) continue;   // stale entry
            sym[pos] = MergeMap.newId(mv);
            removed[nx] = true;
            remaining--;
            int nn = next[nx];
            next[pos] = nn;
            if (nn >= 0) prev[nn] = pos;
            int pv = prev[pos];
            if (pv >= 0) {
                long left = merges.get(sym[pv], sym[pos]);
                if (left != MergeMap.MISSING) heap.push(entry(MergeMap.rank(left), pv));
            }
            if (nn >= 0) {
                long right = merges.get(sym[pos], sym[nn]);
                if (right != MergeMap.MISSING) heap.push(entry(MergeMap.rank(right), pos));
            }
        }
        int[] out = new int[remaining];
        for (int i = 0, k = 0; i >= 0; i = next[i]) out[k++] = sym[i];
        return out;
    }

    private static long entry(int rank, int pos) {
        return ((long) rank << 32) | pos;
    }

    /** Open-addressing map (left id, right id) → (rank, merged id), both packed in longs. */
    static final class MergeMap {
        static final long MISSING = -1L;
        private final long[] keys;
        private final long[] values;
        private final int mask;

        MergeMap(int expected) {
            int cap = Integer.highestOneBit(Math.max(16, expected * 2 + 1) - 1) << 1;
            keys = new long[cap];
            values = new long[cap];
            Arrays.fill(keys, MISSING);
            mask = cap - 1;
        }

        static int rank(long v) {
            return (int) (v >>> 32);
        }

        static int newId(long v) {
            return (int) v;
        }

        void put(int a, int b, int rank, int newId) {
            long k = ((long) a << 32) | (b & 0xFFFFFFFFL);
            int i = slot(k);
            while (keys[i] != MISSING && keys[i] != k) i = (i + 1) & mask;
            keys[i] = k;
            values[i] = ((long) rank << 32) | (newId & 0xFFFFFFFFL);
        }

        long get(int a, int b) {
            long k = ((long) a << 32) | (b & 0xFFFFFFFFL);
            int i = slot(k);
            while (true) {
                long ki = keys[i];
                if (ki == k) return values[i];
                if (ki == MISSING) return MISSING;
                i = (i + 1) & mask;
            }
        }

        private int slot(long k) {
            long h = k * 0x9E3779B97F4A7C15L;
            return (int) (h ^ (h >>> 29)) & mask;
        }
    }

    /** Binary min-heap of longs ({@code rank << 32 | position}). */
    static final class LongHeap {
        private long[] a;
        private int size;

        LongHeap(int capacity) {
            a = new long[Math.max(4, capacity)];
        }

        boolean isEmpty() {
            return size == 0;
        }

        void push(long v) {
            if (size == a.length) a = Arrays.copyOf(a, size * 2);
            int i = size++;
            while (i > 0) {
                int p = (i - 1) >>> 1;
                if (a[p] <= v) break;
                a[i] = a[p];
                i = p;
            }
            a[i] = v;
        }

        long pop() {
            long top = a[0];
            long v = a[--size];
            int i = 0;
            while (true) {
                int l = 2 * i + 1;
                if (l >= size) break;
                int c = l + 1 < size && a[l + 1] < a[l] ? l + 1 : l;
                if (a[c] >= v) break;
                a[i] = a[c];
                i = c;
            }
            a[i] = v;
            return top;
        }
    }
}
