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

    /**
     * As {@link #tokenize}, also appending each token's byte range {@code start, end} within the UTF-8
     * of {@code word} to {@code ranges}, as HF's {@code Word::get_offsets}: symbols are laid end to end
     * by their lengths (a byte-fallback token is one byte, an unknown token the bytes of the run it
     * stands for, a merged token the sum of its parts), so a char that yields no symbol at all (no
     * vocab entry, no byte token, no unk_token) shifts the ranges after it back, and byte fallback of
     * a char carrying a continuing_subword_prefix or end_of_word_suffix runs past the word's end,
     * exactly as in HF. Computed without the cache; the ids are those of {@link #tokenize}.
     */
    void tokenizeWithRanges(String word, IntList out, IntList ranges) {
        if (word.isEmpty()) return;
        if (ignoreMerges) {
            Integer id = vocab.get(word);
            if (id != null) {
                out.add(id);
                ranges.add(0);
                ranges.add(Chars.utf8Length(word, word.length()));
                return;
            }
        }
        IntList lo = new IntList(word.length()), hi = new IntList(word.length());
        int[] ids = mergeAll(symbols(word, lo, hi), lo, hi);
        out.addAll(ids);
        for (int i = 0; i < ids.length; i++) {
            ranges.add(lo.get(i));
            ranges.add(hi.get(i));
        }
    }

    /** For each UTF-8 byte of {@code s}, the UTF-16 unit it belongs to (a surrogate pair's 4 bytes: its first unit). */
    static int[] unitOfByte(String s) {
        IntList out = new IntList(s.length() * 2);
        for (int i = 0; i < s.length(); ) {
            char c = s.charAt(i);
            int units = 1, bytes;
            if (c < 0x80) bytes = 1;
            else if (c < 0x800) bytes = 2;
            else if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                bytes = 4;
                units = 2;
            } else bytes = 3;
            for (int b = 0; b < bytes; b++) out.add(i);
            i += units;
        }
        return out.toArray();
    }

    /** HF {@code BPE::merge_word}: initial symbols per char, then {@code Word::merge_all}. */
    int[] mergeWord(String w) {
        return mergeAll(symbols(w, null, null), null, null);
    }

    /**
     * The initial symbols of {@code w}; when {@code lo}/{@code hi} are given, each symbol's byte range
     * is appended to them, laid end to end as HF's {@code Word::add} does.
     */
    private int[] symbols(String w, IntList lo, IntList hi) {
        int n = w.length();
        IntList symbols = new IntList(n);
        boolean pendingUnk = false;             // HF's `unk`: an unknown run not yet added
        int unkLen = 0;                         // its UTF-8 length
        int[] pos = {0};                        // end of the last symbol, in bytes
        for (int i = 0; i < n; ) {
            int end = i + Character.charCount(w.codePointAt(i));
            String s = w.substring(i, end);
            int byteLen = lo == null ? 0 : Chars.utf8Length(s, s.length());
            if (i > 0 && continuingSubwordPrefix != null) s = continuingSubwordPrefix + s;
            if (end == n && endOfWordSuffix != null) s = s + endOfWordSuffix;
            i = end;
            Integer id = vocab.get(s);
            if (id != null) {
                if (pendingUnk) {
                    symbols.add(unkId);
                    place(lo, hi, pos, unkLen);
                    pendingUnk = false;
                }
                symbols.add(id);
                place(lo, hi, pos, byteLen);
                continue;
            }
            if (byteFallback) {
                byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
                boolean all = true;
                for (byte b : bytes) all &= byteIds[b & 0xFF] >= 0;
                if (all) {
                    // HF leaves a pending unk pending here; it is added after these bytes
                    for (byte b : bytes) {
                        symbols.add(byteIds[b & 0xFF]);
                        place(lo, hi, pos, 1);
                    }
                    continue;
                }
            }
            if (unkId >= 0) {
                if (pendingUnk && fuseUnk) {
                    unkLen += byteLen;
                } else {
                    if (pendingUnk) {
                        symbols.add(unkId);
                        place(lo, hi, pos, unkLen);
                    }
                    unkLen = byteLen;
                }
                pendingUnk = true;
            }
        }
        if (pendingUnk) {
            symbols.add(unkId);
            place(lo, hi, pos, unkLen);
        }
        return symbols.toArray();
    }

    private static void place(IntList lo, IntList hi, int[] pos, int len) {
        if (lo == null) return;
        lo.add(pos[0]);
        pos[0] += len;
        hi.add(pos[0]);
    }

    /**
     * HF {@code Word::merge_all} without dropout. {@code sym} holds the initial symbol ids; when
     * {@code lo}/{@code hi} hold their char ranges, they are rewritten to the merged symbols' ranges.
     */
    private int[] mergeAll(int[] sym, IntList lo, IntList hi) {
        int m = sym.length;
        if (m < 2) return sym;
        int[] from = lo == null ? null : lo.toArray(), to = hi == null ? null : hi.toArray();
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
            if (from != null) {
                from[pos] = Math.min(from[pos], from[nx]);
                to[pos] = Math.max(to[pos], to[nx]);
            }
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
        if (from != null) {
            lo.clear();
            hi.clear();
        }
        for (int i = 0, k = 0; i >= 0; i = next[i]) {
            out[k++] = sym[i];
            if (from != null) {
                lo.add(from[i]);
                hi.add(to[i]);
            }
        }
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
