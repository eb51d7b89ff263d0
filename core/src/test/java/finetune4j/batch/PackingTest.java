package finetune4j.batch;

import finetune4j.testing.Numerics;
import finetune4j.testing.PackedBatches;
import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Packing: best-fit decreasing rows, boundary labels, segment and position ids, the attention contract and its test helper. */
class PackingTest {
    static List<Tokenized> examples(int n, int maxLen, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<Tokenized> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int len = 1 + r.nextInt(maxLen);
            int[] ids = new int[len], labels = new int[len];
            for (int k = 0; k < len; k++) {
                ids[k] = 1 + r.nextInt(50);
                labels[k] = r.nextInt(3) == 0 ? Tokenized.IGNORE : ids[k];
            }
            out.add(new Tokenized(ids, labels, "f:" + (i + 1)));
        }
        return out;
    }

    @Test
    void bestFitDecreasingKeepsEveryExampleOnceWithinTheRowLength() {
        List<Tokenized> ex = examples(200, 40, 1);
        List<Tokenized> rows = Packer.pack(ex, 64);
        Map<String, Integer> seen = new HashMap<>();
        long targets = 0, tokens = 0;
        for (Tokenized row : rows) {
            assertThat(row.length()).isLessThanOrEqualTo(64);
            for (String s : row.source().split(" ")) seen.merge(s, 1, Integer::sum);
            targets += row.targetTokens();
            tokens += row.length();
        }
        assertThat(seen).hasSize(200).allSatisfy((k, v) -> assertThat(v).isEqualTo(1));
        assertThat(targets).isEqualTo(ex.stream().mapToLong(Tokenized::targetTokens).sum());
        assertThat(tokens).isEqualTo(ex.stream().mapToLong(Tokenized::length).sum());
        // best fit: no two rows could be merged, and the row count is within 10% of the bound
        long bound = (tokens + 63) / 64;
        assertThat(rows.size()).isLessThanOrEqualTo((int) Math.ceil(bound * 1.1));
        assertThat(Packer.pack(ex, 64)).isEqualTo(rows);                         // deterministic
        assertThatThrownBy(() -> Packer.pack(ex, 20)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("> seqLen 20");
    }

    @Test
    void concatMasksTheFirstLabelOfEveryLaterExample() {
        Tokenized a = new Tokenized(new int[]{1, 2, 3}, new int[]{1, 2, 3}, "a"), b = new Tokenized(new int[]{4, 5}, new int[]{4, 5}, "b");
        Tokenized row = Tokenized.concat(List.of(a, b));
        assertThat(row.ids()).containsExactly(1, 2, 3, 4, 5);
        assertThat(row.labels()).containsExactly(1, 2, 3, Tokenized.IGNORE, 5);
        assertThat(row.starts()).containsExactly(0, 3);
        assertThat(row.targetTokens()).isEqualTo(a.targetTokens() + b.targetTokens());
    }

    @Test
    void batchCarriesSegmentsAndPositionsRestartingPerExample() {
        Tokenized row = Tokenized.concat(List.of(new Tokenized(new int[]{1, 2, 3}, new int[]{1, 2, 3}, "a"),
                new Tokenized(new int[]{4, 5}, new int[]{4, 5}, "b")));
        Tokenized single = new Tokenized(new int[]{7, 8}, new int[]{7, 8}, "c");
        Batch b = new Batch(2, 8);
        b.fill(new Tokenized[]{row, single}, 2, 0);
        assertThat(b.packed()).isTrue();
        assertThat(Arrays.copyOfRange(b.positionIds, 0, 5)).containsExactly(0, 1, 2, 0, 1);
        assertThat(Arrays.copyOfRange(b.segmentIds, 0, 5)).containsExactly(1, 1, 1, 2, 2);
        assertThat(Arrays.copyOfRange(b.positionIds, 5, 10)).containsExactly(0, 1, 0, 0, 0);
        assertThat(Arrays.copyOfRange(b.segmentIds, 5, 10)).containsExactly(1, 1, 0, 0, 0);
        assertThat(b.attends(0, 2, 0)).isTrue();      // same example, earlier
        assertThat(b.attends(0, 3, 2)).isFalse();     // across the boundary
        assertThat(b.attends(0, 4, 3)).isTrue();
        assertThat(b.attends(0, 3, 4)).isFalse();     // not causal
        assertThat(b.attends(1, 3, 0)).isFalse();     // padding query
        assertThat(b.targetTokens()).isEqualTo(row.targetTokens() + single.targetTokens());
    }

    /**
     * A toy causal "model" for the helper: the logit v at position i mixes the ids at the positions
     * it may attend to (decayed by distance) with its RoPE-like position. Honouring the contract, it
     * passes; attending across examples (a plain causal mask over the row) or ignoring positionIds,
     * it fails, so the helper can fail.
     */
    static float[] toyModel(Batch b, int vocab, boolean honourSegments, boolean honourPositions) {
        int t = b.t();
        float[] out = new float[b.b() * t * vocab];
        for (int s = 0; s < b.b(); s++) {
            for (int i = 0; i < b.lengths[s]; i++) {
                int pos = honourPositions ? b.positionIds[s * t + i] : i;
                for (int v = 0; v < vocab; v++) {
                    double acc = Math.sin(0.3 * pos * (v + 1));
                    for (int j = 0; j <= i; j++) {
                        boolean allowed = honourSegments ? b.attends(s, i, j) : true;
                        if (allowed) acc += Math.cos(b.ids[s * t + j] * (v + 1) * 0.1) / (1 + i - j);
                    }
                    out[(s * t + i) * vocab + v] = (float) acc;
                }
            }
        }
        return out;
    }

    @Test
    void helperAcceptsAModelHonouringTheContractAndCatchesOnesThatDoNot() {
        List<Tokenized> ex = examples(12, 10, 7);
        PackedBatches.assertPackedEqualsSeparate("toy", ex, 24, 5, b -> toyModel(b, 5, true, true), Numerics.Tol.abs(1e-6).rel(1e-6));
        assertThatThrownBy(() -> PackedBatches.assertPackedEqualsSeparate("toy without segments", ex, 24, 5,
                b -> toyModel(b, 5, false, true), Numerics.Tol.abs(1e-6).rel(1e-6))).isInstanceOf(AssertionFailedError.class);
        assertThatThrownBy(() -> PackedBatches.assertPackedEqualsSeparate("toy without positions", ex, 24, 5,
                b -> toyModel(b, 5, true, false), Numerics.Tol.abs(1e-6).rel(1e-6))).isInstanceOf(AssertionFailedError.class);
    }

    @Test
    void bucketingGroupsSimilarLengthsAndStaysAPermutationResumably() {
        List<Tokenized> ex = examples(300, 100, 3);
        BatchIterator bucket = new BatchIterator(ex, 8, BatchIterator.Order.BUCKET, 42, 0);
        BatchIterator shuffle = new BatchIterator(ex, 8, BatchIterator.Order.SHUFFLE, 42, 0);
        for (int epoch = 0; epoch < 3; epoch++) {
            int[] o = bucket.order(epoch);
            assertThat(Arrays.stream(o).sorted().toArray()).isEqualTo(java.util.stream.IntStream.range(0, 300).toArray());
            assertThat(bucket.order(epoch)).isEqualTo(o);
        }
        assertThat(bucket.order(1)).isNotEqualTo(bucket.order(0));
        assertThat(padding(bucket, ex)).isLessThan(padding(shuffle, ex) / 3);
        // resume mid-epoch: the same batches follow
        Batch a = new Batch(8, 100), c = new Batch(8, 100);
        BatchIterator it = new BatchIterator(ex, 8, BatchIterator.Order.BUCKET, 42, 0);
        for (int i = 0; i < 45; i++) it.next(a);
        BatchIterator resumed = new BatchIterator(ex, 8, BatchIterator.Order.BUCKET, 42, 0);
        resumed.seek(it.epoch(), it.index());
        for (int i = 0; i < 10; i++) {
            it.next(a);
            resumed.next(c);
            assertThat(Arrays.copyOf(c.ids, c.b() * c.t())).isEqualTo(Arrays.copyOf(a.ids, a.b() * a.t()));
        }
    }

    /** Padding tokens over one epoch. */
    static long padding(BatchIterator it, List<Tokenized> ex) {
        Batch b = new Batch(8, 100);
        long pad = 0;
        it.seek(0, 0);
        for (int i = 0; i < it.batchesPerEpoch(); i++) {
            it.next(b);
            pad += (long) b.b() * b.t() - b.tokens();
        }
        return pad;
    }
}
