package finetune4j.text;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * tokenizer.json {@code added_tokens} ({@code tokenizers/src/tokenizer/added_vocabulary.rs}):
 * tokens matched verbatim in the input before the model runs, special or not.
 *
 * <p>As HF: ids are (re)assigned when loading (the model's id when the content is in the vocab, else
 * the next id after the vocab); the input is first split on the tokens with {@code normalized=false}
 * (matched against the raw text), each remaining piece is normalized and then split on the tokens with
 * {@code normalized=true} (matched against their normalized content). Matching is leftmost-longest
 * (aho-corasick {@code MatchKind::LeftmostLongest}) with the {@code single_word}, {@code lstrip} and
 * {@code rstrip} rules of {@code find_matches}. Special tokens are always matched, whatever
 * {@code add_special_tokens} says (HF's {@code split_special_tokens} defaults to false).
 */
final class AddedVocabulary {

    /** One {@code added_tokens} entry (its id is assigned by {@link AddedVocabulary}). */
    record AddedToken(String content, boolean singleWord, boolean lstrip, boolean rstrip, boolean normalized, boolean special) {
    }

    private final Map<String, Integer> tokenToId = new HashMap<>();
    private final Map<Integer, AddedToken> idToToken = new HashMap<>();
    private final Set<String> specialContents = new HashSet<>();
    private final Trie rawTrie;          // tokens with normalized=false, by content
    private final Trie normalizedTrie;   // tokens with normalized=true, by normalized content

    /**
     * @param tokens     the {@code added_tokens} in file order
     * @param model      the model, whose vocab provides ids for contents it already holds
     * @param normalizer the tokenizer's normalizer (may be null), applied to normalized tokens' contents
     */
    AddedVocabulary(List<AddedToken> tokens, BpeModel model, Normalizer normalizer) {
        List<AddedToken> specials = new ArrayList<>(), classic = new ArrayList<>();
        for (AddedToken t : tokens) {
            if (t.special() && !t.content().isEmpty() && specialContents.add(t.content())) specials.add(t);
        }
        for (AddedToken t : tokens) {
            if (t.content().isEmpty() || idToToken.containsValue(t)) continue;
            Integer id = tokenToId(t.content(), model);
            if (id == null) {
                int vocab = model.vocabEntries();
                int max = tokenToId.values().stream().mapToInt(Integer::intValue).max().orElse(-1);
                id = max < 0 ? vocab : (max >= vocab || vocab == 0 ? max + 1 : vocab);
            }
            tokenToId.put(t.content(), id);
            idToToken.put(id, t);
            if (!specialContents.contains(t.content())) classic.add(t);
        }
        Map<String, Integer> raw = new LinkedHashMap<>(), normalized = new LinkedHashMap<>();
        List<AddedToken> ordered = new ArrayList<>(specials);
        ordered.addAll(classic);
        for (AddedToken t : ordered) {
            int id = tokenToId(t.content(), model);
            if (t.normalized()) {
                String pattern = normalizer == null ? t.content() : normalizer.normalize(Piece.raw(t.content(), 1)).text();
                if (!pattern.isEmpty()) normalized.putIfAbsent(pattern, id);
            } else {
                raw.putIfAbsent(t.content(), id);
            }
        }
        rawTrie = new Trie(raw);
        normalizedTrie = new Trie(normalized);
    }

    /** The id of an added token's content, else the model's. */
    Integer tokenToId(String content, BpeModel model) {
        Integer id = tokenToId.get(content);
        return id != null ? id : model.tokenToId(content);
    }

    /** Content of the added token with this id, or null. */
    String idToContent(int id) {
        AddedToken t = idToToken.get(id);
        return t == null ? null : t.content();
    }

    boolean isSpecial(String content) {
        return specialContents.contains(content);
    }

    /** Ids of the special added tokens. */
    Set<Integer> specialIds() {
        Set<Integer> ids = new HashSet<>();
        for (Map.Entry<Integer, AddedToken> e : idToToken.entrySet()) if (e.getValue().special()) ids.add(e.getKey());
        return ids;
    }

    /** Largest added id plus one (0 when none). */
    int idSpace() {
        int max = -1;
        for (int id : idToToken.keySet()) max = Math.max(max, id);
        return max + 1;
    }

    Map<Integer, AddedToken> tokens() {
        return idToToken;
    }

    /** HF {@code extract_and_normalize}: splits out added tokens and normalizes the rest. */
    List<Piece> extractAndNormalize(Normalizer normalizer, String text) {
        return extractAndNormalize(normalizer, Piece.raw(text, 0));
    }

    /** As {@link #extractAndNormalize(Normalizer, String)} from a prepared (possibly alignment-tracking) piece. */
    List<Piece> extractAndNormalize(Normalizer normalizer, Piece whole) {
        List<Piece> first = new ArrayList<>();
        splitWithIndices(whole, rawTrie, first);
        List<Piece> out = new ArrayList<>(first.size());
        for (Piece p : first) {
            if (p.isToken()) {
                out.add(p);
            } else {
                splitWithIndices(normalizer == null ? p : normalizer.normalize(p), normalizedTrie, out);
            }
        }
        return out;
    }

    /** HF {@code split_with_indices} + {@code find_matches}, dropping empty pieces. */
    private void splitWithIndices(Piece piece, Trie trie, List<Piece> out) {
        String s = piece.text();
        if (s.isEmpty()) return;
        if (trie.isEmpty()) {
            out.add(piece);
            return;
        }
        int startOffset = 0;
        int[] match = new int[3];           // start, end, id
        int from = 0;
        while (trie.find(s, from, match)) {
            int start = match[0], stop = match[1], id = match[2];
            from = stop;                    // the automaton resumes after the match
            AddedToken t = idToToken.get(id);
            if (t.singleWord()) {
                boolean startSpace = start == 0 || !endsWithWord(s, start);
                boolean stopSpace = stop == s.length() || !startsWithWord(s, stop);
                if (!startSpace || !stopSpace) continue;
            }
            if (t.lstrip()) {
                int newStart = start;
                while (newStart > 0 && Chars.isWhitespace(s.codePointBefore(newStart))) newStart -= Character.charCount(s.codePointBefore(newStart));
                start = Math.max(newStart, startOffset);
            }
            if (t.rstrip()) {
                while (stop < s.length() && Chars.isWhitespace(s.codePointAt(stop))) stop += Character.charCount(s.codePointAt(stop));
            }
            if (startOffset < start) out.add(piece.slice(startOffset, start));
            out.add(piece.tokenSlice(start, stop, id));
            startOffset = stop;
        }
        if (startOffset < s.length()) out.add(piece.slice(startOffset, s.length()));
    }

    /** Rust regex {@code \w$} on {@code s[0..end)}: Alphabetic, Mark, Nd, Pc or Join_Control. */
    private static boolean endsWithWord(String s, int end) {
        return isRustWordChar(s.codePointBefore(end));
    }

    private static boolean startsWithWord(String s, int start) {
        return isRustWordChar(s.codePointAt(start));
    }

    static boolean isRustWordChar(int cp) {
        if (Character.isAlphabetic(cp)) return true;
        int t = Character.getType(cp);
        return t == Character.NON_SPACING_MARK || t == Character.ENCLOSING_MARK || t == Character.COMBINING_SPACING_MARK
                || t == Character.DECIMAL_DIGIT_NUMBER || t == Character.CONNECTOR_PUNCTUATION
                || cp == 0x200C || cp == 0x200D;
    }

    /** Leftmost-longest matcher over a set of literal patterns (a char trie; patterns are few and short). */
    static final class Trie {
        private static final class Node {
            final Map<Character, Node> next = new HashMap<>(4);
            int id = -1;                       // pattern ending here, or -1
        }

        private final Node root = new Node();
        private final boolean empty;
        private final java.util.BitSet firstChars = new java.util.BitSet(1 << 16);

        Trie(Map<String, Integer> patterns) {
            for (Map.Entry<String, Integer> e : patterns.entrySet()) {
                firstChars.set(e.getKey().charAt(0));
                Node n = root;
                for (char c : e.getKey().toCharArray()) n = n.next.computeIfAbsent(c, k -> new Node());
                if (n.id < 0) n.id = e.getValue();
            }
            empty = patterns.isEmpty();
        }

        boolean isEmpty() {
            return empty;
        }

        /** Finds the leftmost match starting at or after {@code from}, the longest among those; fills {start, end, id}. */
        boolean find(String s, int from, int[] match) {
            for (int i = from; i < s.length(); i++) {
                if (!firstChars.get(s.charAt(i))) continue;
                Node n = root.next.get(s.charAt(i));
                if (n == null) continue;
                int bestEnd = -1, bestId = -1;
                for (int j = i + 1; ; j++) {
                    if (n.id >= 0) {
                        bestEnd = j;
                        bestId = n.id;
                    }
                    if (j >= s.length()) break;
                    n = n.next.get(s.charAt(j));
                    if (n == null) break;
                }
                if (bestEnd >= 0) {
                    match[0] = i;
                    match[1] = bestEnd;
                    match[2] = bestId;
                    return true;
                }
            }
            return false;
        }
    }
}
