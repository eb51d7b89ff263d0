package finetune4j.generate;

import java.util.Arrays;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Streams generated text: a {@link TokenListener} that decodes all tokens so far with the
 * tokenizer's decoder and passes on only the new characters. Text ending in U+FFFD (an
 * incomplete UTF-8 sequence of byte-fallback or byte-level tokens) is held back until the next
 * token completes it, as transformers' {@code TextStreamer} does; {@link #finish()} flushes the rest.
 */
public final class TextStreamer implements TokenListener {
    private final Function<int[], String> decoder;
    private final Consumer<String> sink;
    private int[] ids = new int[64];
    private int n;
    private int emitted;   // characters of the decoded text already passed on

    /**
     * @param decoder ids → text (e.g. the tokenizer's decode with special tokens skipped)
     * @param sink    receives each new piece of text
     */
    public TextStreamer(Function<int[], String> decoder, Consumer<String> sink) {
        this.decoder = decoder;
        this.sink = sink;
    }

    @Override
    public void onToken(int tokenId, int index) {
        if (n == ids.length) ids = Arrays.copyOf(ids, 2 * n);
        ids[n++] = tokenId;
        String text = decoder.apply(Arrays.copyOf(ids, n));
        if (text.endsWith("\uFFFD")) return;
        emit(text);
    }

    /** Passes on whatever is left (including an incomplete character at the end). */
    public void finish() {
        emit(decoder.apply(Arrays.copyOf(ids, n)));
    }

    private void emit(String text) {
        if (text.length() > emitted) {
            sink.accept(text.substring(emitted));
            emitted = text.length();
        }
    }
}
