package finetune4j.text;

import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Compiles the regular expressions found in tokenizer.json (written for Oniguruma, which HF
 * tokenizers uses) into {@link java.util.regex.Pattern}s that match the same text.
 *
 * <p>Both engines are backtracking with leftmost-first alternation, so the structure carries over;
 * what differs is the meaning of some escapes and flags:
 * <ul>
 *   <li>{@code \s}, {@code \d}, {@code \w}, {@code \p{L}}, {@code \p{N}} are Unicode-aware in Oniguruma;
 *       Java needs {@link Pattern#UNICODE_CHARACTER_CLASS}. Scanning every code point below U+30000
 *       through HF (a Replace normalizer per class) showed {@code \s}, {@code \d}, {@code \p{L}},
 *       {@code \p{N}}, {@code \p{M}} identical, and Oniguruma's {@code \w} = Java's minus U+200C/U+200D
 *       (ZWNJ/ZWJ, Join_Control: they sit inside emoji ZWJ sequences), plus ¹ ² ³ ¼ ½ ¾ outside
 *       brackets only (its Latin-1 ctype table; inside {@code [...]} the Unicode table applies), so
 *       {@code \w}/{@code \W} are rewritten to exactly that.</li>
 *   <li>{@code \h} is a hex digit in Oniguruma and horizontal space in Java.</li>
 *   <li>{@code \p{Han}}-style script names need Java's {@code Is} prefix; {@code \p{^X}} is {@code \P{X}}.</li>
 *   <li>{@code .} excludes only {@code \n} and {@code ^ $} are line anchors (Ruby syntax), hence
 *       {@link Pattern#UNIX_LINES} and {@link Pattern#MULTILINE}.</li>
 * </ul>
 */
final class HfRegex {
    /** Oniguruma's {@code \w} outside brackets (see above). */
    private static final String WORD = "[[\\w&&[^\\u200C\\u200D]]\\u00B2\\u00B3\\u00B9\\u00BC-\\u00BE]";
    /** Oniguruma's {@code \W} outside brackets. */
    private static final String NON_WORD = "[\\W\\u200C\\u200D&&[^\\u00B2\\u00B3\\u00B9\\u00BC-\\u00BE]]";
    /** Oniguruma's {@code \w} inside brackets, as a nested class. */
    private static final String CLASS_WORD = "[\\w&&[^\\u200C\\u200D]]";
    /** Oniguruma's {@code \W} inside brackets, as a nested class. */
    private static final String CLASS_NON_WORD = "[\\W\\u200C\\u200D]";
    private static final int FLAGS = Pattern.UNICODE_CHARACTER_CLASS | Pattern.UNIX_LINES | Pattern.MULTILINE;

    private HfRegex() {
    }

    /** A literal pattern (tokenizer.json {@code {"String": ...}}). */
    static Pattern literal(String s) {
        return Pattern.compile(Pattern.quote(s));
    }

    /**
     * Compiles an Oniguruma pattern (tokenizer.json {@code {"Regex": ...}}).
     *
     * @throws PatternSyntaxException when the translated pattern does not compile
     */
    static Pattern compile(String onig) {
        return Pattern.compile(translate(onig), FLAGS);
    }

    static String translate(String re) {
        StringBuilder out = new StringBuilder(re.length() + 16);
        int depth = 0;                       // inside [...] when > 0
        for (int i = 0; i < re.length(); i++) {
            char c = re.charAt(i);
            if (c == '\\' && i + 1 < re.length()) {
                char e = re.charAt(++i);
                switch (e) {
                    case 'w' -> out.append(depth > 0 ? CLASS_WORD : WORD);
                    case 'W' -> out.append(depth > 0 ? CLASS_NON_WORD : NON_WORD);
                    case 'h' -> out.append(depth > 0 ? "0-9a-fA-F" : "[0-9a-fA-F]");
                    case 'H' -> out.append("[^0-9a-fA-F]");
                    case 'p', 'P' -> {
                        int close = re.indexOf('}', i);
                        if (i + 1 < re.length() && re.charAt(i + 1) == '{' && close > 0) {
                            String name = re.substring(i + 2, close);
                            boolean negate = e == 'P';
                            if (name.startsWith("^")) {
                                negate = !negate;
                                name = name.substring(1);
                            }
                            out.append('\\').append(negate ? 'P' : 'p').append('{').append(javaPropertyName(name)).append('}');
                            i = close;
                        } else {
                            out.append('\\').append(e);
                        }
                    }
                    default -> out.append('\\').append(e);
                }
            } else {
                if (c == '[') depth++;
                else if (c == ']' && depth > 0) depth--;
                out.append(c);
            }
        }
        return out.toString();
    }

    /** Oniguruma property names that Java only knows with an {@code Is} prefix (scripts, binary properties). */
    private static String javaPropertyName(String name) {
        try {
            Pattern.compile("\\p{" + name + "}");
            return name;
        } catch (PatternSyntaxException ex) {
            return "Is" + name;
        }
    }
}
