package finetune4j.text.jinja;

import com.hubspot.jinjava.el.ext.ExtendedScanner;
import jinjava.de.odysseus.el.tree.impl.Scanner;

/**
 * Jinjava's expression scanner with Python string literals: Jinja2 decodes a literal with Python's
 * {@code unicode-escape} rules ({@code \n \t \\ \' \" \u00e9 \U0001F44B \x41 \101 \a \v}, and an
 * unknown escape such as {@code \d} stays as written), where Jinjava accepts only a handful and
 * rejects the rest.
 */
final class PyScanner extends ExtendedScanner {
    PyScanner(String input) {
        super(input);
    }

    /** EL keywords that are ordinary names in Jinja2 ({@code x.empty}, a variable called {@code div}). */
    private static final java.util.Set<String> NOT_KEYWORDS = java.util.Set.of("div", "mod", "eq", "ne", "lt", "gt",
            "le", "ge", "empty", "instanceof", "null");

    @Override
    protected Token keyword(String s) {
        return NOT_KEYWORDS.contains(s) ? null : super.keyword(s);
    }

    @Override
    protected Token nextString() throws ScanException {
        String in = getInput();
        int start = getPosition();
        char quote = in.charAt(start);
        StringBuilder sb = builder;
        sb.setLength(0);
        int i = start + 1;
        while (i < in.length()) {
            char c = in.charAt(i++);
            if (c == quote) return token(Scanner.Symbol.STRING, sb.toString(), i - start);
            if (c != '\\') {
                sb.append(c);
                continue;
            }
            if (i >= in.length()) break;
            char e = in.charAt(i++);
            switch (e) {
                case '\n' -> { }                                  // line continuation
                case '\\', '\'', '"' -> sb.append(e);
                case 'n' -> sb.append('\n');
                case 't' -> sb.append('\t');
                case 'r' -> sb.append('\r');
                case 'b' -> sb.append('\b');
                case 'f' -> sb.append('\f');
                case 'v' -> sb.append('\u000b');
                case 'a' -> sb.append('\u0007');
                case 'x', 'u', 'U' -> {
                    int len = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                    if (i + len > in.length() || !isHex(in, i, len)) {
                        throw new ScanException(start, "truncated \\" + e + " escape in string literal", "hex digits");
                    }
                    int cp = Integer.parseInt(in.substring(i, i + len), 16);
                    if (!Character.isValidCodePoint(cp)) throw new ScanException(start, "illegal Unicode character", "a code point");
                    sb.appendCodePoint(cp);
                    i += len;
                }
                default -> {
                    if (e >= '0' && e <= '7') {
                        int v = e - '0', k = 1;
                        while (k < 3 && i < in.length() && in.charAt(i) >= '0' && in.charAt(i) <= '7') {
                            v = v * 8 + (in.charAt(i++) - '0');
                            k++;
                        }
                        sb.appendCodePoint(v);
                    } else {
                        sb.append('\\').append(e);               // Python keeps unknown escapes as written
                    }
                }
            }
        }
        throw new ScanException(start, "unterminated string", String.valueOf(quote));
    }

    private static boolean isHex(String s, int from, int len) {
        for (int i = from; i < from + len; i++) if (Character.digit(s.charAt(i), 16) < 0) return false;
        return true;
    }
}
