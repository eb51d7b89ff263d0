package finetune4j.text;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * tokenizer.json {@code decoder}: turns token strings back into text ({@code tokenizers/src/decoders}).
 * Each step maps a list of token strings to a new list ({@code decode_chain}); the final text is
 * their concatenation. Semantics follow HF exactly, including its quirks: ByteFallback turns an
 * invalid group of byte tokens into one U+FFFD per byte, ByteLevel decodes with
 * {@code from_utf8_lossy}, Metaspace drops every replacement char of the first token.
 *
 * <p>For streaming ({@link StreamingDecoder}) a chain can also decode a continuation: tokens that
 * follow already decoded ones. Then the first element is not the start of the text, so the
 * first-token rules (Metaspace's dropped replacement, Strip's {@code start} on fused text) do not
 * apply to it.
 */
sealed interface Decoder {

    /**
     * HF {@code decode_chain}.
     *
     * @param continuation the tokens continue a sequence decoded before (streaming); false for HF's behaviour
     * @param fused        the elements are text fused by an earlier step (Fuse, ByteLevel), not single tokens
     */
    List<String> decodeChain(List<String> tokens, boolean continuation, boolean fused);

    default List<String> decodeChain(List<String> tokens) {
        return decodeChain(tokens, false, false);
    }

    /** Whether this step joins its input into one element. */
    default boolean fuses() {
        return false;
    }

    /** Runs each decoder in order. */
    record Sequence(List<Decoder> decoders) implements Decoder {
        public List<String> decodeChain(List<String> tokens, boolean continuation, boolean fused) {
            for (Decoder d : decoders) {
                tokens = d.decodeChain(tokens, continuation, fused);
                fused |= d.fuses();
            }
            return tokens;
        }

        @Override
        public boolean fuses() {
            for (Decoder d : decoders) if (d.fuses()) return true;
            return false;
        }
    }

    /** Replaces {@code pattern} by {@code content} in each token ({@code literal}: the pattern's text for a String pattern). */
    record Replace(Pattern pattern, String literal, String content) implements Decoder {
        public List<String> decodeChain(List<String> tokens, boolean continuation, boolean fused) {
            List<String> out = new ArrayList<>(tokens.size());
            for (String t : tokens) out.add(Normalizer.replace(pattern, literal, t, content));
            return out;
        }
    }

    /** Groups of consecutive {@code <0xNN>} tokens become their UTF-8 text, or one U+FFFD per byte when invalid. */
    record ByteFallback() implements Decoder {
        public List<String> decodeChain(List<String> tokens, boolean continuation, boolean fused) {
            List<String> out = new ArrayList<>(tokens.size());
            byte[] group = new byte[16];
            int n = 0;
            for (String t : tokens) {
                int b = byteToken(t);
                if (b >= 0) {
                    if (n == group.length) group = java.util.Arrays.copyOf(group, n * 2);
                    group[n++] = (byte) b;
                } else {
                    flush(group, n, out);
                    n = 0;
                    out.add(t);
                }
            }
            flush(group, n, out);
            return out;
        }

        private static void flush(byte[] group, int n, List<String> out) {
            if (n == 0) return;
            String s = Utf8.decodeStrict(group, n);
            if (s != null) out.add(s);
            else for (int i = 0; i < n; i++) out.add("\uFFFD");
        }

        /** The byte of a {@code <0xNN>} token (6 UTF-8 bytes, hex as Rust's {@code u8::from_str_radix} reads it), else -1. */
        static int byteToken(String t) {
            if (t.length() != 6 || !t.startsWith("<0x") || t.charAt(5) != '>') return -1;
            int hi = Character.digit(t.charAt(3), 16), lo = Character.digit(t.charAt(4), 16);
            if (t.charAt(3) == '+' && lo >= 0 && t.charAt(4) < 0x80) return lo;   // from_str_radix accepts a '+' sign
            if (hi < 0 || lo < 0 || t.charAt(3) >= 0x80 || t.charAt(4) >= 0x80) return -1;
            return hi * 16 + lo;
        }
    }

    /** Concatenates all tokens into one. */
    record Fuse() implements Decoder {
        public List<String> decodeChain(List<String> tokens, boolean continuation, boolean fused) {
            return List.of(String.join("", tokens));
        }

        @Override
        public boolean fuses() {
            return true;
        }
    }

    /** Removes up to {@code start} leading and {@code stop} trailing {@code content} chars from each token. */
    record Strip(int content, int start, int stop) implements Decoder {
        public List<String> decodeChain(List<String> tokens, boolean continuation, boolean fused) {
            List<String> out = new ArrayList<>(tokens.size());
            for (int k = 0; k < tokens.size(); k++) {
                int[] cps = tokens.get(k).codePoints().toArray();
                int a = 0;
                int maxStart = continuation && fused && k == 0 ? 0 : start;   // a continued text's start was stripped before
                for (int i = 0; i < Math.min(maxStart, cps.length); i++) {
                    if (cps[i] == content) a = i + 1;
                    else break;
                }
                int b = cps.length;
                for (int i = 0; i < Math.min(stop, cps.length - a); i++) {
                    int idx = cps.length - i - 1;
                    if (cps[idx] == content) b = idx;
                    else break;
                }
                out.add(new String(cps, a, b - a));
            }
            return out;
        }
    }

    /** Maps byte-level chars back to bytes (tokens with other chars contribute their own UTF-8) and decodes lossily. */
    record ByteLevel() implements Decoder {
        public List<String> decodeChain(List<String> tokens, boolean continuation, boolean fused) {
            java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
            for (String t : tokens) {
                boolean all = true;
                for (int i = 0; i < t.length() && all; i++) all = Chars.byteOf(t.charAt(i)) >= 0;
                if (all) {
                    for (int i = 0; i < t.length(); i++) bytes.write(Chars.byteOf(t.charAt(i)));
                } else {
                    bytes.writeBytes(Utf8.encode(t));
                }
            }
            byte[] b = bytes.toByteArray();
            return List.of(Utf8.decodeLossy(b, b.length));
        }

        @Override
        public boolean fuses() {
            return true;
        }
    }

    /** Replacement chars become spaces, except in the first token where they are dropped (unless prepend_scheme is never). */
    record Metaspace(int replacement, boolean dropInFirst) implements Decoder {
        public List<String> decodeChain(List<String> tokens, boolean continuation, boolean fused) {
            List<String> out = new ArrayList<>(tokens.size());
            for (int i = 0; i < tokens.size(); i++) {
                String t = tokens.get(i);
                StringBuilder sb = new StringBuilder(t.length());
                boolean first = i == 0 && dropInFirst && !continuation;
                t.codePoints().forEach(cp -> {
                    if (cp != replacement) sb.appendCodePoint(cp);
                    else if (!first) sb.append(' ');
                });
                out.add(sb.toString());
            }
            return out;
        }
    }

    /** {@code BPEDecoder}: the end-of-word {@code suffix} becomes a space, except in the last token where it is removed. */
    record BpeSuffix(String suffix) implements Decoder {
        public List<String> decodeChain(List<String> tokens, boolean continuation, boolean fused) {
            List<String> out = new ArrayList<>(tokens.size());
            for (int i = 0; i < tokens.size(); i++) {
                out.add(tokens.get(i).replace(suffix, i == tokens.size() - 1 ? "" : " "));
            }
            return out;
        }
    }
}
