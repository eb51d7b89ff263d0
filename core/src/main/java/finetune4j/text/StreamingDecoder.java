package finetune4j.text;

import java.util.ArrayList;
import java.util.List;

/**
 * {@link IncrementalDecoder} whose concatenated output equals {@link HfTokenizer#decode} of all
 * ids, by construction rather than by heuristics.
 *
 * <p>The text decoded so far is {@code committed + decode(window)}: {@code committed} is the exact
 * decode of the tokens before the window, which no later token can change; the window holds the
 * tokens since the last commit and is decoded as a continuation (first-token rules off, see
 * {@link Decoder}). After each token the window is committed when the token ends at a hard
 * boundary, where {@code decode(a ++ b) == decode(a) + decodeContinuation(b)} holds for the
 * decoder pipeline:
 * <ul>
 *   <li>ByteFallback: the last token is not a {@code <0xNN>} token (a byte group decodes all or nothing);</li>
 *   <li>ByteLevel: the bytes end on a complete UTF-8 character (no trailing U+FFFD);</li>
 *   <li>Strip {@code start} after Fuse: the text is non-empty, so the leading strip is settled.</li>
 * </ul>
 * Pipelines where a later token may rewrite the end of the text (Replace or Metaspace after Fuse,
 * Strip {@code stop}, BPEDecoder's suffix, no decoder) never commit: the window is then the whole
 * sequence, decoded in full at each push (O(n) per id). Otherwise a push costs O(window), usually
 * one token.
 *
 * <p>Within the window, the part that may still change is held back: a trailing group of byte
 * tokens, trailing U+FFFD chars (an incomplete UTF-8 sequence shows as U+FFFD until its last byte
 * arrives), {@code stop} chars for Strip, and a high surrogate at the end. So no returned piece
 * ends inside a character.
 */
final class StreamingDecoder implements IncrementalDecoder {
    private final HfTokenizer tokenizer;
    private final boolean skipSpecialTokens;
    private final boolean byteFallback;   // pipeline has ByteFallback: hold back trailing byte groups
    private final boolean byteLevel;      // pipeline has ByteLevel: commit only on complete UTF-8
    private final boolean canCommit;
    private final int holdBack;           // chars at the end a later token may still rewrite
    private final List<String> window = new ArrayList<>();
    private boolean committedAny;         // text was committed: the window is a continuation
    private boolean committedNonEmpty;    // the committed text is non-empty (Strip start settled)
    private final StringBuilder emittedInWindow = new StringBuilder();

    StreamingDecoder(HfTokenizer tokenizer, boolean skipSpecialTokens) {
        this.tokenizer = tokenizer;
        this.skipSpecialTokens = skipSpecialTokens;
        Decoder d = tokenizer.decoder();
        this.byteFallback = contains(d, Decoder.ByteFallback.class);
        this.byteLevel = contains(d, Decoder.ByteLevel.class);
        this.holdBack = holdBack(d, false);
        this.canCommit = d != null && commitSafe(d, false);
    }

    @Override
    public String push(int id) {
        String token = tokenizer.tokenString(id, skipSpecialTokens);
        if (token == null) return "";                          // dropped by decode as well
        window.add(token);
        String text = tokenizer.decodeTokens(window, committedAny);
        int cut = text.length();
        int run = 0;
        if (byteFallback) {
            while (run < window.size() && Decoder.ByteFallback.byteToken(window.get(window.size() - 1 - run)) >= 0) run++;
            if (run > 0) cut = commonPrefix(tokenizer.decodeTokens(window.subList(0, window.size() - run), committedAny), text);
        }
        cut = Math.max(0, cut - holdBack);
        while (cut > 0 && text.charAt(cut - 1) == Utf8.REPLACEMENT) cut--;
        if (cut > 0 && Character.isHighSurrogate(text.charAt(cut - 1))) cut--;
        String delta = emit(text, cut);
        if (canCommit && run == 0 && cut == text.length() && emittedInWindow.length() == text.length()
                && (!byteLevel || text.isEmpty() || text.charAt(text.length() - 1) != Utf8.REPLACEMENT)
                && (committedNonEmpty || !text.isEmpty())) {
            committedAny = true;
            committedNonEmpty |= !text.isEmpty();
            window.clear();
            emittedInWindow.setLength(0);
        }
        return delta;
    }

    @Override
    public String flush() {
        String text = tokenizer.decodeTokens(window, committedAny);
        String rest = emit(text, text.length());
        window.clear();
        emittedInWindow.setLength(0);
        committedAny = false;
        committedNonEmpty = false;
        return rest;
    }

    /** Emits {@code text[emitted, cut)} when what was emitted from this window is still its prefix. */
    private String emit(String text, int cut) {
        int done = emittedInWindow.length();
        if (cut <= done || !text.regionMatches(0, emittedInWindow.toString(), 0, done)) return "";
        String delta = text.substring(done, cut);
        emittedInWindow.append(delta);
        return delta;
    }

    private static int commonPrefix(String a, String b) {
        int i = 0, m = Math.min(a.length(), b.length());
        while (i < m && a.charAt(i) == b.charAt(i)) i++;
        return i;
    }

    private static boolean contains(Decoder d, Class<? extends Decoder> type) {
        if (type.isInstance(d)) return true;
        if (d instanceof Decoder.Sequence s) {
            for (Decoder c : s.decoders()) if (contains(c, type)) return true;
        }
        return false;
    }

    /** Whether decode(a ++ b) == decode(a) + continuation(b) at the hard boundaries described above. */
    private static boolean commitSafe(Decoder d, boolean fused) {
        return switch (d) {
            case Decoder.Sequence s -> {
                boolean f = fused;
                for (Decoder c : s.decoders()) {
                    if (!commitSafe(c, f)) yield false;
                    f |= c.fuses();
                }
                yield true;
            }
            case Decoder.Replace r -> !fused;                      // after Fuse a match may span tokens
            case Decoder.ByteFallback b -> !fused;
            case Decoder.Metaspace m -> !fused;                    // its first-token rule would cover the whole text
            case Decoder.Strip s -> s.stop() == 0;
            case Decoder.Fuse f -> true;
            case Decoder.ByteLevel b -> true;
            case Decoder.BpeSuffix b -> false;                     // the last token's suffix changes when a token follows
        };
    }

    /** Chars at the end of a decode that later tokens may still rewrite. */
    private static int holdBack(Decoder d, boolean fused) {
        return switch (d) {
            case null -> 0;
            case Decoder.Sequence s -> {
                int h = 0;
                boolean f = fused;
                for (Decoder c : s.decoders()) {
                    h = Math.max(h, holdBack(c, f));
                    f |= c.fuses();
                }
                yield h;
            }
            case Decoder.Strip s -> s.stop();
            case Decoder.Replace r -> fused && r.literal() != null ? Math.max(0, r.literal().length() - 1) : 0;
            default -> 0;
        };
    }
}
