package finetune4j.text;

import java.text.Normalizer.Form;

/**
 * Alignments of Unicode normalization (the NFC/NFD/NFKC/NFKD normalizers) as HF computes them: the
 * {@code unicode-normalization-alignments} crate yields each output char with a "change" (0: it
 * replaces the next input char, +1: it is inserted, −n: it replaces the next input char and n more),
 * and {@code NormalizedString::transform} walks the input positionally: a replacing char takes the
 * alignment of the input char at the current position and consumes it (and n more), an inserted char
 * takes the alignment of the input unit just before the position.
 *
 * <p>Decomposition (NFD/NFKD) emits, per input code point, its decomposition with changes
 * {@code 0, +1, +1, ...}, then sorts runs of non-starters by combining class (stably; the changes
 * move with their chars). Composition (NFC/NFKC) runs the canonical composition algorithm
 * ({@code recompose.rs}) over that stream; a composite takes the change {@code c₁ + c₂ − 1} of its
 * two parts (it consumes what both consumed). Combining classes are not exposed by the JDK, so they
 * are compared through {@link java.text.Normalizer} itself (canonical reordering of probe strings).
 * The output text is always {@link java.text.Normalizer}'s; if the emulation does not reproduce it,
 * every output unit falls back to a proportional alignment (ids never depend on alignments).
 */
final class UnicodeAlignment {
    private UnicodeAlignment() {
    }

    /** Alignment of {@code out = normalize(in, form)} given the alignment {@code inAlign} of {@code in}. */
    static int[] align(String in, int[] inAlign, String out, Form form) {
        if (in.equals(out)) return inAlign;
        boolean compose = form == Form.NFC || form == Form.NFKC;
        Form decomposeForm = form == Form.NFC || form == Form.NFD ? Form.NFD : Form.NFKD;
        Stream s = decompose(in, decomposeForm);
        if (compose) s = recompose(s);
        StringBuilder sb = new StringBuilder(out.length());
        for (int i = 0; i < s.size; i++) sb.appendCodePoint(s.cps[i]);
        if (!sb.toString().equals(out)) return proportional(in, inAlign, out);
        int[] walked = walk(in, inAlign, s);
        return walked != null ? walked : proportional(in, inAlign, out);
    }

    /** Output code points with their changes. */
    private static final class Stream {
        int[] cps = new int[16], changes = new int[16];
        int size;

        void add(int cp, int change) {
            if (size == cps.length) {
                cps = java.util.Arrays.copyOf(cps, size * 2);
                changes = java.util.Arrays.copyOf(changes, size * 2);
            }
            cps[size] = cp;
            changes[size] = change;
            size++;
        }
    }

    private static Stream decompose(String in, Form form) {
        Stream s = new Stream();
        for (int i = 0; i < in.length(); ) {
            int cp = in.codePointAt(i);
            i += Character.charCount(cp);
            String d = java.text.Normalizer.normalize(Character.toString(cp), form);
            int k = 0;
            for (int j = 0; j < d.length(); ) {
                int c = d.codePointAt(j);
                s.add(c, k++ == 0 ? 0 : 1);
                j += Character.charCount(c);
            }
        }
        // canonical ordering: stable insertion sort of each run of non-starters by combining class
        for (int i = 1; i < s.size; i++) {
            if (isStarter(s.cps[i])) continue;
            int j = i;
            while (j > 0 && !isStarter(s.cps[j - 1]) && classLess(s.cps[j], s.cps[j - 1])) {
                swap(s, j, j - 1);
                j--;
            }
        }
        return s;
    }

    private static void swap(Stream s, int a, int b) {
        int c = s.cps[a], ch = s.changes[a];
        s.cps[a] = s.cps[b];
        s.changes[a] = s.changes[b];
        s.cps[b] = c;
        s.changes[b] = ch;
    }

    /** The canonical composition of {@code recompose.rs}, carrying changes. */
    private static Stream recompose(Stream in) {
        Stream out = new Stream();
        int composee = -1, composeeChange = 0;
        int lastCcc = -1;                                 // code point of the last buffered char, -1: none
        Stream buffer = new Stream();
        for (int i = 0; i < in.size; i++) {
            int ch = in.cps[i], change = in.changes[i];
            boolean starter = isStarter(ch);
            if (composee < 0) {
                if (!starter) {
                    out.add(ch, change);
                    continue;
                }
                composee = ch;
                composeeChange = change;
                continue;
            }
            if (lastCcc < 0) {
                int r = compose(composee, ch);
                if (r >= 0) {
                    composee = r;
                    composeeChange = composeeChange + change - 1;
                    continue;
                }
                if (starter) {
                    out.add(composee, composeeChange);
                    composee = ch;
                    composeeChange = change;
                    continue;
                }
                buffer.add(ch, change);
                lastCcc = ch;
            } else {
                boolean blocked = starter || !classLess(lastCcc, ch);   // ccc(last) >= ccc(ch)
                if (blocked) {
                    if (starter) {
                        out.add(composee, composeeChange);
                        for (int b = 0; b < buffer.size; b++) out.add(buffer.cps[b], buffer.changes[b]);
                        buffer.size = 0;
                        composee = ch;
                        composeeChange = change;
                        lastCcc = -1;
                        continue;
                    }
                    buffer.add(ch, change);
                    lastCcc = ch;
                    continue;
                }
                int r = compose(composee, ch);
                if (r >= 0) {
                    composee = r;
                    composeeChange = composeeChange + change - 1;
                    continue;
                }
                buffer.add(ch, change);
                lastCcc = ch;
            }
        }
        if (composee >= 0) out.add(composee, composeeChange);
        for (int b = 0; b < buffer.size; b++) out.add(buffer.cps[b], buffer.changes[b]);
        return out;
    }

    /** HF {@code transform}: positional walk over the input. */
    private static int[] walk(String in, int[] inAlign, Stream s) {
        IntList out = new IntList(s.size * 2 + 4);
        int offset = 0;                                   // UTF-16 position in the input
        for (int k = 0; k < s.size; k++) {
            int change = s.changes[k];
            int start, end;
            if (change > 0) {
                if (offset < 1) {
                    start = 0;
                    end = 0;
                } else {
                    start = inAlign[2 * (offset - 1)];
                    end = inAlign[2 * (offset - 1) + 1];
                }
            } else {
                if (offset >= in.length()) return null;
                start = inAlign[2 * offset];
                end = inAlign[2 * offset + 1];
                for (int c = 0; c < 1 - change && offset < in.length(); c++) offset += Character.charCount(in.codePointAt(offset));
            }
            for (int u = 0; u < Character.charCount(s.cps[k]); u++) {
                out.add(start);
                out.add(end);
            }
        }
        return out.toArray();
    }

    /** Output unit k takes input unit ⌊k·n/m⌋ (only when the emulation failed). */
    private static int[] proportional(String in, int[] inAlign, String out) {
        IntList a = new IntList(out.length() * 2);
        for (int k = 0; k < out.length(); k++) {
            int i = in.isEmpty() ? 0 : (int) ((long) k * in.length() / Math.max(1, out.length()));
            a.add(in.isEmpty() ? 0 : inAlign[2 * i]);
            a.add(in.isEmpty() ? 0 : inAlign[2 * i + 1]);
        }
        return a.toArray();
    }

    /** Canonical combining class 0: no combining mark (U+0334, class 1, and U+0301, class 230, as probes). */
    static boolean isStarter(int cp) {
        String c = Character.toString(cp);
        if (!java.text.Normalizer.normalize("a" + c + "\u0334", Form.NFD).equals("a" + c + "\u0334")) return false;
        return java.text.Normalizer.normalize("a\u0301" + c, Form.NFD).equals("a\u0301" + c);
    }

    /** ccc(a) < ccc(b) for two non-starters: canonical ordering moves a before b. */
    private static boolean classLess(int a, int b) {
        String ca = Character.toString(a), cb = Character.toString(b);
        return java.text.Normalizer.normalize("a" + cb + ca, Form.NFD).equals("a" + ca + cb) && a != b;
    }

    /** The primary composite of {@code a} followed by {@code b}, or -1. */
    private static int compose(int a, int b) {
        String s = java.text.Normalizer.normalize(Character.toString(a) + Character.toString(b), Form.NFC);
        if (s.codePointCount(0, s.length()) != 1) return -1;
        return s.codePointAt(0);
    }
}
