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

    /**
     * Rewrites a newline-normalized Jinja2 source for Jinjava. Whitespace that Jinja2 would drop is
     * dropped here; where it held newlines they are kept inside an empty comment
     * ({@code {#\n#}}), so line numbers in Jinjava's errors stay those of the original source.
     */
    static String apply(String src) {
        StringBuilder out = new StringBuilder(src.length());
        int pos = 0;
        boolean lineStarting = true;
        int n = src.length();
        while (pos < n) {
            int start = nextTagStart(src, pos);
            if (start < 0) {
                out.append(src, pos, n);
                break;
            }
            char kind = src.charAt(start + 1);                  // '{' variable, '%' block, '#' comment
            int p = start + 2;
            char sign = p < n && (src.charAt(p) == '-' || src.charAt(p) == '+') ? src.charAt(p) : 0;
            int raw = kind == '%' ? rawBegin(src, start) : -1;
            String text = lstrip(src.substring(pos, start), sign, kind != '{', lineStarting);
            out.append(text);
            keepLines(out, src, pos + text.length(), start);
            if (raw >= 0) {
                // {% raw %}: body verbatim up to {% endraw %}; the end of the raw tag is not trimmed
                int[] end = findEndRaw(src, raw);
                if (end == null) throw new LexError("Missing end of raw directive", line(src, start));
                char endSign = src.charAt(end[0] + 2) == '-' || src.charAt(end[0] + 2) == '+' ? src.charAt(end[0] + 2) : 0;
                String body = lstrip(src.substring(raw, end[0]), endSign, true, src.charAt(raw - 1) == '\n');
                keepLines(out, src, start, raw);
                out.append("{% raw %}").append(body).append("{% endraw %}");
                keepLines(out, src, raw + body.length(), end[1]);
                pos = end[1];
                lineStarting = src.charAt(pos - 1) == '\n';
                continue;
            }
            if (sign != 0) p++;
            if (kind == '#') {
                int[] end = findCommentEnd(src, p);
                if (end == null) throw new LexError("Missing end of comment tag", line(src, start));
                keepLines(out, src, start, end[1]);
                pos = end[1];
            } else {
                int[] end = findTagEnd(src, p, kind == '%');
                if (end == null) {
                    throw new LexError("unexpected end of template, expected '" + (kind == '{' ? "}}" : "%}") + "'",
                            line(src, start));
                }
                String inner = src.substring(p, end[0]);
                if (kind == '{') {
                    // Jinjava reads a leading '-' or '+' of an expression as its own marker: parenthesize
                    boolean wrap = inner.strip().startsWith("-") || inner.strip().startsWith("+");
                    out.append(wrap ? "{{(" : "{{").append(separateBraces(inner)).append(wrap ? ")}}" : "}}");
                } else {
                    out.append("{%").append(inner).append("%}");
                }
                keepLines(out, src, end[0], end[1]);
                pos = end[1];
            }
            lineStarting = src.charAt(pos - 1) == '\n';
        }
        return out.toString();
    }

    /** Appends an empty comment holding the newlines of the dropped range src[from, to). */
    private static void keepLines(StringBuilder out, String src, int from, int to) {
        int k = 0;
        for (int i = from; i < to; i++) if (src.charAt(i) == '\n') k++;
        if (k > 0) out.append("{#").append("\n".repeat(k)).append("#}");
    }

    /**
     * Puts a space between two closing braces outside strings ({@code {'a': {'b': 1}}} becomes
     * {@code {'a': {'b': 1} }}): Jinja2 balances brackets inside a tag, Jinjava ends the
     * expression at the first "}}".
     */
    private static String separateBraces(String e) {
        StringBuilder sb = new StringBuilder(e.length() + 4);
        for (int i = 0; i < e.length(); i++) {
            char c = e.charAt(i);
            if (c == '\'' || c == '"') {
                int j = i + 1;
                while (j < e.length() && e.charAt(j) != c) j += e.charAt(j) == '\\' ? 2 : 1;
                j = Math.min(j, e.length() - 1);
                sb.append(e, i, j + 1);
                i = j;
                continue;
            }
            sb.append(c);
            if (c == '}' && i + 1 < e.length() && e.charAt(i + 1) == '}') sb.append(' ');
        }
        return sb.toString();
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
    private static int[] findTagEnd(String s, int from, boolean block) {
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
