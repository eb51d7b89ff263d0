package finetune4j.batch;

import finetune4j.ConfigException;
import finetune4j.Finetune4jException;
import finetune4j.data.Example;
import finetune4j.text.Tokenizer;

import java.util.Arrays;

/**
 * Turns examples into {@link Tokenized} sequences the way TRL's SFTTrainer and mlx-lm do: the text
 * is encoded with the tokenizer's own special tokens (Llama's BOS), EOS is appended and trained,
 * and for prompt/completion only the completion (and EOS) count in the loss — the prompt's length is
 * that of the prompt encoded alone, as TRL computes the completion mask.
 *
 * <p>Sequences longer than {@code maxSeqLen} are cut on the right (the policy of the training
 * minimum; truncation on the left and dropping come with the instruction-tuning pipeline).
 */
public final class ExampleTokenizer {
    private final Tokenizer tokenizer;
    private final int eosId;
    private final int maxSeqLen;

    /**
     * @param eosId     appended after each example (tokenizer_config.json's {@code eos_token})
     * @param maxSeqLen longest sequence kept; must not exceed the model's context
     */
    public ExampleTokenizer(Tokenizer tokenizer, int eosId, int maxSeqLen) {
        if (maxSeqLen < 2) throw new ConfigException("--max-seq-len", maxSeqLen, "an integer ≥ 2");
        if (eosId < 0) {
            throw new Finetune4jException("the tokenizer has no end-of-sequence token (hint: set eos_token in tokenizer_config.json)");
        }
        this.tokenizer = tokenizer;
        this.eosId = eosId;
        this.maxSeqLen = maxSeqLen;
    }

    public int maxSeqLen() {
        return maxSeqLen;
    }

    /** Tokenizes one example; the result has at least one trained target unless the prompt fills the window. */
    public Tokenized tokenize(Example e) {
        return switch (e) {
            case Example.Text t -> {
                int[] ids = withEos(tokenizer.encode(t.text(), true));
                yield cut(new Tokenized(ids, ids.clone(), t.source()));
            }
            case Example.PromptCompletion pc -> {
                int promptLen = tokenizer.encode(pc.prompt(), true).length;
                int[] ids = withEos(tokenizer.encode(pc.prompt() + pc.completion(), true));
                int[] labels = ids.clone();
                Arrays.fill(labels, 0, Math.min(promptLen, labels.length), Tokenized.IGNORE);
                yield cut(new Tokenized(ids, labels, pc.source()));
            }
        };
    }

    private int[] withEos(int[] ids) {
        int[] out = Arrays.copyOf(ids, ids.length + 1);
        out[ids.length] = eosId;
        return out;
    }

    private Tokenized cut(Tokenized t) {
        if (t.length() <= maxSeqLen) return t;
        return new Tokenized(Arrays.copyOf(t.ids(), maxSeqLen), Arrays.copyOf(t.labels(), maxSeqLen), t.source());
    }
}
