package finetune4j.engine.io;

import finetune4j.internal.PyJson;

import java.util.Comparator;

/**
 * Byte-exact JSON string encoders for the two writers whose files we reproduce.
 *
 * <ul>
 *   <li>{@link #serde}: serde_json's compact writer (the safetensors Rust header): escapes
 *   {@code "} and {@code \}, the short forms {@code \b \t \n \f \r}, other bytes below 0x20 as
 *   <code>&#92;u00xx</code> with lowercase hex; everything else, DEL and non-ASCII included, raw UTF-8
 *   (serde_json {@code ser.rs ESCAPE} table).</li>
 *   <li>{@link #pythonAscii}: Python's {@code json.dumps} default ({@code ensure_ascii=True}), used
 *   by transformers for {@code model.safetensors.index.json}: the same short escapes, and every
 *   character outside {@code ' '..'~'} as <code>&#92;uxxxx</code> (UTF-16 units, lowercase hex).</li>
 * </ul>
 */
final class JsonText {
    private static final char[] HEX = "0123456789abcdef".toCharArray();

    /** Orders strings by Unicode code point, which is also UTF-8 byte order (Rust {@code str} and Python {@code str} order). */
    static final Comparator<String> CODE_POINT_ORDER = PyJson.CODE_POINT_ORDER;

    private JsonText() {
    }

    /** Appends {@code s} as a quoted serde_json string. */
    static void serde(StringBuilder out, String s) {
        checkWellFormed(s);
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (!shortEscape(out, c)) {
                if (c < 0x20) unicodeEscape(out, c);
                else out.append(c);
            }
        }
        out.append('"');
    }

    /** Appends {@code s} as a quoted Python {@code json.dumps(ensure_ascii=True)} string ({@link PyJson#string}). */
    static void pythonAscii(StringBuilder out, String s) {
        checkWellFormed(s);
        PyJson.string(out, s);
    }

    private static boolean shortEscape(StringBuilder out, char c) {
        String e = switch (c) {
            case '"' -> "\\\"";
            case '\\' -> "\\\\";
            case '\b' -> "\\b";
            case '\t' -> "\\t";
            case '\n' -> "\\n";
            case '\f' -> "\\f";
            case '\r' -> "\\r";
            default -> null;
        };
        if (e == null) return false;
        out.append(e);
        return true;
    }

    private static void unicodeEscape(StringBuilder out, char c) {
        out.append("\\u").append(HEX[c >> 12 & 0xF]).append(HEX[c >> 8 & 0xF]).append(HEX[c >> 4 & 0xF]).append(HEX[c & 0xF]);
    }

    /** Names must be valid Unicode: a lone surrogate cannot be written as UTF-8 (nor held by a Rust String). */
    static void checkWellFormed(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                throw new IllegalArgumentException("string has a lone surrogate U+" + Integer.toHexString(c).toUpperCase()
                        + " at index " + i + ": " + s);
            }
        }
    }
}
