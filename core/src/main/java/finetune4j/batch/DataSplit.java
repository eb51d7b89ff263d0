package finetune4j.batch;

import finetune4j.ConfigException;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Validation split and exact-duplicate removal over tokenized examples.
 *
 * <p>The split ({@code --valid-ratio} / {@code --valid-count}, used when no validation file is
 * given) ranks examples by a seeded 64-bit hash of their tokens and labels and takes the lowest
 * ones: the choice is stable (it does not depend on the file's order, and an example stays on its
 * side when others are added, as long as the count does not change) and identical examples always
 * land on the same side, so duplicates cannot leak from training into validation.
 */
public final class DataSplit {
    private DataSplit() {
    }

    /** Training and validation examples, each in the input order. */
    public record Split(List<Tokenized> train, List<Tokenized> valid) {
    }

    /**
     * Splits {@code all}: {@code count} examples for validation when {@code count > 0}, else
     * {@code round(ratio · n)} (at least 1 when ratio > 0); training keeps at least one.
     */
    public static Split split(List<Tokenized> all, double ratio, int count, long seed) {
        if (ratio < 0 || ratio >= 1) throw new ConfigException("--valid-ratio", ratio, "a fraction in [0, 1)");
        if (count < 0) throw new ConfigException("--valid-count", count, "an integer ≥ 0");
        int n = all.size();
        int k = count > 0 ? count : (int) Math.round(ratio * n);
        if (ratio > 0 && count == 0 && n > 1) k = Math.max(1, k);
        k = Math.min(k, Math.max(0, n - 1));
        if (k == 0) return new Split(List.copyOf(all), List.of());
        Integer[] idx = new Integer[n];
        long[] h = new long[n];
        for (int i = 0; i < n; i++) {
            idx[i] = i;
            h[i] = hash(all.get(i), seed);
        }
        Arrays.sort(idx, Comparator.<Integer>comparingLong(i -> h[i]).thenComparingInt(i -> i));
        boolean[] valid = new boolean[n];
        for (int i = 0; i < k; i++) valid[idx[i]] = true;
        List<Tokenized> train = new ArrayList<>(n - k), val = new ArrayList<>(k);
        for (int i = 0; i < n; i++) (valid[i] ? val : train).add(all.get(i));
        return new Split(train, val);
    }

    /** Seeded 64-bit hash of ids and labels (splitmix64 over the ints). */
    static long hash(Tokenized t, long seed) {
        long h = mix(seed ^ 0x9E3779B97F4A7C15L);
        for (int id : t.ids()) h = mix(h ^ id);
        h = mix(h ^ 0x5151L);
        for (int l : t.labels()) h = mix(h ^ l);
        return h;
    }

    private static long mix(long z) {
        z += 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /**
     * Drops exact duplicates (same ids and labels), keeping first occurrences; remembers what it has
     * seen by two independent 64-bit hashes (no token copies kept).
     */
    public static final class Dedupe {
        private record Key(long a, long b) {
        }

        private final Set<Key> seen = new HashSet<>();

        /** True the first time {@code t}'s content is seen. */
        public boolean first(Tokenized t) {
            return seen.add(new Key(hash(t, 1), hash(t, 2)));
        }
    }
}
