package finetune4j.text;

import finetune4j.testing.SharedData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Behaviour on the real tokenizer.json files of ../shared: streaming CJK over byte-level tokens,
 * truncation/padding blocks read but never applied, BOS/EOS/special ids, and speed on inputs that
 * trap naive implementations (very long words, long whitespace runs).
 */
class TokenizerRealFilesTest {

    private static Tokenizer load(String rel) {
        return Tokenizer.load(SharedData.require(rel));
    }

    @Test
    void incrementalDecoderReleasesEachCjkCharWhenItsLastByteArrives() {
        Tokenizer gpt2 = load("tokenizers/gpt2");
        int[] ids = gpt2.encode("生活的真谛是", false);
        assertThat(ids).containsExactly(37955, 162, 112, 119, 21410, 40367, 253, 164, 108, 249, 42468);
        IncrementalDecoder dec = gpt2.incrementalDecoder(true);
        List<String> pieces = new ArrayList<>();
        for (int id : ids) pieces.add(dec.push(id));
        assertThat(pieces).containsExactly("生", "", "", "活", "的", "", "真", "", "", "谛", "是");
        assertThat(dec.flush()).isEmpty();
    }

    @Test
    void incrementalDecoderOnEmojiOverByteFallback() {
        Tokenizer llama = load("tokenizers/llama2-converted");
        int[] ids = llama.encode("Family: 👨‍👩‍👧 ok", true);
        IncrementalDecoder dec = llama.incrementalDecoder(true);
        StringBuilder sb = new StringBuilder();
        for (int id : ids) {
            String piece = dec.push(id);
            assertThat(piece).doesNotContain("\uFFFD");
            sb.append(piece);
        }
        sb.append(dec.flush());
        assertThat(sb.toString()).isEqualTo("Family: 👨‍👩‍👧 ok").isEqualTo(llama.decode(ids, true));
    }

    @Test
    void truncationAndPaddingAreReadButNotApplied() {
        HfTokenizer smollm = (HfTokenizer) load("tokenizers/smollm-135m");
        assertThat(smollm.truncation()).isEqualTo(new HfTokenizer.Truncation(192, 0, "LongestFirst", "Right"));
        assertThat(smollm.padding()).isEqualTo(new HfTokenizer.Padding(192, 49152, "[PAD]", "Right", null));
        String longText = "word ".repeat(500);
        assertThat(smollm.encode(longText, true)).hasSize(501);      // not truncated to 192
        assertThat(smollm.encode("hi", true)).hasSize(1);             // not padded to 192
        HfTokenizer gpt2 = (HfTokenizer) load("tokenizers/gpt2");
        assertThat(gpt2.truncation().maxLength()).isEqualTo(50);
        assertThat(gpt2.padding()).isNull();
        assertThat(gpt2.encode(longText, true)).hasSize(501);         // not truncated to 50 ("word", 499 × " word", " ")
    }

    @Test
    void specialTokenIds() {
        check(load("tokenizers/llama2-converted"), 32000, OptionalInt.of(1), OptionalInt.of(2), 3);
        check(load("tokenizers/mistral"), 32000, OptionalInt.of(1), OptionalInt.of(2), 3);
        check(load("tokenizers/gpt2"), 50257, OptionalInt.of(50256), OptionalInt.of(50256), 1);
        check(load("tokenizers/smollm-135m"), 49153, OptionalInt.of(0), OptionalInt.of(0), 18);
        check(load("tokenizers/torchtune-tiny-bpe"), 2000, OptionalInt.empty(), OptionalInt.empty(), 0);
        check(load("tokenizers/gemma-chat-template/tokenizer_gemma_cropped.json"), 87, OptionalInt.of(2), OptionalInt.of(1), 6);
        check(load("models/stories260K/hf"), 512, OptionalInt.of(1), OptionalInt.of(2), 3);
    }

    private static void check(Tokenizer t, int vocab, OptionalInt bos, OptionalInt eos, int specials) {
        assertThat(t.vocabSize()).as("vocabSize of %s", t).isEqualTo(vocab);
        assertThat(t.bosId()).as("bos of %s", t).isEqualTo(bos);
        assertThat(t.eosId()).as("eos of %s", t).isEqualTo(eos);
        assertThat(t.specialIds()).as("special ids of %s", t).hasSize(specials);
    }

    @Test
    void smollmPadTokenIsAnAddedSpecialTokenAfterTheVocab() {
        Tokenizer smollm = load("tokenizers/smollm-135m");
        assertThat(smollm.tokenToId("[PAD]")).isEqualTo(49152);
        assertThat(smollm.idToToken(49152)).isEqualTo("[PAD]");
        assertThat(smollm.specialIds()).contains(49152);
        int[] ids = smollm.encode("a[PAD]b", false);
        assertThat(ids).containsExactly(smollm.tokenToId("a"), 49152, smollm.tokenToId("b"));
        assertThat(smollm.decode(ids, true)).isEqualTo("ab");
        assertThat(smollm.decode(ids, false)).isEqualTo("a[PAD]b");
    }

    @Test
    @Timeout(30)
    void longWordsAndWhitespaceRunsStayFast() {
        Tokenizer llama = load("tokenizers/llama2-converted");
        Tokenizer gpt2 = load("tokenizers/gpt2");
        Tokenizer llama3Regex = load("tokenizers/torchtune-tiny-bpe");
        SplittableRandom rnd = new SplittableRandom(7);
        StringBuilder word = new StringBuilder();
        for (int i = 0; i < 50_000; i++) word.append((char) ('a' + rnd.nextInt(26)));
        StringBuilder cjk = new StringBuilder();
        for (int i = 0; i < 20_000; i++) cjk.appendCodePoint(0x4E00 + rnd.nextInt(0x5000));
        String spaces = " ".repeat(200_000) + "x" + "\n \t".repeat(50_000) + "y";
        long t0 = System.nanoTime();
        assertThat(llama.encode(word.toString(), false).length).isGreaterThan(10_000);
        assertThat(gpt2.encode(word.toString(), false).length).isGreaterThan(10_000);
        assertThat(gpt2.encode(cjk.toString(), false).length).isGreaterThan(20_000);
        assertThat(llama.encode(cjk.toString(), false).length).isGreaterThan(10_000);
        for (Tokenizer t : List.of(llama, gpt2, llama3Regex)) assertThat(t.decode(t.encode(spaces, false), true)).endsWith("y");
        double seconds = (System.nanoTime() - t0) / 1e9;
        System.out.printf("long words (50k latin, 20k CJK) and 350k-char whitespace runs: %.2f s%n", seconds);
        assertThat(seconds).as("seconds for pathological inputs").isLessThan(15);
    }

    @Test
    void encodeThroughput() {
        Tokenizer llama = load("tokenizers/llama2-converted");
        Tokenizer gpt2 = load("tokenizers/gpt2");
        RandomText gen = new RandomText(11, List.of("<s>", "</s>", "<|endoftext|>"), List.of());
        List<String> corpus = new ArrayList<>();
        long chars = 0;
        for (int i = 0; i < 20_000; i++) {
            String s = gen.next();
            corpus.add(s);
            chars += s.length();
        }
        for (Tokenizer t : List.of(llama, gpt2)) {
            for (String s : corpus) t.encode(s, true);             // warm-up (JIT, word cache)
            long t0 = System.nanoTime(), ids = 0;
            for (String s : corpus) ids += t.encode(s, true).length;
            double sec = (System.nanoTime() - t0) / 1e9;
            System.out.printf("%s: %d strings, %.1f MB of text, %d ids in %.2f s (%.1f M chars/s)%n",
                    t, corpus.size(), chars / 1e6, ids, sec, chars / sec / 1e6);
            assertThat(sec).as("seconds to encode the corpus").isLessThan(20);
        }
    }
}
