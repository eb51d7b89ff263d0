package finetune4j.text;

import java.nio.file.Path;
import java.util.OptionalInt;
import java.util.Set;

/**
 * Text ↔ token ids, reproducing Hugging Face {@code tokenizers} (the Rust "fast" tokenizer behind
 * {@code transformers}) id for id, read from a model's {@code tokenizer.json}.
 *
 * <p>Supported: BPE models (SentencePiece-style with byte fallback: Llama-2, Mistral, TinyLlama,
 * Gemma; byte-level: GPT-2, Llama-3, Qwen2, SmolLM), the common normalizers, pre-tokenizers,
 * post-processors and decoders, and added/special tokens. Anything else in a tokenizer.json is
 * refused at {@link #load} with a message naming the key, never approximated. The
 * {@code truncation}/{@code padding} blocks of a tokenizer.json are read but never applied:
 * {@link #encode} returns the whole text's ids, like HF with truncation and padding disabled.
 *
 * <p>Instances are immutable and thread-safe.
 *
 * {@snippet :
 * Tokenizer tok = Tokenizer.load(Path.of("models/TinyLlama-1.1B-Chat-v1.0"));
 * int[] ids = tok.encode("Once upon a time", true);      // [1, 9038, 2501, 263, 931]
 * String text = tok.decode(ids, true);                     // "Once upon a time"
 * }
 */
public interface Tokenizer {

    /**
     * Loads {@code tokenizer.json} from a model directory, or the given {@code tokenizer.json} file.
     * {@code tokenizer_config.json} is not read here (see {@code TokenizerConfig}).
     *
     * @throws finetune4j.ModelFormatException when the file is missing, malformed or uses an
     *                                         unsupported component (the message names the key)
     */
    static Tokenizer load(Path dirOrTokenizerJson) {
        return TokenizerJson.load(dirOrTokenizerJson);
    }

    /**
     * Token ids of {@code text}, as HF {@code tokenizer(text, add_special_tokens=...)["input_ids"]}.
     * Added and special tokens written in the text are always recognised (HF's default
     * {@code split_special_tokens=False}); {@code addSpecialTokens} only controls the post-processor
     * (e.g. Llama's leading BOS). A lone surrogate in {@code text} is read as U+FFFD.
     */
    int[] encode(String text, boolean addSpecialTokens);

    /**
     * Token ids and, for each token, the range of {@code text} it came from, as HF
     * {@code tokenizer(text, return_offsets_mapping=True)} in UTF-16 units of {@code text} (Python
     * counts code points; the ranges cover the same chars). The ids equal {@link #encode}'s. Tokens a
     * post-processor adds (BOS) have the empty range {@code [0, 0)}; the tokens of one char split into
     * bytes (byte fallback, byte-level) each span the whole char; ByteLevel's {@code trim_offsets}
     * leaves spaces out of a token's range, as in HF.
     */
    Encoding encodeWithOffsets(String text, boolean addSpecialTokens);

    /**
     * Ids with their source ranges: token {@code i} came from {@code text[starts[i], ends[i])}.
     *
     * @param ids    (N) token ids
     * @param starts (N) first UTF-16 unit of each token's text
     * @param ends   (N) one past its last unit ({@code starts[i] == ends[i]}: the token stands for no text)
     */
    record Encoding(int[] ids, int[] starts, int[] ends) {
        public Encoding {
            if (ids.length != starts.length || ids.length != ends.length) {
                throw new IllegalArgumentException(ids.length + " ids, " + starts.length + " starts, " + ends.length + " ends");
            }
        }

        public int length() {
            return ids.length;
        }
    }

    /**
     * The token string of each id (e.g. {@code "▁Hello"}, {@code "Ġworld"}, {@code "<0x0A>"}).
     *
     * @throws IllegalArgumentException when an id is not in the vocabulary
     */
    String[] tokens(int[] ids);

    /**
     * Text of {@code ids}, as HF {@code tokenizer.decode(ids, skip_special_tokens=...)} (without
     * transformers' optional {@link #cleanUpTokenizationSpaces clean-up}). Ids outside the vocabulary
     * are ignored, as HF does.
     */
    String decode(int[] ids, boolean skipSpecialTokens);

    /**
     * A decoder for ids arriving one at a time (generation): the concatenation of what it returns
     * equals {@link #decode} of all ids, and no returned piece ends inside a character whose bytes are
     * still arriving (byte-fallback or byte-level tokens of one emoji).
     */
    IncrementalDecoder incrementalDecoder(boolean skipSpecialTokens);

    /** Size of the id space: the largest id (model vocab or added token) plus one; the embedding needs this many rows. */
    int vocabSize();

    /** The id of a token string (added tokens first, then the model vocab), or null. */
    Integer tokenToId(String token);

    /** The token string of an id, or null when the id is not in the vocabulary. */
    String idToToken(int id);

    /**
     * The beginning-of-sequence id as far as tokenizer.json tells: the special token the
     * post-processor puts first (Llama's {@code <s>}), else a special added token with a
     * conventional BOS name. {@code tokenizer_config.json}'s {@code bos_token} is authoritative.
     */
    OptionalInt bosId();

    /**
     * The end-of-sequence id as far as tokenizer.json tells: the special token the post-processor
     * puts last, else a special added token with a conventional EOS name ({@code </s>},
     * {@code <eos>}, {@code <|endoftext|>}, ...). {@code tokenizer_config.json}'s {@code eos_token}
     * is authoritative (chat models often end turns with another token).
     */
    OptionalInt eosId();

    /** Ids of the added tokens flagged {@code special} (skipped by {@code decode(ids, true)}). */
    Set<Integer> specialIds();

    /**
     * transformers' {@code clean_up_tokenization}: removes the space before {@code . ? ! ,} and
     * English contractions. Python {@code decode} applies it when {@code tokenizer_config.json} has
     * {@code clean_up_tokenization_spaces: true} (GPT-2's does); {@link #decode} never does.
     */
    static String cleanUpTokenizationSpaces(String text) {
        return text.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",")
                .replace(" ' ", "'").replace(" n't", "n't").replace(" 'm", "'m").replace(" 's", "'s")
                .replace(" 've", "'ve").replace(" 're", "'re");
    }
}
