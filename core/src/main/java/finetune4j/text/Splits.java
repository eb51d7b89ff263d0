package finetune4j.text;

import java.util.List;
import java.util.function.IntPredicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * HF's {@code NormalizedString::split(pattern, behavior)}: find the pattern's matches, which
 * together with the gaps between them cover the text, then cut the text according to a
 * {@link Behavior}. Empty pieces are dropped, as {@code PreTokenizedString::split} does.
 */
final class Splits {
    private Splits() {
    }

    /** tokenizer.json {@code behavior} values ({@code SplitDelimiterBehavior}). */
    enum Behavior {
        Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous
    }

    /**
     * Spans covering a text: {@code start[i], end[i]} (char offsets) and whether the span is a match.
     * Grows as needed; one per split call.
     */
    static final class Spans {
        int[] start = new int[16], end = new int[16];
        boolean[] match = new boolean[16];
        int size;

        void add(int s, int e, boolean m) {
            if (size == start.length) {
                start = java.util.Arrays.copyOf(start, size * 2);
                end = java.util.Arrays.copyOf(end, size * 2);
                match = java.util.Arrays.copyOf(match, size * 2);
            }
            start[size] = s;
            end[size] = e;
            match[size] = m;
            size++;
        }

        void invert() {
            for (int i = 0; i < size; i++) match[i] = !match[i];
        }
    }

    /** HF {@code Pattern for &Regex}: matches and the gaps between them. */
    static Spans regex(Pattern pattern, String text) {
        Spans spans = new Spans();
        if (text.isEmpty()) {
            spans.add(0, 0, false);
            return spans;
        }
        Matcher m = pattern.matcher(text);
        int prev = 0;
        while (m.find()) {
            if (prev != m.start()) spans.add(prev, m.start(), false);
            spans.add(m.start(), m.end(), true);
            prev = m.end();
        }
        if (prev != text.length()) spans.add(prev, text.length(), false);
        return spans;
    }

    /** HF {@code Pattern for Fn(char) -> bool}: every matching code point is its own match. */
    static Spans chars(IntPredicate isMatch, String text) {
        Spans spans = new Spans();
        if (text.isEmpty()) {
            spans.add(0, 0, false);
            return spans;
        }
        int last = 0;
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i);
            int n = Character.charCount(cp);
            if (isMatch.test(cp)) {
                if (last < i) spans.add(last, i, false);
                spans.add(i, i + n, true);
                last = i + n;
            }
            i += n;
        }
        if (last < text.length()) spans.add(last, text.length(), false);
        return spans;
    }

    /** Cuts {@code piece} along {@code spans} according to {@code behavior}, appending non-empty pieces to {@code out}. */
    static void apply(Piece piece, Spans spans, Behavior behavior, List<Piece> out) {
        // (start, end, remove) after the behavior's merging
        int n = spans.size;
        int[] s = new int[n], e = new int[n];
        boolean[] remove = new boolean[n];
        int k = 0;
        switch (behavior) {
            case Isolated, Removed -> {
                for (int i = 0; i < n; i++) {
                    s[k] = spans.start[i];
                    e[k] = spans.end[i];
                    remove[k] = behavior == Behavior.Removed && spans.match[i];
                    k++;
                }
            }
            case Contiguous -> {
                boolean prev = false;
                for (int i = 0; i < n; i++) {
                    boolean m = spans.match[i];
                    if (k > 0 && m == prev) {
                        e[k - 1] = spans.end[i];
                    } else {
                        s[k] = spans.start[i];
                        e[k] = spans.end[i];
                        k++;
                    }
                    prev = m;
                }
            }
            case MergedWithPrevious -> {
                boolean prev = false;
                for (int i = 0; i < n; i++) {
                    boolean m = spans.match[i];
                    if (k > 0 && m && !prev) {
                        e[k - 1] = spans.end[i];
                    } else {
                        s[k] = spans.start[i];
                        e[k] = spans.end[i];
                        k++;
                    }
                    prev = m;
                }
            }
            case MergedWithNext -> {
                // walk backwards, merging a match into the span that follows it
                boolean prev = false;
                for (int i = n - 1; i >= 0; i--) {
                    boolean m = spans.match[i];
                    if (k > 0 && m && !prev) {
                        s[k - 1] = spans.start[i];
                    } else {
                        s[k] = spans.start[i];
                        e[k] = spans.end[i];
                        k++;
                    }
                    prev = m;
                }
                reverse(s, k);
                reverse(e, k);
            }
        }
        for (int i = 0; i < k; i++) {
            if (!remove[i] && e[i] > s[i]) out.add(piece.slice(s[i], e[i]));
        }
    }

    private static void reverse(int[] a, int n) {
        for (int i = 0, j = n - 1; i < j; i++, j--) {
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }
}
