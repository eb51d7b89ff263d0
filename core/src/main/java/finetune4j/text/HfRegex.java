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
 *   <li>{@code \s}, {@code \d}, {@code \p{L}}, {@code \p{N}} are Unicode-aware in Oniguruma; Java needs
 *       {@link Pattern#UNICODE_CHARACTER_CLASS} ({@code \s} = White_Space in both, {@code \d} = Nd).</li>
 *   <li>{@code \w} is Letter|Mark|Nd|Pc in Oniguruma, but Java's Unicode {@code \w} adds Alphabetic
 *       extras (Nl, Other_Alphabetic) and Join_Control (U+200D, which sits inside emoji ZWJ sequences),
 *       so {@code \w}/{@code \W} are spelled out explicitly.</li>
 *   <li>{@code \h} is a hex digit in Oniguruma and horizontal space in Java.</li>
 *   <li>{@code \p{Han}}-style script names need Java's {@code Is} prefix; {@code \p{^X}} is {@code \P{X}}.</li>
 *   <li>{@code .} excludes only {@code \n} and {@code ^ $} are line anchors (Ruby syntax), hence
 *       {@link Pattern#UNIX_LINES} and {@link Pattern#MULTILINE}.</li>
 * </ul>
 */
final class HfRegex {
    private static final String WORD = "\\p{L}\\p{M}\\p{Nd}\\p{Pc}";
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
                    case 'w' -> out.append(depth > 0 ? WORD : "[" + WORD + "]");
                    case 'W' -> out.append("[^" + WORD + "]");
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
