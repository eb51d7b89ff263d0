package finetune4j.text;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * tokenizer.json {@code normalizer}: rewrites each piece of input text (between added tokens)
 * before pre-tokenization. One record per HF normalizer type, named and parameterised as in
 * {@code tokenizers/src/normalizers}. Besides the text, each keeps {@link Piece#originPrefix()}
 * roughly aligned (see {@link Piece}); that only matters for Metaspace {@code prepend_scheme: first}.
 */
sealed interface Normalizer {

    Piece normalize(Piece p);

    /** Runs each normalizer in order. */
    record Sequence(List<Normalizer> normalizers) implements Normalizer {
        public Piece normalize(Piece p) {
            for (Normalizer n : normalizers) p = n.normalize(p);
            return p;
        }
    }

    /** Prepends {@code prepend} to non-empty text (SentencePiece's "▁" in Llama-2 style tokenizers). */
    record Prepend(String prepend) implements Normalizer {
        public Piece normalize(Piece p) {
            if (p.text().isEmpty()) return p;
            return p.withText(prepend + p.text(), p.originPrefix() > 0 ? p.originPrefix() + prepend.length() : 0);
        }
    }

    /**
     * Replaces every match of {@code pattern} by {@code content}; {@code literal} is the pattern's
     * text when it is a {@code {"String": ...}} pattern (a faster path), else {@code null}.
     */
    record Replace(Pattern pattern, String literal, String content) implements Normalizer {
        public Piece normalize(Piece p) {
            return p.withText(replace(pattern, literal, p.text(), content), p.originPrefix());
        }
    }

    /** Unicode normalization: NFC, NFD, NFKC or NFKD. */
    record Unicode(java.text.Normalizer.Form form) implements Normalizer {
        public Piece normalize(Piece p) {
            String s = java.text.Normalizer.normalize(p.text(), form);
            int prefix = p.originPrefix() > 0 && !s.isEmpty() ? Character.charCount(s.codePointAt(0)) : 0;
            return p.withText(s, prefix);
        }
    }

    /** Rust {@code char::to_lowercase} per code point (no final-sigma context, unlike {@link String#toLowerCase}). */
    record Lowercase() implements Normalizer {
        public Piece normalize(Piece p) {
            String s = p.text();
            StringBuilder sb = new StringBuilder(s.length());
            int prefix = 0;
            for (int i = 0; i < s.length(); ) {
                int cp = s.codePointAt(i);
                if (cp == 0x130) sb.append("i\u0307");          // the only unconditional multi-char lowercase mapping
                else sb.appendCodePoint(Character.toLowerCase(cp));
                i += Character.charCount(cp);
                if (i <= p.originPrefix()) prefix = sb.length();
            }
            return p.withText(sb.toString(), prefix);
        }
    }

    /** Strips White_Space from the left and/or right. */
    record Strip(boolean stripLeft, boolean stripRight) implements Normalizer {
        public Piece normalize(Piece p) {
            String s = p.text();
            int a = 0, b = s.length();
            if (stripLeft) {
                while (a < b && Chars.isWhitespace(s.codePointAt(a))) a += Character.charCount(s.codePointAt(a));
            }
            if (stripRight) {
                while (b > a && Chars.isWhitespace(s.codePointBefore(b))) b -= Character.charCount(s.codePointBefore(b));
            }
            return p.withText(s.substring(a, b), a == 0 ? p.originPrefix() : 0);
        }
    }

    /** Maps the text to GPT-2's byte-level alphabet (the ByteLevel normalizer). */
    record ByteLevel() implements Normalizer {
        public Piece normalize(Piece p) {
            return p.withText(Chars.toByteLevel(p.text()), Chars.utf8Length(p.text(), p.originPrefix()));
        }
    }

    /** Non-overlapping, left-to-right replacement (HF {@code NormalizedString::replace}); {@code content} is literal. */
    static String replace(Pattern pattern, String literal, String text, String content) {
        if (literal != null) return literal.isEmpty() ? text : text.replace(literal, content);
        Matcher m = pattern.matcher(text);
        if (!m.find()) return text;
        StringBuilder sb = new StringBuilder(text.length() + 8);
        int prev = 0;
        do {
            sb.append(text, prev, m.start()).append(content);
            prev = m.end();
        } while (m.find());
        return sb.append(text, prev, text.length()).toString();
    }
}
