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
            return p.withText(prepend + p.text(), p.originPrefix() > 0 ? p.originPrefix() + prepend.length() : 0,
                    p.tracked() ? Alignments.prepend(p.align(), prepend.length()) : null);
        }
    }

    /**
     * Replaces every match of {@code pattern} by {@code content}; {@code literal} is the pattern's
     * text when it is a {@code {"String": ...}} pattern (a faster path), else {@code null}.
     */
    record Replace(Pattern pattern, String literal, String content) implements Normalizer {
        public Piece normalize(Piece p) {
            if (p.tracked()) return replaceTracked(p);
            return p.withText(replace(pattern, literal, p.text(), content), p.originPrefix(), null);
        }

        /** HF {@code NormalizedString::replace}: every char of {@code content} takes the alignment of the match's last unit. */
        private Piece replaceTracked(Piece p) {
            String text = p.text();
            if (literal != null && literal.isEmpty()) return p;
            StringBuilder sb = new StringBuilder(text.length() + 8);
            IntList align = new IntList(p.align().length + 8);
            Matcher m = literal != null ? null : pattern.matcher(text);
            int prev = 0;
            while (true) {
                int start, end;
                if (m == null) {
                    start = text.indexOf(literal, prev);
                    if (start < 0) break;
                    end = start + literal.length();
                } else {
                    if (!m.find()) break;
                    start = m.start();
                    end = m.end();
                }
                sb.append(text, prev, start);
                for (int i = prev; i < start; i++) Alignments.repeat(p.align(), i, 1, align);
                sb.append(content);
                if (!text.isEmpty()) Alignments.repeat(p.align(), Math.max(end - 1, 0), content.length(), align);
                prev = end;
            }
            sb.append(text, prev, text.length());
            for (int i = prev; i < text.length(); i++) Alignments.repeat(p.align(), i, 1, align);
            return p.withText(sb.toString(), p.originPrefix(), align.toArray());
        }
    }

    /** Unicode normalization: NFC, NFD, NFKC or NFKD. */
    record Unicode(java.text.Normalizer.Form form) implements Normalizer {
        public Piece normalize(Piece p) {
            String s = java.text.Normalizer.normalize(p.text(), form);
            int prefix = p.originPrefix() > 0 && !s.isEmpty() ? Character.charCount(s.codePointAt(0)) : 0;
            return p.withText(s, prefix, p.tracked() ? UnicodeAlignment.align(p.text(), p.align(), s, form) : null);
        }
    }

    /** Rust {@code char::to_lowercase} per code point (no final-sigma context, unlike {@link String#toLowerCase}). */
    record Lowercase() implements Normalizer {
        public Piece normalize(Piece p) {
            String s = p.text();
            StringBuilder sb = new StringBuilder(s.length());
            IntList align = p.tracked() ? new IntList(s.length() * 2 + 4) : null;
            int prefix = 0;
            for (int i = 0; i < s.length(); ) {
                int cp = s.codePointAt(i);
                int before = sb.length();
                if (cp == 0x130) sb.append("i\u0307");          // the only unconditional multi-char lowercase mapping
                else sb.appendCodePoint(Character.toLowerCase(cp));
                if (align != null) Alignments.repeat(p.align(), i, sb.length() - before, align);   // every output unit → this code point
                i += Character.charCount(cp);
                if (i <= p.originPrefix()) prefix = sb.length();
            }
            return p.withText(sb.toString(), prefix, align == null ? null : align.toArray());
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
            return p.withText(s.substring(a, b), a == 0 ? p.originPrefix() : 0,
                    p.tracked() ? java.util.Arrays.copyOfRange(p.align(), 2 * a, 2 * b) : null);
        }
    }

    /** Maps the text to GPT-2's byte-level alphabet (the ByteLevel normalizer). */
    record ByteLevel() implements Normalizer {
        public Piece normalize(Piece p) {
            return p.withText(Chars.toByteLevel(p.text()), Chars.utf8Length(p.text(), p.originPrefix()),
                    p.tracked() ? Alignments.byteLevel(p.text(), p.align()) : null);
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
