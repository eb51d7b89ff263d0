package finetune4j.text;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.CharSpan;
import finetune4j.testing.SharedData;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link Tokenizer#encodeWithOffsets}: token → source ranges equal HF tokenizers' offsets (Rust,
 * through DJL, converted from code points to UTF-16 units), and the ids equal {@link Tokenizer#encode}'s.
 * Repo-only cases use the tiny SentencePiece-style tokenizer and a byte-level one trained here; the
 * real tokenizers of ../shared/data each get 2,000 seeded adversarial strings.
 */
class TokenizerOffsetsTest {
    static final List<String> HANDMADE = List.of("", "hello", "hello hi", " hello  hi ", "héllo", "hi 😀 hello", "h\u0301e",
            "<s>hello</s> hi", "hello<s>", "  ", "日本語 hello", "a\r\nb\tc", "hello\n\nhi", "😀😀");

    @BeforeAll
    static void offline() {
        System.setProperty("OPT_OUT_TRACKING", "true");
    }

    @Test
    void tinySentencePieceMatchesHuggingFace(@TempDir Path tmp) throws IOException {
        Path dir = TinyTokenizers.write(tmp.resolve("spm"), TinyTokenizers.spmJson());
        List<String> failures = compare(dir.resolve("tokenizer.json"), HANDMADE);
        assertThat(failures).isEmpty();
    }

    @Test
    void tinyByteLevelMatchesHuggingFace(@TempDir Path tmp) throws IOException {
        BpeTrainer.Trained t = BpeTrainer.train("hello world, hello there! the cat sat on the mat.\n" .repeat(20), 300,
                BpeTrainer.Specials.llamaChatMl());
        BpeTrainer.write(t, tmp, BpeTrainer.CHATML_TEMPLATE, 128);
        List<String> inputs = new ArrayList<>(HANDMADE);
        inputs.addAll(List.of("<|im_start|>user\nhello<|im_end|>\n", " world  ", "hello<|im_end|>world"));
        assertThat(compare(tmp.resolve("tokenizer.json"), inputs)).isEmpty();
    }

    @Test
    void specialTokensFromThePostProcessorHaveEmptyRanges(@TempDir Path tmp) {
        Tokenizer tok = Tokenizer.load(TinyTokenizers.write(tmp.resolve("spm"), TinyTokenizers.spmJson()));
        Tokenizer.Encoding e = tok.encodeWithOffsets("hello hi", true);
        assertThat(e.ids()[0]).isEqualTo(1);
        assertThat(e.starts()[0]).isZero();
        assertThat(e.ends()[0]).isZero();
        // "▁hello" covers "hello" (the prepended ▁ shares the first char's alignment), "▁hi" covers " hi"
        assertThat(Arrays.copyOfRange(e.starts(), 1, 3)).containsExactly(0, 5);
        assertThat(Arrays.copyOfRange(e.ends(), 1, 3)).containsExactly(5, 8);
    }

    @ParameterizedTest
    @ValueSource(strings = {"tokenizers/llama2-converted/tokenizer.json", "tokenizers/mistral/tokenizer.json",
            "tokenizers/gpt2/tokenizer.json", "tokenizers/smollm-135m/tokenizer.json", "tokenizers/torchtune-tiny-bpe/tokenizer.json",
            "tokenizers/gemma-chat-template/tokenizer_gemma_cropped.json", "models/stories260K/hf/tokenizer.json"})
    void realTokenizersMatchHuggingFace(String rel) throws IOException {
        Path file = SharedData.require(rel);
        Tokenizer ours = Tokenizer.load(file);
        RandomText gen = new RandomText(rel.hashCode() * 31L, TokenizerDifferentialTest.specials(ours),
                TokenizerDifferentialTest.vocabWords(ours, rel.hashCode()));
        List<String> inputs = new ArrayList<>(HANDMADE);
        for (int i = 0; i < 2000; i++) {
            String s = gen.next();
            if (!hasLoneSurrogate(s)) inputs.add(s);        // DJL passes Java strings through modified UTF-8: not comparable
        }
        List<String> failures = compare(file, inputs);
        assertThat(failures).as("offset mismatches for %s", rel).isEmpty();
    }

    /** Differences between our offsets and HF's for each input (first 10 reported). */
    static List<String> compare(Path tokenizerJson, List<String> inputs) throws IOException {
        Tokenizer ours = Tokenizer.load(tokenizerJson);
        List<String> failures = new ArrayList<>();
        try (HuggingFaceTokenizer hf = HuggingFaceTokenizer.builder().optTokenizerPath(tokenizerJson)
                .optTruncation(false).optPadding(false).build()) {
            for (String s : inputs) {
                for (boolean special : new boolean[]{true, false}) {
                    Tokenizer.Encoding got = ours.encodeWithOffsets(s, special);
                    int[] ids = ours.encode(s, special);
                    if (!Arrays.equals(got.ids(), ids)) {
                        failures.add("ids differ from encode() for \"" + TokenizerReferenceTest.escape(s) + "\"");
                        continue;
                    }
                    ai.djl.huggingface.tokenizers.Encoding want = hf.encode(s, special, false);
                    CharSpan[] spans = want.getCharTokenSpans();
                    int[] units = codePointToUnit(s);
                    for (int i = 0; i < ids.length; i++) {
                        int ws = spans[i] == null ? 0 : unit(units, spans[i].getStart()), we = spans[i] == null ? 0 : unit(units, spans[i].getEnd());
                        if (got.starts()[i] != ws || got.ends()[i] != we) {
                            failures.add("\"" + TokenizerReferenceTest.escape(s) + "\" special=" + special + " token " + i + " ("
                                    + ours.idToToken(ids[i]) + "): ours [" + got.starts()[i] + ", " + got.ends()[i] + "), HF [" + ws + ", " + we + ")");
                            break;
                        }
                    }
                    if (failures.size() >= 10) return failures;
                }
            }
        }
        return failures;
    }

    static boolean hasLoneSurrogate(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && (i + 1 >= s.length() || !Character.isLowSurrogate(s.charAt(i + 1)))) return true;
            if (Character.isLowSurrogate(c) && (i == 0 || !Character.isHighSurrogate(s.charAt(i - 1)))) return true;
            if (Character.isHighSurrogate(c)) i++;
        }
        return false;
    }

    /** A code point offset in UTF-16 units; offsets past the text are HF's unconverted raw numbers, kept. */
    private static int unit(int[] units, int cp) {
        return cp < units.length ? units[cp] : cp;
    }

    /** UTF-16 index of each code point index (plus the end). */
    private static int[] codePointToUnit(String s) {
        int n = s.codePointCount(0, s.length());
        int[] out = new int[n + 1];
        for (int i = 0, u = 0; i <= n; i++) {
            out[i] = u;
            if (u < s.length()) u += Character.charCount(s.codePointAt(u));
        }
        return out;
    }
}
