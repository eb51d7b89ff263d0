package finetune4j.text;

import java.util.Arrays;

/**
 * One piece of the text on its way through the encode pipeline (HF's {@code Split} of a
 * {@code PreTokenizedString}): either a matched added token, which no later stage touches, or a
 * span of (normalized, pre-tokenized) text that the model will turn into ids.
 *
 * <p>HF keeps a full alignment table from normalized bytes to original bytes. Ids depend on it only
 * through Metaspace's {@code prepend_scheme: "first"}, which asks whether a piece starts at original
 * offset 0, so every piece carries just that: {@code atOrigin} (it starts at original offset 0) and
 * {@code originPrefix}, the number of its leading chars aligned to original offset 0 (chars a Prepend
 * normalizer inserted, plus the first original char), which tells whether a sub-piece cut at char
 * {@code k} still starts at the origin.
 *
 * <p>When token offsets are asked for ({@link Tokenizer#encodeWithOffsets}), a piece also carries
 * {@code align}: for each UTF-16 unit of {@code text}, the original range {@code [start, end)} (UTF-16
 * units of the input) it came from, as HF's {@code NormalizedString.alignments}: a unit of the
 * original maps to its whole code point, inserted chars share the alignment of a neighbour (see each
 * normalizer). {@code align} is null on the plain encode path, which then does no extra work.
 *
 * @param text         the piece's text (normalized once normalizers ran)
 * @param tokenId      the added token's id, or -1 for text the model must tokenize
 * @param atOrigin     the piece starts at offset 0 of the original input
 * @param originPrefix leading chars of {@code text} aligned to original offset 0 (0 when not {@code atOrigin})
 * @param align        (2·text.length) original {@code start, end} per UTF-16 unit, or null when not tracked
 */
record Piece(String text, int tokenId, boolean atOrigin, int originPrefix, int[] align) {

    static Piece token(String text, int id) {
        return new Piece(text, id, false, 0, null);
    }

    /** A raw (not yet normalized) slice of the input starting at original char {@code start}. */
    static Piece raw(String text, int start) {
        boolean origin = start == 0;
        return new Piece(text, -1, origin, origin && !text.isEmpty() ? Character.charCount(text.codePointAt(0)) : 0, null);
    }

    /** As {@link #raw}, tracking alignments: each unit maps to its code point in the input. */
    static Piece rawTracked(String text, int start) {
        Piece p = raw(text, start);
        int[] align = new int[2 * text.length()];
        for (int i = 0; i < text.length(); ) {
            int n = Character.charCount(text.codePointAt(i));
            for (int k = 0; k < n; k++) {
                align[2 * (i + k)] = start + i;
                align[2 * (i + k) + 1] = start + i + n;
            }
            i += n;
        }
        return new Piece(p.text, -1, p.atOrigin, p.originPrefix, align);
    }

    boolean isToken() {
        return tokenId >= 0;
    }

    boolean tracked() {
        return align != null;
    }

    /** Original start of unit {@code i}. */
    int alignStart(int i) {
        return align[2 * i];
    }

    /** Original end of unit {@code i}. */
    int alignEnd(int i) {
        return align[2 * i + 1];
    }

    /** The sub-piece {@code text[start, end)}. */
    Piece slice(int start, int end) {
        boolean origin = atOrigin && (start == 0 || start < originPrefix);
        int prefix = origin ? Math.min(end - start, Math.max(0, originPrefix - start)) : 0;
        return new Piece(text.substring(start, end), -1, origin, prefix, align == null ? null : Arrays.copyOfRange(align, 2 * start, 2 * end));
    }

    /** The added token {@code id} matched at {@code text[start, end)}, keeping its alignment. */
    Piece tokenSlice(int start, int end, int id) {
        return new Piece(text.substring(start, end), id, false, 0, align == null ? null : Arrays.copyOfRange(align, 2 * start, 2 * end));
    }

    /**
     * The same piece with new text whose first {@code prefix} chars are aligned to the origin, and
     * the new text's alignment ({@code newAlign}, ignored when this piece is not tracked).
     */
    Piece withText(String newText, int prefix, int[] newAlign) {
        return new Piece(newText, -1, atOrigin, atOrigin ? Math.min(prefix, newText.length()) : 0, align == null ? null : newAlign);
    }

    /** The same piece with new text of the same length, unit for unit (alignment unchanged). */
    Piece withSameLengthText(String newText, int prefix) {
        if (newText.length() != text.length()) throw new IllegalStateException("length changed: " + text.length() + " → " + newText.length());
        return new Piece(newText, -1, atOrigin, atOrigin ? Math.min(prefix, newText.length()) : 0, align);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Piece p && p.tokenId == tokenId && p.atOrigin == atOrigin && p.originPrefix == originPrefix
                && p.text.equals(text) && Arrays.equals(p.align, align);
    }

    @Override
    public int hashCode() {
        return text.hashCode() * 31 + tokenId;
    }

    @Override
    public String toString() {
        return "Piece[" + text + ", " + tokenId + (align == null ? "" : ", " + Arrays.toString(align)) + "]";
    }
}
