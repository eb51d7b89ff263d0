package finetune4j.text;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;

/**
 * The tokenizer.json pipeline ({@code tokenizers/src/tokenizer/mod.rs}, {@code encode} and
 * {@code decode}):
 * <pre>
 *   text ─ added tokens (raw) ─ normalizer ─ added tokens (normalized) ─ pre_tokenizer ─ model (BPE)
 *        ─ post_processor (only with add_special_tokens) → ids
 *   ids ─ id→token (added first, then vocab; special ones dropped when skipping) ─ decoder → text
 * </pre>
 * Built by {@link TokenizerJson}; immutable apart from the model's word cache.
 */
final class HfTokenizer implements Tokenizer {

    /** tokenizer.json {@code truncation}: read and validated, never applied by {@link #encode}. */
    record Truncation(int maxLength, int stride, String strategy, String direction) {
    }

    /** tokenizer.json {@code padding}: read and validated, never applied by {@link #encode}; {@code fixed} null = BatchLongest. */
    record Padding(Integer fixed, int padId, String padToken, String direction, Integer padToMultipleOf) {
    }

    private static final List<String> BOS_NAMES = List.of("<s>", "<bos>", "<|begin_of_text|>", "<|startoftext|>", "[CLS]", "<|endoftext|>");
    private static final List<String> EOS_NAMES = List.of("</s>", "<eos>", "<|end_of_text|>", "<|endoftext|>", "[SEP]", "<|im_end|>", "<|eot_id|>");

    private final String file;
    private final BpeModel model;
    private final AddedVocabulary added;
    private final Normalizer normalizer;       // may be null
    private final PreTokenizer preTokenizer;   // may be null
    private final PostProcessor postProcessor; // may be null
    private final Decoder decoder;             // may be null: tokens joined by spaces
    private final Truncation truncation;       // may be null
    private final Padding padding;             // may be null
    private final int vocabSize;
    private final Set<Integer> specialIds;
    private final OptionalInt bos, eos;

    HfTokenizer(String file, BpeModel model, AddedVocabulary added, Normalizer normalizer, PreTokenizer preTokenizer,
                PostProcessor postProcessor, Decoder decoder, Truncation truncation, Padding padding) {
        this.file = file;
        this.model = model;
        this.added = added;
        this.normalizer = normalizer;
        this.preTokenizer = preTokenizer;
        this.postProcessor = postProcessor;
        this.decoder = decoder;
        this.truncation = truncation;
        this.padding = padding;
        this.vocabSize = Math.max(model.idSpace(), added.idSpace());
        this.specialIds = Collections.unmodifiableSet(added.specialIds());
        this.bos = findBos();
        this.eos = findEos();
    }

    @Override
    public int[] encode(String text, boolean addSpecialTokens) {
        List<Piece> pieces = added.extractAndNormalize(normalizer, Utf8.replaceLoneSurrogates(text));
        if (preTokenizer != null) pieces = preTokenizer.preTokenize(pieces);
        IntList ids = new IntList(text.length() / 3 + 4);
        for (Piece p : pieces) {
            if (p.isToken()) ids.add(p.tokenId());
            else model.tokenize(p.text(), ids);
        }
        int[] out = ids.toArray();
        return addSpecialTokens && postProcessor != null ? postProcessor.process(out) : out;
    }

    @Override
    public Encoding encodeWithOffsets(String text, boolean addSpecialTokens) {
        String input = Utf8.replaceLoneSurrogates(text);
        List<Piece> pieces = added.extractAndNormalize(normalizer, Piece.rawTracked(input, 0));
        if (preTokenizer != null) pieces = preTokenizer.preTokenize(pieces);
        IntList ids = new IntList(text.length() / 3 + 4), starts = new IntList(text.length() / 3 + 4), ends = new IntList(text.length() / 3 + 4);
        IntList ranges = new IntList(16);
        for (Piece p : pieces) {
            int n = p.text().length();
            if (p.isToken()) {
                ids.add(p.tokenId());
                starts.add(p.alignStart(0));
                ends.add(p.alignEnd(n - 1));
                continue;
            }
            ranges.clear();
            model.tokenizeWithRanges(p.text(), ids, ranges);
            int[] unitOfByte = BpeModel.unitOfByte(p.text());
            for (int k = 0; k < ranges.size(); k += 2) {
                int lo = ranges.get(k), hi = ranges.get(k + 1);
                if (hi <= unitOfByte.length) {
                    starts.add(p.alignStart(unitOfByte[lo]));
                    ends.add(p.alignEnd(unitOfByte[hi - 1]));
                } else {
                    // HF: convert_offsets fails past the word's end, and the raw word offsets are read
                    // as byte offsets of the input
                    int[] r = rawByteRange(input, lo, hi);
                    starts.add(r[0]);
                    ends.add(r[1]);
                }
            }
        }
        Encoding e = new Encoding(ids.toArray(), starts.toArray(), ends.toArray());
        return postProcessor == null ? e : postProcessor.process(e, addSpecialTokens, this::idToToken, input);
    }

    /**
     * HF's {@code BytesToCharOffsetConverter} applied to byte offsets {@code [lo, hi)} of
     * {@code text}, in UTF-16 units: a byte maps to the char holding it; an end past the text maps
     * one past the char of byte {@code hi − 1}, or when that is past too, two chars after the start;
     * a start past the text leaves the numbers unconverted (Python's binding; DJL's differs here).
     */
    private static int[] rawByteRange(String text, int lo, int hi) {
        int[] unitOfByte = BpeModel.unitOfByte(text);
        if (lo >= unitOfByte.length) return new int[]{lo, hi};
        int start = unitOfByte[lo];
        int end;
        if (hi < unitOfByte.length) end = unitOfByte[hi];
        else if (hi - 1 < unitOfByte.length) end = unitOfByte[hi - 1] + Character.charCount(text.codePointAt(unitOfByte[hi - 1]));
        else {
            int next = start + Character.charCount(text.codePointAt(start));
            end = next < text.length() ? next + Character.charCount(text.codePointAt(next)) : next + 1;
        }
        return new int[]{start, end};
    }

    @Override
    public String[] tokens(int[] ids) {
        String[] out = new String[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = idToToken(ids[i]);
            if (out[i] == null) {
                throw new IllegalArgumentException("id " + ids[i] + " (at index " + i + ") is not in the vocabulary of " + file
                        + " (ids 0.." + (vocabSize - 1) + ")");
            }
        }
        return out;
    }

    @Override
    public String decode(int[] ids, boolean skipSpecialTokens) {
        return decodeTokens(tokenStrings(ids, ids.length, skipSpecialTokens));
    }

    /** The token strings {@code decode} feeds to the decoder: unknown ids and (when skipping) special tokens dropped. */
    List<String> tokenStrings(int[] ids, int n, boolean skipSpecialTokens) {
        List<String> tokens = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            String t = tokenString(ids[i], skipSpecialTokens);
            if (t != null) tokens.add(t);
        }
        return tokens;
    }

    /** The token string {@code decode} feeds to the decoder for {@code id}, or null when it is dropped. */
    String tokenString(int id, boolean skipSpecialTokens) {
        String t = idToToken(id);
        return t == null || (skipSpecialTokens && added.isSpecial(t)) ? null : t;
    }

    /** Runs the decoder over token strings. */
    String decodeTokens(List<String> tokens) {
        return decodeTokens(tokens, false);
    }

    /** Runs the decoder over token strings; {@code continuation}: they follow already decoded tokens (see {@link Decoder}). */
    String decodeTokens(List<String> tokens, boolean continuation) {
        if (decoder == null) return String.join(" ", tokens);
        return String.join("", decoder.decodeChain(tokens, continuation, false));
    }

    Decoder decoder() {
        return decoder;
    }

    @Override
    public IncrementalDecoder incrementalDecoder(boolean skipSpecialTokens) {
        return new StreamingDecoder(this, skipSpecialTokens);
    }

    @Override
    public int vocabSize() {
        return vocabSize;
    }

    @Override
    public Integer tokenToId(String token) {
        return added.tokenToId(token, model);
    }

    @Override
    public String idToToken(int id) {
        String t = added.idToContent(id);
        return t != null ? t : model.idToToken(id);
    }

    @Override
    public OptionalInt bosId() {
        return bos;
    }

    @Override
    public OptionalInt eosId() {
        return eos;
    }

    @Override
    public Set<Integer> specialIds() {
        return specialIds;
    }

    /** Contents of all added tokens, special or not. */
    List<String> addedContents() {
        List<String> out = new ArrayList<>();
        for (AddedVocabulary.AddedToken t : added.tokens().values()) out.add(t.content());
        out.sort(null);
        return out;
    }

    Truncation truncation() {
        return truncation;
    }

    Padding padding() {
        return padding;
    }

    private OptionalInt findBos() {
        List<PostProcessor.Item> single = templateItems();
        if (!single.isEmpty() && single.getFirst() instanceof PostProcessor.Item.Special s && s.ids().length == 1) {
            return OptionalInt.of(s.ids()[0]);
        }
        if (postProcessor instanceof PostProcessor.ClsSep cs) return OptionalInt.of(cs.cls());
        return byName(BOS_NAMES);
    }

    private OptionalInt findEos() {
        List<PostProcessor.Item> single = templateItems();
        if (single.size() > 1 && single.getLast() instanceof PostProcessor.Item.Special s && s.ids().length == 1) {
            return OptionalInt.of(s.ids()[0]);
        }
        if (postProcessor instanceof PostProcessor.ClsSep cs) return OptionalInt.of(cs.sep());
        return byName(EOS_NAMES);
    }

    private List<PostProcessor.Item> templateItems() {
        PostProcessor p = postProcessor;
        if (p instanceof PostProcessor.Sequence seq) {
            for (PostProcessor q : seq.processors()) if (q instanceof PostProcessor.Template) p = q;
        }
        return p instanceof PostProcessor.Template t ? t.single() : List.of();
    }

    private OptionalInt byName(List<String> names) {
        for (String name : names) {
            for (Map.Entry<Integer, AddedVocabulary.AddedToken> e : added.tokens().entrySet()) {
                if (e.getValue().special() && e.getValue().content().equals(name)) return OptionalInt.of(e.getKey());
            }
        }
        return OptionalInt.empty();
    }

    @Override
    public String toString() {
        return "Tokenizer[" + file + ", vocab " + vocabSize + "]";
    }
}
