package finetune4j.eval;

import finetune4j.InvalidDataException;
import finetune4j.model.LlamaModel;
import finetune4j.text.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Multiple-choice scoring: the log-likelihood of each choice equals the sum of log-softmax
 * probabilities of its continuation tokens computed independently from the model's full logits;
 * acc and acc_norm pick as lm-evaluation-harness does; prompts and token splits as lm-eval builds
 * them; malformed records name file:line and the field.
 */
class ChoiceEvalTest {
    @TempDir
    Path tmp;

    @Test
    void accPicksTheLargestLogLikelihoodAndAccNormDividesByCharacters() {
        double[] ll = {-4.0, -6.0, -9.0};
        List<String> choices = List.of("no", "maybe not", "absolutely never");   // 2, 9, 16 characters
        assertThat(ChoiceEval.pick(ll, null)).isZero();                          // −4 is largest
        assertThat(ChoiceEval.pick(ll, choices)).isEqualTo(2);                   // −2, −0.667, −0.5625
        assertThat(ChoiceEval.pick(new double[]{-1, -1, -3}, null)).as("ties: the first, as numpy's argmax").isZero();
        assertThat(ChoiceEval.pick(new double[]{-2, -4}, List.of("é", "ab"))).as("characters, not bytes").isZero();

        ChoiceEval.Question q = new ChoiceEval.Question("f:1", "q", choices, 2, null);
        ChoiceEval.Result r = new ChoiceEval.Result(List.of(new ChoiceEval.Scored(q, ll, 0, 2),
                new ChoiceEval.Scored(new ChoiceEval.Question("f:2", "q", choices, 0, null), ll, 0, 2)));
        assertThat(r.acc()).isEqualTo(0.5);
        assertThat(r.accNorm()).isEqualTo(0.5);
    }

    @Test
    void logLikelihoodsAreSumsOfContinuationLogProbs() {
        Tokenizer tok = Tokenizer.load(EvalModels.TINY);
        try (LlamaModel m = LlamaModel.load(EvalModels.TINY)) {
            int vocab = m.config().vocabSize();
            for (ChoiceEval.Style style : ChoiceEval.Style.values()) {
                ChoiceEval ev = new ChoiceEval(m, tok, style);
                ChoiceEval.Question q = new ChoiceEval.Question("f:1", "what is red?",
                        List.of("a red apple", "the sky", "a dog"), 0, null);
                double[] got = ev.logLikelihoods(q);
                String ctx = ev.context(q);
                List<String> conts = ev.continuations(q);
                for (int i = 0; i < got.length; i++) {
                    int[] whole = tok.encode(ctx + conts.get(i), true);
                    int n = whole.length - tok.encode(ctx, true).length;
                    assertThat(n).isPositive();
                    float[] logits = m.forwardAll(whole);                            // (T, V)
                    double want = 0;
                    for (int p = whole.length - n; p < whole.length; p++) want += EvalModels.logProb(logits, p - 1, vocab, whole[p]);
                    assertThat(got[i]).as(style + " choice " + i).isCloseTo(want, org.assertj.core.data.Offset.offset(1e-4 * Math.abs(want) + 1e-5));
                }
                ChoiceEval.Scored s = ev.score(q);
                assertThat(s.predicted()).isEqualTo(ChoiceEval.pick(got, null));
                assertThat(s.predictedNorm()).isEqualTo(ChoiceEval.pick(got, ev.normalisers(q)));
                if (style == ChoiceEval.Style.LETTERS) assertThat(s.predictedNorm()).as("letters all have length 1").isEqualTo(s.predicted());
            }
        }
    }

    @Test
    void promptsAndTokenSplitsFollowLmEval() {
        Tokenizer tok = Tokenizer.load(EvalModels.TINY);
        ChoiceEval.Question q = new ChoiceEval.Question("f:1", " Which? ", List.of("x", "y"), 1, "college_physics");
        ChoiceEval cloze = new ChoiceEval(null, tok, ChoiceEval.Style.CLOZE);
        assertThat(cloze.context(q)).isEqualTo("Question:  Which? \nAnswer:");
        assertThat(cloze.continuations(q)).containsExactly(" x", " y");
        ChoiceEval letters = new ChoiceEval(null, tok, ChoiceEval.Style.LETTERS);
        assertThat(letters.context(q)).isEqualTo("The following are multiple choice questions (with answers) about college physics.\n\n"
                + "Which?\nA. x\nB. y\nAnswer:");
        assertThat(letters.continuations(q)).containsExactly(" A", " B");
        // trailing spaces of the context belong to the continuation
        ChoiceEval.Encoded a = cloze.encode("the cat sat ", "on the mat"), b = cloze.encode("the cat sat", " on the mat");
        assertThat(a.ids()).containsExactly(b.ids());
        assertThat(a.continuationTokens()).isEqualTo(b.continuationTokens());
        int[] ctx = tok.encode("the cat sat", true);
        assertThat(Arrays.copyOf(b.ids(), ctx.length)).containsExactly(ctx);
        assertThat(b.continuationTokens()).isEqualTo(b.ids().length - ctx.length);
    }

    @Test
    void readsIndexLetterAndTextAnswers() throws IOException {
        Path f = tmp.resolve("mc.jsonl");
        Files.writeString(f, """
                {"question": "q1", "choices": ["a", "b", "c"], "answer": 2}
                {"question": "q2", "choices": ["a", "b", "c"], "answer": "b", "subject": "astronomy"}
                {"question": "q3", "choices": ["red", "blue"], "answer": "blue"}
                {"question": "q4", "choices": ["a", "b"], "answer": "1"}
                """);
        List<ChoiceEval.Question> qs = ChoiceEval.read(f);
        assertThat(qs).extracting(ChoiceEval.Question::answer).containsExactly(2, 1, 1, 1);
        assertThat(qs.get(1).subject()).isEqualTo("astronomy");
        assertThat(qs.get(0).source()).endsWith("mc.jsonl:1");
    }

    @Test
    void badRecordsNameFileLineAndField() throws IOException {
        assertBad("{\"choices\": [\"a\", \"b\"], \"answer\": 0}", "bad.jsonl:1", "'question'", "is missing");
        assertBad("{\"question\": \"q\", \"choices\": [\"a\"], \"answer\": 0}", "'choices'", "at least 2");
        assertBad("{\"question\": \"q\", \"choices\": [\"a\", 3], \"answer\": 0}", "'choices[1]'", "expected a string");
        assertBad("{\"question\": \"q\", \"choices\": [\"a\", \"b\"], \"answer\": \"E\"}", "'answer'", "outside the 2 choices");
        assertBad("{\"question\": \"q\", \"choices\": [\"a\", \"b\"], \"answer\": \"purple\"}", "'answer'", "neither an index");
        assertBad("{\"question\": \"q\", \"choices\": [\"a\", \"b\"], \"answer\": 5}", "'answer'", "outside the 2 choices");
        Path empty = tmp.resolve("empty.jsonl");
        Files.writeString(empty, "");
        assertThatThrownBy(() -> ChoiceEval.read(empty)).isInstanceOf(InvalidDataException.class).hasMessageContaining("empty");
    }

    private void assertBad(String record, String... fragments) throws IOException {
        Path f = tmp.resolve("bad.jsonl");
        Files.writeString(f, record + "\n");
        var t = assertThatThrownBy(() -> ChoiceEval.read(f)).isInstanceOf(InvalidDataException.class);
        for (String s : fragments) t.hasMessageContaining(s);
    }
}
