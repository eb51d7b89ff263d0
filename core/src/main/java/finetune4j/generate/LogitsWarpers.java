package finetune4j.generate;

import finetune4j.Finetune4jException;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The logits processors and warpers of transformers' {@code generation/logits_process.py}, in
 * place on {@code scores[0..n)}, with the same masks: a removed token gets {@code -inf} (HF's
 * {@code filter_value}). Applied by {@link Sampler} in HF's order: repetition penalty →
 * temperature → top-k → top-p → min-p → softmax + multinomial draw (argmax when greedy).
 *
 * <p>Arithmetic follows torch where it decides which tokens survive: scalars are cast to float32
 * before the elementwise op (as torch does for a float32 tensor and a Python float); softmax and
 * cumulative sums run in double here (torch: float32), which only matters for tokens sitting
 * within float rounding of a threshold. Scratch arrays are passed in: nothing allocates per token.
 */
public final class LogitsWarpers {
    private LogitsWarpers() {
    }

    /**
     * {@code RepetitionPenaltyLogitsProcessor}: for each token already present ({@code seen[i]}),
     * {@code score < 0 ? score · penalty : score / penalty} (each token once, however often it occurred).
     */
    public static void repetitionPenalty(float[] scores, int n, boolean[] seen, double penalty) {
        float p = (float) penalty;
        for (int i = 0; i < n; i++) {
            if (seen[i]) scores[i] = scores[i] < 0 ? scores[i] * p : scores[i] / p;
        }
    }

    /** {@code TemperatureLogitsWarper}: {@code scores / temperature}. */
    public static void temperature(float[] scores, int n, double temperature) {
        float t = (float) temperature;
        for (int i = 0; i < n; i++) scores[i] = scores[i] / t;
    }

    /**
     * {@code TopKLogitsWarper}: removes every score strictly below the k-th largest (ties with it
     * survive, so more than k tokens may remain). {@code heap}: scratch of at least {@code min(k, n)}.
     */
    public static void topK(float[] scores, int n, int k, float[] heap) {
        k = Math.min(k, n);
        if (k <= 0) return;
        // min-heap of the k largest seen so far; heap[0] ends as the k-th largest
        int size = 0;
        for (int i = 0; i < n; i++) {
            float s = scores[i];
            if (size < k) {
                int c = size++;
                heap[c] = s;
                while (c > 0) {
                    int parent = (c - 1) >>> 1;
                    if (heap[parent] <= heap[c]) break;
                    float t = heap[parent];
                    heap[parent] = heap[c];
                    heap[c] = t;
                    c = parent;
                }
            } else if (s > heap[0]) {
                heap[0] = s;
                int c = 0;
                while (true) {
                    int l = 2 * c + 1, r = l + 1, m = c;
                    if (l < k && heap[l] < heap[m]) m = l;
                    if (r < k && heap[r] < heap[m]) m = r;
                    if (m == c) break;
                    float t = heap[m];
                    heap[m] = heap[c];
                    heap[c] = t;
                    c = m;
                }
            }
        }
        float kth = heap[0];
        for (int i = 0; i < n; i++) {
            if (scores[i] < kth) scores[i] = Float.NEGATIVE_INFINITY;
        }
    }

    /**
     * {@code TopPLogitsWarper}: sorts ascending, removes the tokens whose cumulative probability
     * (from the least likely up) is {@code ≤ 1 − topP}, always keeping the {@code minKeep} most
     * likely. {@code keys}: scratch of at least n.
     */
    public static void topP(float[] scores, int n, double topP, int minKeep, long[] keys) {
        int m = sortFiniteAscending(scores, n, keys);
        if (m == 0) return;
        float max = scores[index(keys[m - 1])];
        double sum = 0;
        for (int j = 0; j < m; j++) sum += Math.exp(scores[index(keys[j])] - max);
        float threshold = (float) (1 - topP);          // python float cast to float32 for the comparison
        double cum = 0;
        for (int j = 0; j < m - minKeep; j++) {
            int i = index(keys[j]);
            cum += Math.exp(scores[i] - max) / sum;
            if ((float) cum <= threshold) scores[i] = Float.NEGATIVE_INFINITY;
            else break;                                 // the cumulative sum only grows
        }
    }

    /**
     * {@code MinPLogitsWarper}: removes tokens with {@code prob < minP · max prob}, always keeping
     * the {@code minKeep} most likely. {@code keys}: scratch of at least n (used when minKeep > 1).
     */
    public static void minP(float[] scores, int n, double minP, int minKeep, long[] keys) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, scores[i]);
        if (max == Float.NEGATIVE_INFINITY) return;
        // prob_i < minP · prob_max  ⇔  exp(s_i − max) < minP  (the softmax denominator cancels)
        if (minKeep > 1) {
            int m = sortFiniteAscending(scores, n, keys);
            int protectedFrom = Math.max(0, m - minKeep);     // the minKeep largest sit at the end
            for (int j = 0; j < protectedFrom; j++) {
                int i = index(keys[j]);
                if (Math.exp((double) scores[i] - max) < minP) scores[i] = Float.NEGATIVE_INFINITY;
            }
            return;
        }
        for (int i = 0; i < n; i++) {
            if (Math.exp((double) scores[i] - max) < minP) scores[i] = Float.NEGATIVE_INFINITY;
        }
    }

    /** Index of the first largest score (torch.argmax / llama2.c); throws on NaN. */
    public static int argmax(float[] scores, int n) {
        int best = 0;
        float bestV = scores[0];
        for (int i = 0; i < n; i++) {
            float s = scores[i];
            if (s != s) throw nan(i);
            if (s > bestV) {
                bestV = s;
                best = i;
            }
        }
        return best;
    }

    /**
     * Draws a token from {@code softmax(scores)} ({@code torch.multinomial} of one sample):
     * one uniform double from {@code rng}, inverse CDF in index order. Removed tokens (-inf) have
     * probability 0.
     */
    public static int sample(float[] scores, int n, SplittableRandom rng) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            if (scores[i] != scores[i]) throw nan(i);
            max = Math.max(max, scores[i]);
        }
        double sum = 0;
        for (int i = 0; i < n; i++) sum += Math.exp(scores[i] - max);
        double u = rng.nextDouble() * sum;
        double cum = 0;
        int last = -1;
        for (int i = 0; i < n; i++) {
            if (scores[i] == Float.NEGATIVE_INFINITY) continue;
            cum += Math.exp(scores[i] - max);
            last = i;
            if (u < cum) return i;
        }
        return last; // rounding at the very end of the CDF
    }

    private static Finetune4jException nan(int i) {
        return new Finetune4jException("the model produced NaN logits (first at token id " + i
                + "); hint: the weights may be corrupt, or F16 activations overflowed");
    }

    /**
     * Fills {@code keys[0..m)} with the finite scores sorted ascending (ties by ascending index)
     * and returns m. Key = order-preserving int image of the float in the high half, index low.
     */
    static int sortFiniteAscending(float[] scores, int n, long[] keys) {
        int m = 0;
        for (int i = 0; i < n; i++) {
            float s = scores[i];
            if (s == Float.NEGATIVE_INFINITY) continue;
            int bits = Float.floatToRawIntBits(s);
            int ordered = bits >= 0 ? bits : bits ^ 0x7FFFFFFF;   // monotone in s as a signed int
            keys[m++] = ((long) ordered << 32) | (i & 0xFFFFFFFFL);
        }
        Arrays.sort(keys, 0, m);
        return m;
    }

    static int index(long key) {
        return (int) key;
    }
}
