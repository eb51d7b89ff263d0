package finetune4j.text;

import java.util.List;
import java.util.SplittableRandom;

/**
 * Seeded generator of adversarial tokenizer inputs: words rebuilt from vocabulary entries, many
 * scripts, emoji (ZWJ families, skin tones, flags, variation selectors), CJK runs, every kind of
 * whitespace run (tabs, CRLF, NBSP, ideographic space, U+2028, U+0085), digits, code, control
 * characters, and added/special token strings (whole, partial, glued to words or spaces).
 * Only long-assigned code points are used, so Unicode-version differences between Java and Rust
 * cannot cause spurious mismatches.
 */
final class RandomText {
    private static final String[] SPACES = {" ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", "\r", " \n ", "\u00A0", "\u3000",
            "\u2028", "\u2029", "\u0085", "\u2009", "\u200B", "\u1680", "\u202F", "\u000B", "\u000C", " \t ", "\n   "};
    private static final String[] WORDS = {"the", "The", "a", "of", "and", "hello", "Hello", "world", "don't", "I'm", "they're",
            "we've", "she'll", "it's", "DON'T", "You'D", "café", "naïve", "Straße", "œuvre", "ﬁle", "Ⅻ", "½", "x²", "İstanbul",
            "ΣΊΣΥΦΟΣ", "ǅ", "ﬀ", "Ｈｅｌｌｏ", "tokenizer", "supercalifragilistic", "aaaaaaaaaaaaaaaaaaaaaaaa", "<0x41>", "<0xZZ>",
            "▁", "▁▁", "Ġ", "Ċ", "##ing", "</w>"};
    private static final String[] CODE = {"def f(x):\n\treturn x**2", "if (a < b) { return a; }", "for i in range(10):\n    print(i)",
            "x = {'k': [1, 2, 3]}", "#include <stdio.h>", "SELECT * FROM t WHERE id = 42;", "<div class=\"a\">hi</div>",
            "a->b", "x != y && y >= z", "λx.x", "fn main() { println!(\"{}\", 1); }", "// comment", "/* ** */", "$HOME/bin",
            "C:\\\\path", "1e-5", "3.14159", "0x1F", "1,000,000", "2024-01-01T00:00:00Z", "user@example.com", "https://x.y/z?q=1&r=2",
            "...", "!!!", "???", "—", "–", "«»", "„“", "''", "``", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL"};
    private static final String[] EMOJI = {"😀", "😂", "🥲", "👍", "👍🏽", "👋🏻", "👋🏿", "❤️", "❤", "☀", "★", "♥", "✨", "🚀", "🌙", "🐱",
            "🎉", "👨‍👩‍👧‍👦", "👩‍💻", "🏳️‍🌈", "🇯🇵", "🇰🇷🇨🇳", "🇺🇸", "1️⃣", "#️⃣", "🧑🏽‍🚀", "👁️‍🗨️", "🤷‍♀️", "🫠", "©", "®", "™", "‼"};
    // [start, end] code point ranges of long-assigned letters/marks/digits in many scripts
    private static final int[][] SCRIPTS = {
            {0x00C0, 0x00FF}, {0x0100, 0x017F}, {0x0391, 0x03C9}, {0x0410, 0x044F}, {0x05D0, 0x05EA}, {0x0621, 0x064A},
            {0x064B, 0x0652}, {0x0905, 0x0939}, {0x093E, 0x094D}, {0x0966, 0x096F}, {0x0E01, 0x0E3A}, {0x0E50, 0x0E59},
            {0x3041, 0x3093}, {0x30A1, 0x30F6}, {0x4E00, 0x9FA5}, {0xAC00, 0xD7A3}, {0x1100, 0x1112}, {0x0300, 0x036F},
            {0xFF10, 0xFF5A}, {0x2160, 0x2188}, {0x2460, 0x249B}, {0x0660, 0x0669}, {0x1D400, 0x1D433}, {0x20000, 0x2A6D6},
            {0x2000, 0x206F}, {0x20A0, 0x20B9}, {0x2190, 0x21FF}, {0x2200, 0x22FF}, {0x0021, 0x007E}, {0x00A1, 0x00BF}};

    private final SplittableRandom rnd;
    private final List<String> specials;   // added-token contents of the tokenizer under test
    private final List<String> vocabWords; // vocab entries rendered as plain text

    RandomText(long seed, List<String> specials, List<String> vocabWords) {
        this.rnd = new SplittableRandom(seed);
        this.specials = specials;
        this.vocabWords = vocabWords;
    }

    String next() {
        int kind = rnd.nextInt(100);
        int fragments = kind < 2 ? 0 : kind < 4 ? 60 + rnd.nextInt(100) : 1 + rnd.nextInt(12);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < fragments; i++) sb.append(fragment());
        return sb.toString();
    }

    private String fragment() {
        int k = rnd.nextInt(100);
        if (k < 18) return pick(SPACES);
        if (k < 33 && !vocabWords.isEmpty()) return vocabWords.get(rnd.nextInt(vocabWords.size()));
        if (k < 43) return pick(WORDS);
        if (k < 50) return pick(CODE);
        if (k < 58) return pick(EMOJI);
        if (k < 72) return scriptRun();
        if (k < 78) return digits();
        if (k < 88 && !specials.isEmpty()) return special();
        if (k < 91) return Character.toString(rnd.nextInt(1, 0x20));        // control chars
        if (k < 94) return Character.toString(0x7F + rnd.nextInt(0x21));    // DEL, C1 controls
        return " " + pick(WORDS);
    }

    private String scriptRun() {
        int[] r = SCRIPTS[rnd.nextInt(SCRIPTS.length)];
        int n = 1 + rnd.nextInt(rnd.nextInt(10) == 0 ? 40 : 6);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) {
            int cp = rnd.nextInt(r[0], r[1] + 1);
            if (Character.isDefined(cp) && !Character.isSurrogate((char) cp) && Character.getType(cp) != Character.UNASSIGNED) sb.appendCodePoint(cp);
        }
        return sb.toString();
    }

    private String digits() {
        int n = 1 + rnd.nextInt(rnd.nextInt(5) == 0 ? 20 : 4);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) sb.append((char) ('0' + rnd.nextInt(10)));
        return sb.toString();
    }

    private String special() {
        String s = specials.get(rnd.nextInt(specials.size()));
        return switch (rnd.nextInt(6)) {
            case 0 -> s.substring(0, Math.max(1, s.length() / 2));          // partial
            case 1 -> " " + s + " ";                                       // spaced (lstrip/rstrip)
            case 2 -> s + s;
            default -> s;
        };
    }

    private String pick(String[] a) {
        return a[rnd.nextInt(a.length)];
    }

    int nextInt(int bound) {
        return rnd.nextInt(bound);
    }
}
