package finetune4j.batch;

import finetune4j.ConfigException;
import finetune4j.Finetune4jException;
import finetune4j.InvalidDataException;
import finetune4j.data.Example;
import finetune4j.text.ChatMessage;
import finetune4j.text.ChatTemplates;
import finetune4j.text.ConversationRenderer;
import finetune4j.text.TrainOn;
import finetune4j.text.Tokenizer;

import java.util.Arrays;
import java.util.List;

/**
 * Turns examples into {@link Tokenized} sequences with their loss mask.
 *
 * <p>Plain text and prompt/completion are tokenized the way TRL's SFTTrainer and mlx-lm do: the
 * text is encoded with the tokenizer's own special tokens (Llama's BOS), EOS is appended and
 * trained, and for prompt/completion only the completion (and EOS) count in the loss, unless
 * {@link TrainOn#ALL} — the prompt's length is that of the prompt encoded alone, as TRL computes the
 * completion mask. Text is trained whole in every mode.
 *
 * <p>Conversations are rendered with the chosen chat template ({@link ConversationRenderer} finds
 * the trained character spans) and the text is encoded with token offsets
 * ({@link Tokenizer#encodeWithOffsets}), without special tokens (the template writes them) except for
 * the alpaca template. A token is trained when it lies between the first and the last token that
 * overlap a trained span (tokens that straddle a span's edge count as inside, as transformers'
 * {@code return_assistant_tokens_mask} does with {@code char_to_token}); tokens with no text of their
 * own (BOS added by the tokenizer) are not. Nothing is appended: the template's end-of-turn text
 * (e.g. {@code <|im_end|>}, {@code </s>}) is part of each trained turn.
 *
 * <p>{@link #tokenize} cuts to {@code maxSeqLen} per the {@link Truncation} policy.
 */
public final class ExampleTokenizer {
    private final Tokenizer tokenizer;
    private final int eosId;
    private final int maxSeqLen;
    private final Truncation truncation;
    private final ChatTemplates.Choice template;      // null: conversations are refused
    private final ConversationRenderer renderer;      // null with template
    private final TrainOn trainOn;

    /**
     * Text and prompt/completion only, cut on the right.
     *
     * @param eosId     appended after each example (tokenizer_config.json's {@code eos_token})
     * @param maxSeqLen longest sequence kept; must not exceed the model's context
     */
    public ExampleTokenizer(Tokenizer tokenizer, int eosId, int maxSeqLen) {
        this(tokenizer, eosId, maxSeqLen, Truncation.RIGHT, null, TrainOn.ASSISTANT);
    }

    /**
     * @param template the chat template for conversations (null: conversations are an error)
     * @param trainOn  which tokens are trained
     */
    public ExampleTokenizer(Tokenizer tokenizer, int eosId, int maxSeqLen, Truncation truncation,
                            ChatTemplates.Choice template, TrainOn trainOn) {
        if (maxSeqLen < 2) throw new ConfigException("--max-seq-len", maxSeqLen, "an integer ≥ 2");
        if (eosId < 0) {
            throw new Finetune4jException("the tokenizer has no end-of-sequence token (hint: set eos_token in tokenizer_config.json)");
        }
        this.tokenizer = tokenizer;
        this.eosId = eosId;
        this.maxSeqLen = maxSeqLen;
        this.truncation = truncation;
        this.template = template;
        this.renderer = template == null ? null : new ConversationRenderer(template.template());
        this.trainOn = trainOn;
    }

    public int maxSeqLen() {
        return maxSeqLen;
    }

    public Truncation truncation() {
        return truncation;
    }

    public TrainOn trainOn() {
        return trainOn;
    }

    /** The chat template used for conversations, or null. */
    public ChatTemplates.Choice template() {
        return template;
    }

    /**
     * An example encoded in full (not cut): its tokens and labels, the text they were encoded from,
     * each token's range in that text, and the trained character spans.
     *
     * @param tokenized (T) ids and labels
     * @param text      the encoded text (the rendered conversation; prompt + completion; the text)
     * @param starts    (T) start of each token in {@code text} ({@code starts[i] == ends[i]}: a token
     *                  with no text, like BOS or the appended EOS)
     * @param ends      (T) end of each token
     * @param trained   trained spans of {@code text}
     * @param method    how spans were found: "all", "completion" (TRL prompt length), "generation", "prefix"
     */
    public record Encoded(Tokenized tokenized, String text, int[] starts, int[] ends,
                          List<ConversationRenderer.Span> trained, String method) {
    }

    /** The example cut to {@code maxSeqLen} per the truncation policy; null only when the policy is DROP and it is too long. */
    public Tokenized tokenize(Example e) {
        return truncation.apply(encode(e).tokenized(), maxSeqLen);
    }

    /**
     * The full encoding of {@code e}.
     *
     * @throws InvalidDataException when a conversation cannot be rendered or has nothing to train
     * @throws ConfigException      for a conversation when no chat template was given
     */
    public Encoded encode(Example e) {
        return switch (e) {
            case Example.Text t -> {
                Tokenizer.Encoding enc = tokenizer.encodeWithOffsets(t.text(), true);
                int[] ids = withEos(enc.ids());
                yield new Encoded(new Tokenized(ids, ids.clone(), t.source()), t.text(), withEnd(enc.starts(), t.text().length()),
                        withEnd(enc.ends(), t.text().length()), List.of(new ConversationRenderer.Span(0, t.text().length())), "all");
            }
            case Example.PromptCompletion pc -> {
                String text = pc.prompt() + pc.completion();
                int promptLen = tokenizer.encode(pc.prompt(), true).length;
                Tokenizer.Encoding enc = tokenizer.encodeWithOffsets(text, true);
                int[] ids = withEos(enc.ids());
                int[] labels = ids.clone();
                boolean all = trainOn == TrainOn.ALL;
                if (!all) Arrays.fill(labels, 0, Math.min(promptLen, labels.length), Tokenized.IGNORE);
                int from = all ? 0 : pc.prompt().length();
                yield new Encoded(new Tokenized(ids, labels, pc.source()), text, withEnd(enc.starts(), text.length()),
                        withEnd(enc.ends(), text.length()), List.of(new ConversationRenderer.Span(from, text.length())), all ? "all" : "completion");
            }
            case Example.Conversation c -> conversation(c);
        };
    }

    private Encoded conversation(Example.Conversation c) {
        if (renderer == null) {
            throw new ConfigException(c.source() + " is a conversation (" + c.format().id() + "), which needs a chat template"
                    + " (hint: --template chatml, or a model with a chat template)");
        }
        List<ChatMessage> messages = new java.util.ArrayList<>(c.messages().size());
        for (finetune4j.data.Message m : c.messages()) messages.add(ChatMessage.fromMap(m.fields()));
        ConversationRenderer.Rendered r = renderer.render(c.source(), messages, c.tools(), c.completionStart(), trainOn);
        Tokenizer.Encoding enc = tokenizer.encodeWithOffsets(r.text(), template.addSpecialTokens());
        int[] ids = enc.ids();
        int[] labels = new int[ids.length];
        if (trainOn == TrainOn.ALL) {
            System.arraycopy(ids, 0, labels, 0, ids.length);
        } else {
            Arrays.fill(labels, Tokenized.IGNORE);
            for (ConversationRenderer.Span s : r.trained()) {
                int first = -1, last = -1;
                for (int i = 0; i < ids.length; i++) {
                    if (enc.ends()[i] > enc.starts()[i] && enc.ends()[i] > s.start() && enc.starts()[i] < s.end()) {
                        if (first < 0) first = i;
                        last = i;
                    }
                }
                for (int i = first; first >= 0 && i <= last; i++) labels[i] = ids[i];
            }
        }
        Tokenized t = new Tokenized(ids, labels, c.source());
        if (t.targetTokens() == 0) {
            throw new InvalidDataException(c.source(), 0, null, "no token is trained (the trained text maps to no token after the first)");
        }
        return new Encoded(t, r.text(), enc.starts(), enc.ends(), r.trained(), r.method());
    }

    private int[] withEos(int[] ids) {
        int[] out = Arrays.copyOf(ids, ids.length + 1);
        out[ids.length] = eosId;
        return out;
    }

    private static int[] withEnd(int[] a, int v) {
        int[] out = Arrays.copyOf(a, a.length + 1);
        out[a.length] = v;
        return out;
    }
}
