package finetune4j.batch;

import finetune4j.data.Example;
import finetune4j.data.SyntheticStories;
import finetune4j.text.BpeTrainer;
import finetune4j.text.Tokenizer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class BatchingTest {
    static Tokenizer tok;
    static int eos;

    @BeforeAll
    static void tokenizer(@TempDir Path dir) {
        BpeTrainer.Trained t = BpeTrainer.train(SyntheticStories.corpus(3, 200), 400, BpeTrainer.Specials.llamaChatMl());
        BpeTrainer.write(t, dir, null, 512);
        tok = Tokenizer.load(dir);
        eos = t.id("</s>");
    }

    @Test
    void textIsFullyTrainedWithBosAndEos() {
        ExampleTokenizer et = new ExampleTokenizer(tok, eos, 64);
        Tokenized t = et.tokenize(new Example.Text("f:1", "Lily went to the park."));
        int[] enc = tok.encode("Lily went to the park.", true);
        assertThat(t.ids()[0]).isEqualTo(1);                       // BOS from the post-processor
        assertThat(Arrays.copyOf(t.ids(), enc.length)).isEqualTo(enc);
        assertThat(t.ids()[t.length() - 1]).isEqualTo(eos);
        assertThat(t.labels()).isEqualTo(t.ids());
        assertThat(t.targetTokens()).isEqualTo(t.length() - 1);
    }

    @Test
    void promptTokensAreMaskedAndCompletionPlusEosTrained() {
        ExampleTokenizer et = new ExampleTokenizer(tok, eos, 64);
        Tokenized t = et.tokenize(new Example.PromptCompletion("f:2", "Q: What color was the ball?\nA:", " red"));
        int promptLen = tok.encode("Q: What color was the ball?\nA:", true).length;
        for (int i = 0; i < t.length(); i++) {
            assertThat(t.labels()[i]).isEqualTo(i < promptLen ? Tokenized.IGNORE : t.ids()[i]);
        }
        assertThat(t.targetTokens()).isEqualTo(t.length() - promptLen);
        assertThat(tok.decode(Arrays.copyOfRange(t.ids(), promptLen, t.length() - 1), true)).isEqualTo(" red");
    }

    @Test
    void longSequencesAreCutOnTheRight() {
        ExampleTokenizer et = new ExampleTokenizer(tok, eos, 5);
        Tokenized t = et.tokenize(new Example.Text("f:3", SyntheticStories.corpus(1, 1)));
        assertThat(t.length()).isEqualTo(5);
        assertThat(t.ids()[0]).isEqualTo(1);
    }

    @Test
    void batchesArePaddedOnTheRightAndShufflingIsSeededAndResumable() {
        List<Tokenized> data = new ArrayList<>();
        for (int i = 0; i < 7; i++) {
            int[] ids = new int[2 + i];
            Arrays.fill(ids, 10 + i);
            data.add(new Tokenized(ids, ids.clone(), "r" + i));
        }
        Batch b = new Batch(3, 16);
        BatchIterator inOrder = new BatchIterator(data, 3, false, 0, 0);
        inOrder.next(b);
        assertThat(b.b()).isEqualTo(3);
        assertThat(b.t()).isEqualTo(4);
        assertThat(Arrays.copyOf(b.ids, 12)).containsExactly(10, 10, 0, 0, 11, 11, 11, 0, 12, 12, 12, 12);
        assertThat(Arrays.copyOf(b.labels, 4)).containsExactly(10, 10, -100, -100);
        assertThat(b.targetTokens()).isEqualTo(1 + 2 + 3);
        inOrder.next(b);
        inOrder.next(b);
        assertThat(b.b()).isEqualTo(1);                               // the last, partial batch of the epoch
        inOrder.next(b);
        assertThat(inOrder.epoch()).isEqualTo(1);

        // same seed → same order; a resumed iterator continues identically
        BatchIterator a = new BatchIterator(data, 2, true, 42, 0), c = new BatchIterator(data, 2, true, 42, 0);
        Batch x = new Batch(2, 16), y = new Batch(2, 16);
        for (int i = 0; i < 5; i++) a.next(x);
        c.seek(a.epoch(), a.index());
        for (int i = 0; i < 6; i++) {
            a.next(x);
            c.next(y);
            assertThat(Arrays.copyOf(y.ids, y.b() * y.t())).isEqualTo(Arrays.copyOf(x.ids, x.b() * x.t()));
        }
        BatchIterator other = new BatchIterator(data, 7, true, 43, 0), same = new BatchIterator(data, 7, true, 42, 0);
        Batch o1 = new Batch(7, 16), o2 = new Batch(7, 16);
        other.next(o1);
        same.next(o2);
        assertThat(Arrays.copyOf(o1.lengths, 7)).isNotEqualTo(Arrays.copyOf(o2.lengths, 7));
    }
}
