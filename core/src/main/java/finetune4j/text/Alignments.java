package finetune4j.text;

/**
 * Builders of {@link Piece#align()} tables for the text rewrites of normalizers and pre-tokenizers,
 * following HF's {@code NormalizedString} rules: a char that replaces another takes its alignment, an
 * inserted char takes the alignment of the char before it (or, for {@code prepend}, of the first
 * char), and every UTF-16 unit of one original code point maps to that code point's whole range.
 * Tables hold two ints per UTF-16 unit: original {@code start, end}.
 */
final class Alignments {
    private Alignments() {
    }

    /** {@code n} inserted units in front, aligned to the first unit (HF {@code prepend}). */
    static int[] prepend(int[] align, int n) {
        int[] out = new int[align.length + 2 * n];
        for (int i = 0; i < n; i++) {
            out[2 * i] = align[0];
            out[2 * i + 1] = align[1];
        }
        System.arraycopy(align, 0, out, 2 * n, align.length);
        return out;
    }

    /** The alignment of {@code s} mapped to GPT-2's byte alphabet: every byte of a code point keeps the code point's alignment. */
    static int[] byteLevel(String s, int[] align) {
        IntList out = new IntList(align.length * 2);
        for (int i = 0; i < s.length(); ) {
            char c = s.charAt(i);
            int units = 1, bytes;
            if (c < 0x80) bytes = 1;
            else if (c < 0x800) bytes = 2;
            else if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                bytes = 4;
                units = 2;
            } else bytes = 3;
            int start = align[2 * i], end = align[2 * (i + units - 1) + 1];
            for (int b = 0; b < bytes; b++) {
                out.add(start);
                out.add(end);
            }
            i += units;
        }
        return out.toArray();
    }

    /** Appends the alignment pair of unit {@code i} of {@code align} to {@code out}, {@code times} times. */
    static void repeat(int[] align, int i, int times, IntList out) {
        for (int k = 0; k < times; k++) {
            out.add(align[2 * i]);
            out.add(align[2 * i + 1]);
        }
    }
}
