package finetune4j.eval;

import finetune4j.data.DataFormat;
import finetune4j.data.Example;
import finetune4j.data.Message;
import finetune4j.generate.StopReason;
import finetune4j.model.LlamaModel;
import finetune4j.text.ChatTemplates;
import finetune4j.text.Tokenizer;
import finetune4j.text.TokenizerConfig;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Generation-based evaluation: the prompt is the conversation up to its last assistant turn
 * rendered with the generation prompt (by the training template), the stop text is what the
 * template writes after the answer, generation is greedy (checked against an independent argmax
 * loop over the model's logits), and exact match / F1 are the SQuAD metrics of the prediction.
 */
class GenerationEvalTest {
    static final int EOS = 2;

    static Example.Conversation chat(String source, String... turns) {
        List<Message> ms = new ArrayList<>();
        for (int i = 0; i < turns.length; i++) ms.add(Message.of(i % 2 == 0 ? "user" : "assistant", turns[i]));
        return new Example.Conversation(source, DataFormat.MESSAGES, ms, null, -1);
    }

    static ChatTemplates.Choice template(String name) {
        return ChatTemplates.choose(name, TokenizerConfig.load(EvalModels.TINY), "</s>");
    }

    @Test
    void promptIsTheConversationBeforeTheLastAnswerWithTheGenerationPrompt() {
        Tokenizer tok = Tokenizer.load(EvalModels.TINY);
        GenerationEval chatml = new GenerationEval(null, tok, template("chatml"), List.of(EOS), 8);
        GenerationEval.Prompt p = chatml.prompt(chat("f:1", "hi", "hello!", "what is red?", "an apple."));
        assertThat(p.text()).isEqualTo("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nhello!<|im_end|>\n"
                + "<|im_start|>user\nwhat is red?<|im_end|>\n<|im_start|>assistant\n");
        assertThat(p.reference()).isEqualTo("an apple.");
        assertThat(p.stops()).containsExactly("<|im_end|>");
        assertThat(p.ids()).containsExactly(tok.encode(p.text(), false));

        GenerationEval alpaca = new GenerationEval(null, tok, template("alpaca"), List.of(EOS), 8);
        Map<String, Object> user = Map.of("role", "user", "content", "Name a colour.", "instruction", "Name a colour.", "input", "");
        Example.Conversation a = new Example.Conversation("f:2", DataFormat.ALPACA,
                List.of(new Message(user), Message.of("assistant", "Red.")), null, -1);
        GenerationEval.Prompt ap = alpaca.prompt(a);
        assertThat(ap.text()).isEqualTo("Below is an instruction that describes a task. Write a response that appropriately completes"
                + " the request.\n\n### Instruction:\nName a colour.\n\n### Response:");
        assertThat(ap.stops()).containsExactly("</s>");
        assertThat(ap.ids()).as("alpaca is tokenized with the tokenizer's BOS, as in training").containsExactly(tok.encode(ap.text(), true));

        GenerationEval.Prompt pc = chatml.prompt(new Example.PromptCompletion("f:3", "say hi:", " hi!"));
        assertThat(pc.ids()).containsExactly(tok.encode("say hi:", true));
        assertThat(pc.reference()).isEqualTo(" hi!");
    }

    @Test
    void cleanCutsAtTheStopTextAndDropsSpecialTokens() {
        Tokenizer tok = Tokenizer.load(EvalModels.TINY);
        GenerationEval ev = new GenerationEval(null, tok, null, List.of(EOS), 8);
        assertThat(ev.clean("  an apple.<|im_end|>\nmore", List.of("<|im_end|>"))).isEqualTo("an apple.");
        assertThat(ev.clean("<s> red</s>", List.of())).isEqualTo("red");
    }

    /** Greedy decoding by hand: argmax of the last position's logits, until EOS or {@code max} tokens. */
    static int[] greedy(LlamaModel m, int[] prompt, int max) {
        List<Integer> ids = new ArrayList<>();
        for (int id : prompt) ids.add(id);
        int[] out = new int[max];
        int n = 0;
        while (n < max) {
            float[] logits = m.forward(ids.stream().mapToInt(Integer::intValue).toArray());
            int best = 0;
            for (int j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
            out[n++] = best;
            ids.add(best);
            if (best == EOS) break;
        }
        return Arrays.copyOf(out, n);
    }

    @Test
    void greedyPredictionsAreScoredBySquadMetrics() {
        Tokenizer tok = Tokenizer.load(EvalModels.TINY);
        try (LlamaModel m = LlamaModel.load(EvalModels.TINY)) {
            int max = 6;
            GenerationEval ev = new GenerationEval(m, tok, null, List.of(EOS), max);
            int[] expect = greedy(m, tok.encode("q: what is red? a:", true), max);
            String text = ev.clean(tok.decode(expect, false), List.of());
            assertThat(text).as("the tiny model says something").isNotBlank();

            // one reference equal to what the model says (EM 1), one sharing nothing (EM 0, F1 0),
            // one sharing the first word (F1 by hand), and one without a reference (skipped)
            String first = text.split("\\s+")[0];
            List<Example> data = List.of(
                    new Example.PromptCompletion("f:1", "q: what is red? a:", text),
                    new Example.PromptCompletion("f:2", "q: what is red? a:", "zzzz"),
                    new Example.PromptCompletion("f:3", "q: what is red? a:", first + " qqqq"),
                    new Example.Text("f:4", "plain text"));
            GenerationEval.Result r = ev.run(data, null);
            assertThat(r.samples()).hasSize(3);
            assertThat(r.skipped()).singleElement().asString().contains("f:4", "no reference answer");
            GenerationEval.Sample s = r.samples().getFirst();
            assertThat(s.prediction()).isEqualTo(text);
            assertThat(s.generated()).isEqualTo(expect.length);
            assertThat(s.stop()).isEqualTo(expect[expect.length - 1] == EOS ? StopReason.EOS : StopReason.LENGTH);
            assertThat(s.exactMatch()).isTrue();
            assertThat(s.f1()).isEqualTo(1.0);
            assertThat(r.samples().get(1).exactMatch()).isFalse();
            assertThat(r.samples().get(1).f1()).isZero();
            double f1 = AnswerMetrics.f1(text, first + " qqqq");
            assertThat(r.samples().get(2).f1()).isEqualTo(f1);
            int n = AnswerMetrics.normalize(text).split(" ").length;
            if (!AnswerMetrics.normalize(first).isEmpty()) {
                double p = 1.0 / n, rc = 1.0 / 2;                  // one shared token of n predicted and 2 reference tokens
                assertThat(f1).isCloseTo(2 * p * rc / (p + rc), org.assertj.core.data.Offset.offset(1e-12));
            }
            assertThat(r.exactMatch()).isCloseTo(1.0 / 3, org.assertj.core.data.Offset.offset(1e-12));
            assertThat(r.f1()).isCloseTo((1.0 + 0 + f1) / 3, org.assertj.core.data.Offset.offset(1e-12));
        }
    }

    @Test
    void aPromptThatFillsTheContextIsSkipped() {
        Tokenizer tok = Tokenizer.load(EvalModels.TINY);
        try (LlamaModel m = LlamaModel.load(EvalModels.TINY)) {
            GenerationEval ev = new GenerationEval(m, tok, null, List.of(EOS), 4);
            String longPrompt = "the cat sat on the mat. ".repeat(20);
            GenerationEval.Result r = ev.run(List.of(new Example.PromptCompletion("f:9", longPrompt, "x")), null);
            assertThat(r.samples()).isEmpty();
            assertThat(r.skipped()).singleElement().asString().contains("f:9", "leaves no room", "context of 64");
            assertThat(r.exactMatch()).isNaN();
        }
    }
}
