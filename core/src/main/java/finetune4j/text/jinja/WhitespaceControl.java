package finetune4j.text.jinja;

/**
 * Jinja2's lexer-level whitespace rules, applied to the source before Jinjava sees it.
 *
 * <p>transformers renders with {@code trim_blocks=True, lstrip_blocks=True}. Jinjava implements
 * both flags and the {@code -}/{@code +} markers differently from Jinja2 (it strips spaces before a
 * tag in the middle of a line, ignores {@code {{-} in some positions, and keeps {@code {%+}), so this
 * pass reproduces Jinja2's {@code Lexer.tokeniter} (jinja2/lexer.py, 3.1): it finds tags exactly as
 * Jinja2 does (strings and balanced brackets inside tags), applies
 * <ul>
 *   <li>{@code {%-}/{@code {{-}/{@code {#-}: strip all whitespace before the tag;</li>
 *   <li>{@code -%}}/{@code -}}}/{@code -#}}: strip all whitespace after it;</li>
 *   <li>lstrip_blocks: for {@code {%} and {@code {#} (not {@code {%+}), drop spaces between the line
 *       start and the tag when nothing else is there;</li>
 *   <li>trim_blocks: drop one newline after {@code %}} and {@code #}} (not {@code +%}}, not after
 *       {@code {% raw %}});</li>
 * </ul>
 * removes comments, and emits tags without their markers, so Jinjava (with its own trimming off)
 * renders text verbatim. Input must already have Jinja2's newline normalization.
 */
final class WhitespaceControl {
    private WhitespaceControl() {
    }

    /** A lexical error (unterminated tag or comment), with its 1-based line. */
    static final class LexError extends RuntimeException {
        final int line;

        LexError(String message, int line) {
            super(message, null, false, false);
            this.line = line;
        }
    }

    /** The rewritten source, and for each of its lines the line of the original source. */
    record Result(String source, int[] lineMap) {
        /** The original line of 1-based output line {@code line} (0 stays 0: unknown). */
        int originalLine(int line) {
            if (line <= 0) return 0;
            return line <= lineMap.length ? lineMap[line - 1] : lineMap[lineMap.length - 1];
        }
    }

    /** Appends text while recording which source line each output line starts on. */
    private static final class Emitter {
        final StringBuilder out;
        final String src;
        int[] map = new int[16];
        int lines = 1;
        int srcLine = 1;           // source line of src offset `at`
        int at = 0;

        Emitter(String src) {
            this.src = src;
            this.out = new StringBuilder(src.length());
            map[0] = 1;
        }

        /** The source line of offset pos (offsets only move forward). */
        int lineOf(int pos) {
            for (; at < pos && at < src.length(); at++) if (src.charAt(at) == '\n') srcLine++;
            return srcLine;
        }

        void copy(int from, int to) {
            for (int i = from; i < to; i++) {
                char c = src.charAt(i);
                out.append(c);
                if (c == '\n') newline(lineOf(i + 1));
            }
        }

        void text(String t, int srcFrom) {
            for (int i = 0; i < t.length(); i++) {
                char c = t.charAt(i);
                out.append(c);
                if (c == '\n') newline(lineOf(srcFrom + i + 1));
            }
        }

        void synthetic(String t, int srcPos) {
            for (int i = 0; i < t.length(); i++) {
                out.append(t.charAt(i));
                if (t.charAt(i) == '\n') newline(lineOf(srcPos));
            }
        }

        private void newline(int line) {
            if (lines == map.length) map = java.util.Arrays.copyOf(map, lines * 2);
            map[lines++] = line;
        }
    }

    static Result apply(String src) {
        Emitter em = new Emitter(src);
        StringBuilder out = em.out;
        int pos = 0;
        boolean lineStarting = true;
        int n = src.length();
        while (pos < n) {
            int start = nextTagStart(src, pos);
            if (start < 0) {
                em.copy(pos, n);
                break;
            }
            char kind = src.charAt(start + 1);                  // '{' variable, '%' block, '#' comment
            int p = start + 2;
            char sign = p < n && (src.charAt(p) == '-' || src.charAt(p) == '+') ? src.charAt(p) : 0;
            int raw = kind == '%' ? rawBegin(src, start) : -1;
            String text = src.substring(pos, start);
            text = lstrip(text, sign, kind != '{', lineStarting);
            em.text(text, pos);
            if (raw >= 0) {
                // {% raw %}: body verbatim up to {% endraw %}; the end of the raw tag is not trimmed
                int bodyStart = raw;
                int[] end = findEndRaw(src, bodyStart);
                if (end == null) throw new LexError("Missing end of raw directive", line(src, start));
                char endSign = src.charAt(end[0] + 2) == '-' || src.charAt(end[0] + 2) == '+' ? src.charAt(end[0] + 2) : 0;
                String body = lstrip(src.substring(bodyStart, end[0]), endSign, true,
                        bodyStart > 0 && src.charAt(bodyStart - 1) == '\n');
                em.synthetic("{% raw %}", start);
                em.text(body, bodyStart);
                em.synthetic("{% endraw %}", end[0]);
                pos = end[1];
                lineStarting = pos > 0 && src.charAt(pos - 1) == '\n';
                continue;
            }
            if (sign != 0) p++;
            if (kind == '#') {
                int[] end = findCommentEnd(src, p);
                if (end == null) throw new LexError("Missing end of comment tag", line(src, start));
                pos = end[1];
            } else {
                int[] end = findTagEnd(src, p, kind == '{' ? '}' : '%', kind == '%');
                if (end == null) {
                    throw new LexError("unexpected end of template, expected '" + (kind == '{' ? "}}" : "%}") + "'",
                            line(src, start));
                }
                // Jinjava reads a leading '-' of an expression as its own whitespace marker: parenthesize
                boolean wrap = kind == '{' && (src.substring(p, end[0]).strip().startsWith("-")
                        || src.substring(p, end[0]).strip().startsWith("+"));
                em.synthetic(kind == '{' ? (wrap ? "{{(" : "{{") : "{%", start);
                if (kind == '{') copySeparatingBraces(em, p, end[0]);
                else em.copy(p, end[0]);
                em.synthetic(kind == '{' ? (wrap ? ")}}" : "}}") : "%}", end[0]);
                pos = end[1];
            }
            lineStarting = pos > 0 && src.charAt(pos - 1) == '\n';
        }
        return new Result(out.toString(), java.util.Arrays.copyOf(em.map, em.lines));
    }

    /**
     * Copies an expression, putting a space between two closing braces outside strings
     * ({@code {'a': {'b': 1}}} becomes {@code {'a': {'b': 1} }}): Jinja2 balances brackets inside a
     * tag, Jinjava ends the expression at the first "}}".
     */
    private static void copySeparatingBraces(Emitter em, int from, int to) {
        String s = em.src;
        int last = from;
        for (int i = from; i < to; i++) {
            char c = s.charAt(i);
            if (c == '\'' || c == '"') {
                int j = i + 1;
                while (j < to && s.charAt(j) != c) j += s.charAt(j) == '\\' ? 2 : 1;
                i = j;
            } else if (c == '}' && i + 1 < to && s.charAt(i + 1) == '}') {
                em.copy(last, i + 1);
                em.synthetic(" ", i + 1);
                last = i + 1;
            }
        }
        em.copy(last, to);
    }

    /** The earliest "{{", "{%" or "{#" at or after pos. */
    private static int nextTagStart(String s, int pos) {
        for (int i = s.indexOf('{', pos); i >= 0 && i + 1 < s.length(); i = s.indexOf('{', i + 1)) {
            char c = s.charAt(i + 1);
            if (c == '{' || c == '%' || c == '#') return i;
        }
        return -1;
    }

    /** The text before a tag, after the tag's left marker and lstrip_blocks. */
    private static String lstrip(String text, char sign, boolean blockOrComment, boolean lineStarting) {
        if (sign == '-') return PyStrings.strip(text, null, false, true);
        if (sign != '+' && blockOrComment) {
            int lpos = text.lastIndexOf('\n') + 1;
            if ((lpos > 0 || lineStarting) && lpos < text.length() && allSpace(text, lpos)) return text.substring(0, lpos);
        }
        return text;
    }

    private static boolean allSpace(String s, int from) {
        for (int i = from; i < s.length(); ) {
            int cp = s.codePointAt(i);
            if (!PyStrings.isSpace(cp)) return false;
            i += Character.charCount(cp);
        }
        return true;
    }

    /** If a {% raw %} tag starts at start, the index just after it; else -1. */
    private static int rawBegin(String s, int start) {
        int i = start + 2;
        if (i < s.length() && (s.charAt(i) == '-' || s.charAt(i) == '+')) i++;
        i = skipSpace(s, i);
        if (!s.startsWith("raw", i)) return -1;
        i += 3;
        int j = skipSpace(s, i);
        if (s.startsWith("-%}", j)) return skipSpace(s, j + 3);
        if (s.startsWith("%}", j)) return j + 2;
        return -1;
    }

    /** [start of the endraw tag, end of it (after trimming)], or null. */
    private static int[] findEndRaw(String s, int from) {
        for (int i = s.indexOf("{%", from); i >= 0; i = s.indexOf("{%", i + 1)) {
            int j = i + 2;
            if (j < s.length() && (s.charAt(j) == '-' || s.charAt(j) == '+')) j++;
            j = skipSpace(s, j);
            if (!s.startsWith("endraw", j)) continue;
            j = skipSpace(s, j + 6);
            int[] end = blockEnd(s, j, true);
            if (end != null) return new int[]{i, end[1]};
        }
        return null;
    }

    private static int skipSpace(String s, int i) {
        while (i < s.length() && PyStrings.isSpace(s.charAt(i))) i++;
        return i;
    }

    /** [end of content, end of the comment tag with its trimming]. */
    private static int[] findCommentEnd(String s, int from) {
        for (int i = from; i < s.length(); i++) {
            if (s.startsWith("+#}", i)) return new int[]{i, i + 3};
            if (s.startsWith("-#}", i)) return new int[]{i, skipSpace(s, i + 3)};
            if (s.startsWith("#}", i)) return new int[]{i, i + 2 < s.length() && s.charAt(i + 2) == '\n' ? i + 3 : i + 2};
        }
        return null;
    }

    /** A block end at i ("+%}", "-%}" + spaces, "%}" + optional newline), or null. */
    private static int[] blockEnd(String s, int i, boolean trim) {
        if (s.startsWith("+%}", i)) return new int[]{i, i + 3};
        if (s.startsWith("-%}", i)) return new int[]{i, skipSpace(s, i + 3)};
        if (s.startsWith("%}", i)) return new int[]{i, trim && i + 2 < s.length() && s.charAt(i + 2) == '\n' ? i + 3 : i + 2};
        return null;
    }

    /**
     * The end of a variable or block tag: the first end delimiter outside strings with balanced
     * brackets. Returns [end of the expression (before any marker), end of the tag with trimming].
     */
    private static int[] findTagEnd(String s, int from, char closer, boolean block) {
        int depth = 0;
        for (int i = from; i < s.length(); i++) {
            char c = s.charAt(i);
            if (depth == 0) {
                if (block) {
                    int[] end = blockEnd(s, i, true);
                    if (end != null) return end;
                } else {
                    if (s.startsWith("-}}", i)) return new int[]{i, skipSpace(s, i + 3)};
                    if (s.startsWith("}}", i)) return new int[]{i, i + 2};
                }
            }
            if (c == '\'' || c == '"') {
                int j = i + 1;
                while (j < s.length() && s.charAt(j) != c) j += s.charAt(j) == '\\' ? 2 : 1;
                if (j >= s.length()) return null;
                i = j;
            } else if (c == '(' || c == '[' || c == '{') {
                depth++;
            } else if ((c == ')' || c == ']' || c == '}') && depth > 0) {
                depth--;
            }
        }
        return null;
    }

    private static int line(String s, int pos) {
        int line = 1;
        for (int i = 0; i < pos && i < s.length(); i++) if (s.charAt(i) == '\n') line++;
        return line;
    }
}
