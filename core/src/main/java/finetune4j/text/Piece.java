package finetune4j.text;

/**
 * One piece of the text on its way through the encode pipeline (HF's {@code Split} of a
 * {@code PreTokenizedString}): either a matched added token, which no later stage touches, or a
 * span of (normalized, pre-tokenized) text that the model will turn into ids.
 *
 * <p>HF keeps a full alignment table from normalized bytes to original bytes; the only consumer
 * of it that affects ids is Metaspace's {@code prepend_scheme: "first"}, which asks whether a piece
 * starts at original offset 0. So a piece carries just that: {@code atOrigin} (it starts at
 * original offset 0) and {@code originPrefix}, the number of its leading chars aligned to original
 * offset 0 (chars a Prepend normalizer inserted, plus the first original char), which tells whether
 * a sub-piece cut at char {@code k} still starts at the origin.
 *
 * @param text         the piece's text (normalized once normalizers ran)
 * @param tokenId      the added token's id, or -1 for text the model must tokenize
 * @param atOrigin     the piece starts at offset 0 of the original input
 * @param originPrefix leading chars of {@code text} aligned to original offset 0 (0 when not {@code atOrigin})
 */
record Piece(String text, int tokenId, boolean atOrigin, int originPrefix) {

    static Piece token(String text, int id) {
        return new Piece(text, id, false, 0);
    }

    /** A raw (not yet normalized) slice of the input starting at original char {@code start}. */
    static Piece raw(String text, int start) {
        boolean origin = start == 0;
        return new Piece(text, -1, origin, origin && !text.isEmpty() ? Character.charCount(text.codePointAt(0)) : 0);
    }

    boolean isToken() {
        return tokenId >= 0;
    }

    /** The sub-piece {@code text[start, end)}. */
    Piece slice(int start, int end) {
        boolean origin = atOrigin && (start == 0 || start < originPrefix);
        int prefix = origin ? Math.min(end - start, Math.max(0, originPrefix - start)) : 0;
        return new Piece(text.substring(start, end), -1, origin, prefix);
    }

    /** The same piece with new text whose first {@code prefix} chars are aligned to the origin. */
    Piece withText(String newText, int prefix) {
        return new Piece(newText, -1, atOrigin, atOrigin ? Math.min(prefix, newText.length()) : 0);
    }
}
