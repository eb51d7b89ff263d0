package finetune4j.text;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import finetune4j.data.SyntheticStories;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class BpeTrainerTest {

    @Test
    void byteAlphabetIsGpt2s() {
        char[] m = BpeTrainer.byteToUnicode();
        assertThat(m[' ']).isEqualTo('\u0120');
        assertThat(m['\n']).isEqualTo('\u010A');
        assertThat(m['A']).isEqualTo('A');
        assertThat(m[0xAD]).isEqualTo((char) (256 + 67)); // the last of the 68 remapped bytes
    }

    @Test
    void mergesMostFrequentPairFirstAndStopsWhenNothingRepeats() {
        BpeTrainer.Specials sp = new BpeTrainer.Specials(List.of("<s>"), "<s>", null, null, null);
        BpeTrainer.Trained t = BpeTrainer.train("ab ab ab cd", 300, sp);
        assertThat(t.merges().getFirst()).containsExactly("a", "b");
        // words: "ab" x1, "Ġab" x2, "Ġcd" x1 -> merges a+b, Ġ+ab; nothing occurs twice after that
        assertThat(t.merges()).hasSize(2);
        assertThat(t.vocab()).hasSize(1 + 256 + 2);
    }

    @Test
    void writtenTokenizerLoadsInHuggingFaceTokenizersAndRoundTrips(@TempDir Path dir) throws Exception {
        String corpus = SyntheticStories.corpus(7, 300);
        BpeTrainer.Trained t = BpeTrainer.train(corpus, 600, BpeTrainer.Specials.llamaChatMl());
        assertThat(t.vocab()).hasSize(600);
        BpeTrainer.write(t, dir, BpeTrainer.CHATML_TEMPLATE, 512);
        try (HuggingFaceTokenizer hf = HuggingFaceTokenizer.builder().optTokenizerPath(dir)
                .optTruncation(false).optPadding(false).optAddSpecialTokens(true).build()) {
            String text = "Lily had a red ball. She went to the park with Tom. \u00e9\u4e2d\ud83d\ude00\n\n  x";
            Encoding enc = hf.encode(text);
            long[] ids = enc.getIds();
            assertThat(ids[0]).isEqualTo(t.id("<s>"));
            assertThat(hf.decode(ids, true)).isEqualTo(text);
            // frequent words of the corpus became single tokens
            Encoding w = hf.encode(" park", false, false);
            assertThat(w.getTokens()).containsExactly("\u0120park");
            assertThat(hf.encode("<|im_start|>user", false, false).getIds()[0]).isEqualTo(t.id("<|im_start|>"));
        }
    }
}
