package finetune4j.testing;

import finetune4j.batch.Batch;
import finetune4j.batch.Packer;
import finetune4j.batch.Tokenized;

import java.util.List;
import java.util.function.Function;

/**
 * Test helper for the model side of packing ({@code --packing}): a forward pass that honours the
 * attention contract of {@link Batch} (block-diagonal causal mask from {@code segmentIds}, RoPE
 * positions from {@code positionIds}) gives every packed example the logits it gets when run alone.
 *
 * {@snippet :
 * PackedBatches.assertPackedEqualsSeparate("tiny llama", examples, 64, vocab,
 *         batch -> model.logits(batch), Numerics.Tol.abs(1e-5).rel(1e-4));   // logits (B, T, V)
 * }
 */
public final class PackedBatches {
    private PackedBatches() {
    }

    /**
     * Packs {@code examples} into rows of {@code seqLen}, runs {@code forward} on one batch holding
     * all packed rows and on one batch per example, and compares each example's logits.
     *
     * @param forward a model's forward pass: a filled batch to logits (b, t, vocab), row-major
     */
    public static void assertPackedEqualsSeparate(String name, List<Tokenized> examples, int seqLen, int vocab,
                                                  Function<Batch, float[]> forward, Numerics.Tol tol) {
        List<Tokenized> rows = Packer.pack(examples, seqLen);
        Batch packed = new Batch(rows.size(), seqLen);
        packed.fill(rows.toArray(new Tokenized[0]), rows.size(), 0);
        float[] packedLogits = forward.apply(packed);
        int t = packed.t();
        for (int r = 0; r < rows.size(); r++) {
            Tokenized row = rows.get(r);
            int[] starts = row.starts();
            for (int k = 0; k < starts.length; k++) {
                int from = starts[k], to = k + 1 < starts.length ? starts[k + 1] : row.length();
                Tokenized alone = new Tokenized(java.util.Arrays.copyOfRange(row.ids(), from, to),
                        java.util.Arrays.copyOfRange(row.labels(), from, to), row.source());
                Batch single = new Batch(1, to - from);
                single.fill(new Tokenized[]{alone}, 1, 0);
                float[] want = forward.apply(single);
                Numerics.assertClose(name + ": row " + r + " example " + k + " (" + alone.length() + " tokens at " + from + ")",
                        packedLogits, (r * t + from) * vocab, want, 0, alone.length() * vocab, tol);
            }
        }
    }
}
