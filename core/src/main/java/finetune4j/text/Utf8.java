package finetune4j.text;

/**
 * UTF-8 helpers with the exact semantics of Rust's standard library, which HF tokenizers' decoders
 * rely on: {@code String::from_utf8} (strict, all or nothing; the ByteFallback decoder) and
 * {@code String::from_utf8_lossy} (one U+FFFD per "maximal subpart" of an ill-formed sequence, as
 * Unicode §3.9 recommends; the ByteLevel decoder). Java's {@code new String(bytes, UTF_8)} is close
 * but not specified to match byte for byte, so the decoders use these instead.
 */
final class Utf8 {
    static final char REPLACEMENT = '\uFFFD';

    private Utf8() {
    }

    /** {@code String::from_utf8(bytes[0..n])}: the text, or {@code null} when not valid UTF-8. */
    static String decodeStrict(byte[] bytes, int n) {
        StringBuilder sb = new StringBuilder(n);
        int i = 0;
        while (i < n) {
            int len = validSequenceLength(bytes, i, n);
            if (len <= 0) return null;
            appendCodePoint(sb, bytes, i, len);
            i += len;
        }
        return sb.toString();
    }

    /** {@code String::from_utf8_lossy(bytes[0..n])}. */
    static String decodeLossy(byte[] bytes, int n) {
        StringBuilder sb = new StringBuilder(n);
        int i = 0;
        while (i < n) {
            int len = validSequenceLength(bytes, i, n);
            if (len > 0) {
                appendCodePoint(sb, bytes, i, len);
                i += len;
            } else {
                sb.append(REPLACEMENT);
                i += -len;             // skip the maximal subpart (at least one byte)
            }
        }
        return sb.toString();
    }

    /**
     * Length of the well-formed sequence starting at {@code i}, or minus the length of the maximal
     * subpart of an ill-formed one (always at least 1 byte), following Rust's {@code Utf8Chunks}.
     */
    private static int validSequenceLength(byte[] b, int i, int n) {
        int b0 = b[i] & 0xFF;
        if (b0 < 0x80) return 1;
        int need;
        int lo = 0x80, hi = 0xBF;   // allowed range of the second byte
        if (b0 >= 0xC2 && b0 <= 0xDF) {
            need = 1;
        } else if (b0 >= 0xE0 && b0 <= 0xEF) {
            need = 2;
            if (b0 == 0xE0) lo = 0xA0;
            if (b0 == 0xED) hi = 0x9F;
        } else if (b0 >= 0xF0 && b0 <= 0xF4) {
            need = 3;
            if (b0 == 0xF0) lo = 0x90;
            if (b0 == 0xF4) hi = 0x8F;
        } else {
            return -1;
        }
        int j = 1;
        for (; j <= need; j++) {
            if (i + j >= n) return -j;                // truncated: the valid prefix is one subpart
            int bj = b[i + j] & 0xFF;
            int l = j == 1 ? lo : 0x80, h = j == 1 ? hi : 0xBF;
            if (bj < l || bj > h) return -j;
        }
        return need + 1;
    }

    private static void appendCodePoint(StringBuilder sb, byte[] b, int i, int len) {
        int cp = switch (len) {
            case 1 -> b[i];
            case 2 -> ((b[i] & 0x1F) << 6) | (b[i + 1] & 0x3F);
            case 3 -> ((b[i] & 0x0F) << 12) | ((b[i + 1] & 0x3F) << 6) | (b[i + 2] & 0x3F);
            default -> ((b[i] & 0x07) << 18) | ((b[i + 1] & 0x3F) << 12) | ((b[i + 2] & 0x3F) << 6) | (b[i + 3] & 0x3F);
        };
        sb.appendCodePoint(cp);
    }

    /**
     * UTF-8 bytes of {@code s}; a lone surrogate (which a Rust string cannot hold) becomes U+FFFD,
     * which is also what reaches HF tokenizers through any Java binding.
     */
    static byte[] encode(CharSequence s) {
        return s.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }

    /** True when {@code s} contains a surrogate that is not half of a pair. */
    static boolean hasLoneSurrogate(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c)) {
                if (i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) i++;
                else return true;
            } else if (Character.isLowSurrogate(c)) {
                return true;
            }
        }
        return false;
    }

    /** {@code s} with every lone surrogate replaced by U+FFFD. */
    static String replaceLoneSurrogates(String s) {
        if (!hasLoneSurrogate(s)) return s;
        StringBuilder sb = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                sb.append(c).append(s.charAt(++i));
            } else if (Character.isSurrogate(c)) {
                sb.append(REPLACEMENT);
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }
}
