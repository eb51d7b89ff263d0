package finetune4j.text;

/**
 * Streams text out of token ids arriving one at a time (see {@link Tokenizer#incrementalDecoder}).
 * Not thread-safe: one instance per generated sequence.
 *
 * {@snippet :
 * IncrementalDecoder dec = tok.incrementalDecoder(true);
 * for (int id : generated) System.out.print(dec.push(id));   // never half a character
 * System.out.print(dec.flush());
 * }
 */
public interface IncrementalDecoder {

    /**
     * Adds one id; returns the text that became final (possibly empty: the id may be the first
     * byte of a multi-byte character, or a skipped special token).
     */
    String push(int id);

    /**
     * Ends the sequence: returns whatever text is still held back (e.g. U+FFFD for an incomplete
     * trailing byte sequence, exactly as {@link Tokenizer#decode} shows it) and resets the decoder,
     * so the next {@link #push} starts a new sequence.
     */
    String flush();
}
