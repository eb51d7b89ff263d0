package finetune4j.text;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * tokenizer.json {@code pre_tokenizer}: cuts each normalized piece into the "words" the model
 * tokenizes independently (and may rewrite them: ByteLevel maps to the byte alphabet, Metaspace
 * replaces spaces). One record per HF type, as in {@code tokenizers/src/pre_tokenizers}; added-token
 * pieces pass through untouched.
 */
sealed interface PreTokenizer {

    /** Splits one (non-token) piece, appending the results to {@code out}. */
    void split(Piece piece, List<Piece> out);

    /** Applies this pre-tokenizer to every non-token piece of {@code pieces}. */
    default List<Piece> preTokenize(List<Piece> pieces) {
        List<Piece> out = new ArrayList<>(pieces.size() * 2);
        for (Piece p : pieces) {
            if (p.isToken()) out.add(p);
            else split(p, out);
        }
        return out;
    }

    /** GPT-2's split pattern, built into HF's ByteLevel pre-tokenizer. */
    Pattern GPT2_PATTERN = HfRegex.compile("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+");

    /**
     * Whitespace pre-tokenizer's pattern. HF compiles this one with the Rust {@code regex} crate, not
     * Oniguruma, so {@code \w} is UTS #18's (with ZWJ/ZWNJ, without ¹²³¼½¾): exactly Java's Unicode {@code \w}.
     */
    Pattern WORDS_PATTERN = Pattern.compile("\\w+|[^\\w\\s]+", Pattern.UNICODE_CHARACTER_CLASS);

    /** Runs each pre-tokenizer in order over all pieces. */
    record Sequence(List<PreTokenizer> pretokenizers) implements PreTokenizer {
        public void split(Piece piece, List<Piece> out) {
            out.addAll(preTokenize(List.of(piece)));
        }

        @Override
        public List<Piece> preTokenize(List<Piece> pieces) {
            for (PreTokenizer p : pretokenizers) pieces = p.preTokenize(pieces);
            return pieces;
        }
    }

    /**
     * GPT-2 byte-level: optionally prepend a space (to every piece without one, as HF does), split
     * with {@link #GPT2_PATTERN} when {@code useRegex}, then map each piece's UTF-8 bytes to the
     * byte alphabet.
     */
    record ByteLevel(boolean addPrefixSpace, boolean useRegex) implements PreTokenizer {
        public void split(Piece piece, List<Piece> out) {
            Piece p = piece;
            if (addPrefixSpace && !p.text().isEmpty() && !p.text().startsWith(" ")) {
                p = p.withText(" " + p.text(), p.originPrefix() > 0 ? p.originPrefix() + 1 : 0,
                        p.tracked() ? Alignments.prepend(p.align(), 1) : null);
            }
            if (useRegex) {
                int from = out.size();
                Splits.apply(p, Splits.regex(GPT2_PATTERN, p.text()), Splits.Behavior.Isolated, out);
                for (int i = from; i < out.size(); i++) out.set(i, toBytes(out.get(i)));
            } else if (!p.text().isEmpty()) {
                out.add(toBytes(p));
            }
        }

        private static Piece toBytes(Piece p) {
            return p.withText(Chars.toByteLevel(p.text()), Chars.utf8Length(p.text(), p.originPrefix()),
                    p.tracked() ? Alignments.byteLevel(p.text(), p.align()) : null);
        }
    }

    /** Splits on a pattern (literal or regex) with a delimiter behavior; {@code invert} swaps matches and gaps. */
    record Split(Pattern pattern, Splits.Behavior behavior, boolean invert) implements PreTokenizer {
        public void split(Piece piece, List<Piece> out) {
            Splits.Spans spans = Splits.regex(pattern, piece.text());
            if (invert) spans.invert();
            Splits.apply(piece, spans, behavior, out);
        }
    }

    /** Isolates digits: each one alone ({@code individual_digits}) or runs of them (Contiguous). */
    record Digits(boolean individualDigits) implements PreTokenizer {
        public void split(Piece piece, List<Piece> out) {
            Splits.apply(piece, Splits.chars(Chars::isNumeric, piece.text()),
                    individualDigits ? Splits.Behavior.Isolated : Splits.Behavior.Contiguous, out);
        }
    }

    /** tokenizer.json Metaspace {@code prepend_scheme}. */
    enum PrependScheme {
        first, never, always
    }

    /**
     * SentencePiece-style: spaces become {@code replacement}, which is prepended per
     * {@code prependScheme} ("first": only to the piece starting the input), then optionally split
     * before each {@code replacement} (MergedWithNext).
     */
    record Metaspace(int replacement, PrependScheme prependScheme, boolean splitWords) implements PreTokenizer {
        public void split(Piece piece, List<Piece> out) {
            String rep = Character.toString(replacement);
            String text = piece.text().replace(" ", rep);
            Piece p = rep.length() == 1 ? piece.withSameLengthText(text, piece.originPrefix())
                    : piece.withText(text, piece.originPrefix(), piece.tracked() ? spaceAlign(piece, rep.length()) : null);
            boolean prepend = switch (prependScheme) {
                case always -> !text.startsWith(rep);
                case first -> !text.startsWith(rep) && piece.atOrigin();
                case never -> false;
            };
            if (prepend && !text.isEmpty()) {
                p = p.withText(rep + text, p.originPrefix() > 0 ? p.originPrefix() + rep.length() : 0,
                        p.tracked() ? Alignments.prepend(p.align(), rep.length()) : null);
            }
            if (splitWords) {
                Splits.apply(p, Splits.chars(cp -> cp == replacement, p.text()), Splits.Behavior.MergedWithNext, out);
            } else if (!p.text().isEmpty()) {
                out.add(p);
            }
        }
    }

    /** Alignment after each space became {@code n} units (a replacement outside the BMP): all take the space's. */
    private static int[] spaceAlign(Piece piece, int n) {
        IntList a = new IntList(piece.align().length + 8);
        String t = piece.text();
        for (int i = 0; i < t.length(); i++) Alignments.repeat(piece.align(), i, t.charAt(i) == ' ' ? n : 1, a);
        return a.toArray();
    }

    /** Splits into runs of word chars and runs of other non-space chars; whitespace is removed. */
    record Whitespace() implements PreTokenizer {
        public void split(Piece piece, List<Piece> out) {
            Splits.Spans spans = Splits.regex(WORDS_PATTERN, piece.text());
            spans.invert();
            Splits.apply(piece, spans, Splits.Behavior.Removed, out);
        }
    }

    /** Splits on White_Space, removing it. */
    record WhitespaceSplit() implements PreTokenizer {
        public void split(Piece piece, List<Piece> out) {
            Splits.apply(piece, Splits.chars(Chars::isWhitespace, piece.text()), Splits.Behavior.Removed, out);
        }
    }

    /** Splits on punctuation chars with the given behavior (default Isolated). */
    record Punctuation(Splits.Behavior behavior) implements PreTokenizer {
        public void split(Piece piece, List<Piece> out) {
            Splits.apply(piece, Splits.chars(Chars::isPunctuation, piece.text()), behavior, out);
        }
    }

    /** Splits on one delimiter char, removing it. */
    record CharDelimiterSplit(int delimiter) implements PreTokenizer {
        public void split(Piece piece, List<Piece> out) {
            Splits.apply(piece, Splits.chars(cp -> cp == delimiter, piece.text()), Splits.Behavior.Removed, out);
        }
    }

    /** BERT: split on whitespace (removed), then isolate punctuation. */
    record BertPreTokenizer() implements PreTokenizer {
        public void split(Piece piece, List<Piece> out) {
            List<Piece> words = new ArrayList<>();
            Splits.apply(piece, Splits.chars(Chars::isWhitespace, piece.text()), Splits.Behavior.Removed, words);
            for (Piece w : words) Splits.apply(w, Splits.chars(Chars::isPunctuation, w.text()), Splits.Behavior.Isolated, out);
        }
    }
}
