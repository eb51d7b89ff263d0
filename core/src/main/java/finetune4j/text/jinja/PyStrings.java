package finetune4j.text.jinja;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Python {@code str} semantics that Java strings lack: code-point indexing and length, Python's
 * whitespace set (which includes U+00A0, U+2007, U+202F, U+3000 and U+0085, unlike
 * {@link Character#isWhitespace}), and {@code strip/split/splitlines/title/capitalize}.
 */
final class PyStrings {
    private PyStrings() {
    }

    /** Python's str.isspace for one code point (Unicode White_Space plus the 0x1C-0x1F separators). */
    static boolean isSpace(int cp) {
        return (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x20) || cp == 0x85 || cp == 0xa0
                || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029
                || cp == 0x202f || cp == 0x205f || cp == 0x3000;
    }

    /** len(s): code points, not UTF-16 units. */
    static int length(String s) {
        return s.codePointCount(0, s.length());
    }

    /** The UTF-16 offset of code point index {@code cpIndex} (0..length). */
    static int offset(String s, int cpIndex) {
        return s.offsetByCodePoints(0, cpIndex);
    }

    static int[] codePoints(String s) {
        return s.codePoints().toArray();
    }

    static String fromCodePoints(int[] cps, int from, int to) {
        return new String(cps, from, to - from);
    }

    /** strip/lstrip/rstrip: {@code chars == null} strips Python whitespace. */
    static String strip(String s, String chars, boolean left, boolean right) {
        int[] cps = codePoints(s);
        int[] set = chars == null ? null : codePoints(chars);
        int a = 0, b = cps.length;
        if (left) while (a < b && stripped(cps[a], set)) a++;
        if (right) while (b > a && stripped(cps[b - 1], set)) b--;
        return fromCodePoints(cps, a, b);
    }

    private static boolean stripped(int cp, int[] set) {
        if (set == null) return isSpace(cp);
        for (int c : set) if (c == cp) return true;
        return false;
    }

    /** str.split(sep=None, maxsplit=-1). */
    static List<Object> split(String s, String sep, int maxsplit) {
        List<Object> out = new ArrayList<>();
        if (sep == null) {
            int[] cps = codePoints(s);
            int i = 0, n = cps.length;
            while (true) {
                while (i < n && isSpace(cps[i])) i++;
                if (i >= n) break;
                if (maxsplit >= 0 && out.size() == maxsplit) {
                    int j = n;
                    while (j > i && isSpace(cps[j - 1])) j--;
                    out.add(fromCodePoints(cps, i, j));
                    break;
                }
                int j = i;
                while (j < n && !isSpace(cps[j])) j++;
                out.add(fromCodePoints(cps, i, j));
                i = j;
            }
            return out;
        }
        if (sep.isEmpty()) throw PyErrors.valueError("empty separator");
        int start = 0;
        while (maxsplit < 0 || out.size() < maxsplit) {
            int k = s.indexOf(sep, start);
            if (k < 0) break;
            out.add(s.substring(start, k));
            start = k + sep.length();
        }
        out.add(s.substring(start));
        return out;
    }

    /** str.rsplit(sep=None, maxsplit=-1). */
    static List<Object> rsplit(String s, String sep, int maxsplit) {
        if (maxsplit < 0) return split(s, sep, -1);
        List<Object> out = new ArrayList<>();
        if (sep == null) {
            int[] cps = codePoints(s);
            int j = cps.length;
            while (true) {
                while (j > 0 && isSpace(cps[j - 1])) j--;
                if (j <= 0) break;
                if (out.size() == maxsplit) {
                    int i = 0;
                    while (i < j && isSpace(cps[i])) i++;
                    out.add(0, fromCodePoints(cps, i, j));
                    break;
                }
                int i = j;
                while (i > 0 && !isSpace(cps[i - 1])) i--;
                out.add(0, fromCodePoints(cps, i, j));
                j = i;
            }
            return out;
        }
        if (sep.isEmpty()) throw PyErrors.valueError("empty separator");
        int end = s.length();
        while (out.size() < maxsplit) {
            int k = s.lastIndexOf(sep, end - sep.length());
            if (k < 0) break;
            out.add(0, s.substring(k + sep.length(), end));
            end = k;
        }
        out.add(0, s.substring(0, end));
        return out;
    }

    /** str.splitlines(keepends=False). */
    static List<Object> splitlines(String s, boolean keepends) {
        List<Object> out = new ArrayList<>();
        int i = 0, n = s.length(), start = 0;
        while (i < n) {
            char c = s.charAt(i);
            int eol;
            if (c == '\r' && i + 1 < n && s.charAt(i + 1) == '\n') eol = 2;
            else if (c == '\n' || c == '\r' || c == 0x0b || c == 0x0c || c == 0x1c || c == 0x1d || c == 0x1e
                    || c == 0x85 || c == 0x2028 || c == 0x2029) eol = 1;
            else eol = 0;
            if (eol > 0) {
                out.add(s.substring(start, keepends ? i + eol : i));
                i += eol;
                start = i;
            } else {
                i++;
            }
        }
        if (start < n) out.add(s.substring(start));
        return out;
    }

    static String upper(String s) {
        return s.toUpperCase(Locale.ROOT);
    }

    static String lower(String s) {
        return s.toLowerCase(Locale.ROOT);
    }

    /** str.capitalize (3.8+): first character title-cased, the rest lower-cased. */
    static String capitalize(String s) {
        if (s.isEmpty()) return s;
        int cp = s.codePointAt(0);
        int n = Character.charCount(cp);
        return titleCase(cp) + lower(s.substring(n));
    }

    /** str.title: a cased character after an uncased one is title-cased, others lower-cased. */
    static String title(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        boolean prevCased = false;
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            i += Character.charCount(cp);
            boolean cased = isCased(cp);
            if (cased) {
                sb.append(prevCased ? lower(new String(Character.toChars(cp))) : titleCase(cp));
            } else {
                sb.appendCodePoint(cp);
            }
            prevCased = cased;
        }
        return sb.toString();
    }

    static String swapcase(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        s.codePoints().forEach(cp -> {
            String c = new String(Character.toChars(cp));
            if (Character.isUpperCase(cp)) sb.append(lower(c));
            else if (Character.isLowerCase(cp)) sb.append(upper(c));
            else sb.append(c);
        });
        return sb.toString();
    }

    /**
     * Full title-case mapping of one code point (Python uses SpecialCasing: "ß" -> "Ss"); Java has
     * only the simple mapping, so a lower-case letter with no simple title case takes its full
     * upper-case mapping with all but the first char lower-cased.
     */
    static String titleCase(int cp) {
        int t = Character.toTitleCase(cp);
        if (t != cp || !Character.isLowerCase(cp)) return new String(Character.toChars(t));
        String u = upper(new String(Character.toChars(cp)));
        if (u.codePointCount(0, u.length()) <= 1) return u;
        int first = u.codePointAt(0);
        return new String(Character.toChars(first)) + lower(u.substring(Character.charCount(first)));
    }

    static boolean isCased(int cp) {
        return Character.isUpperCase(cp) || Character.isLowerCase(cp) || Character.isTitleCase(cp);
    }

    /**
     * Jinja2's {@code |title} filter: upper-cases the first letter of each word where words are
     * separated by whitespace, hyphens and opening brackets (not Python's str.title).
     */
    static String jinjaTitle(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        boolean wordStart = true;
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            i += Character.charCount(cp);
            boolean sep = isSpace(cp) || cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<';
            String c = new String(Character.toChars(cp));
            if (sep) {
                sb.append(c);
                wordStart = true;
            } else if (wordStart) {
                sb.append(upper(c));
                wordStart = false;
            } else {
                sb.append(lower(c));
            }
        }
        return sb.toString();
    }

    static boolean isDigit(String s) {
        return !s.isEmpty() && s.codePoints().allMatch(Character::isDigit);
    }

    static boolean isAlpha(String s) {
        return !s.isEmpty() && s.codePoints().allMatch(Character::isLetter);
    }

    static boolean isAlnum(String s) {
        return !s.isEmpty() && s.codePoints().allMatch(Character::isLetterOrDigit);
    }

    static boolean isSpaceStr(String s) {
        return !s.isEmpty() && s.codePoints().allMatch(PyStrings::isSpace);
    }

    /** str.isupper: at least one cased character and no lower-case ones. */
    static boolean isUpper(String s) {
        boolean cased = false;
        for (int cp : codePoints(s)) {
            if (Character.isLowerCase(cp) || Character.isTitleCase(cp)) return false;
            if (Character.isUpperCase(cp)) cased = true;
        }
        return cased;
    }

    static boolean isLower(String s) {
        boolean cased = false;
        for (int cp : codePoints(s)) {
            if (Character.isUpperCase(cp) || Character.isTitleCase(cp)) return false;
            if (Character.isLowerCase(cp)) cased = true;
        }
        return cased;
    }

    /** str.find / rfind in code points; -1 when absent. */
    static int find(String s, String sub, boolean fromRight) {
        int k = fromRight ? s.lastIndexOf(sub) : s.indexOf(sub);
        return k < 0 ? -1 : s.codePointCount(0, k);
    }

    /** str.count(sub): non-overlapping occurrences (an empty sub counts len+1). */
    static int count(String s, String sub) {
        if (sub.isEmpty()) return length(s) + 1;
        int n = 0;
        for (int k = s.indexOf(sub); k >= 0; k = s.indexOf(sub, k + sub.length())) n++;
        return n;
    }

    /** str.replace(old, new, count=-1). */
    static String replace(String s, String old, String rep, int count) {
        if (count < 0) {
            if (old.isEmpty()) {
                StringBuilder sb = new StringBuilder(rep);
                s.codePoints().forEach(cp -> sb.appendCodePoint(cp).append(rep));
                return sb.toString();
            }
            return s.replace(old, rep);
        }
        StringBuilder sb = new StringBuilder();
        int start = 0, done = 0;
        if (old.isEmpty()) {
            int[] cps = codePoints(s);
            int i = 0;
            for (; i < cps.length && done < count; i++, done++) sb.append(rep).appendCodePoint(cps[i]);
            if (i == cps.length && done < count) sb.append(rep);
            else sb.append(fromCodePoints(cps, i, cps.length));
            return sb.toString();
        }
        while (done < count) {
            int k = s.indexOf(old, start);
            if (k < 0) break;
            sb.append(s, start, k).append(rep);
            start = k + old.length();
            done++;
        }
        return sb.append(s.substring(start)).toString();
    }
}
