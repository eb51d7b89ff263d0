package finetune4j.eval;

import finetune4j.ConfigException;
import finetune4j.InvalidDataException;
import finetune4j.data.Example;
import finetune4j.data.Message;
import finetune4j.generate.GenerationParams;
import finetune4j.generate.GenerationResult;
import finetune4j.generate.Generator;
import finetune4j.generate.StopReason;
import finetune4j.model.LlamaModel;
import finetune4j.text.ChatMessage;
import finetune4j.text.ChatTemplate;
import finetune4j.text.ChatTemplates;
import finetune4j.text.Tokenizer;
import finetune4j.text.jinja.TemplateException;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Generation-based evaluation ({@code eval --generate}): for each held-out example, greedy
 * generation from its prompt, compared with its reference answer by exact match and token F1
 * ({@link AnswerMetrics}, SQuAD normalisation).
 *
 * <ul>
 *   <li><b>Conversations</b> (chat, Alpaca, Dolly, ShareGPT, OpenAssistant...): the prompt is the
 *       conversation up to its last assistant turn, rendered by the same chat template as in
 *       training with the generation prompt ({@code add_generation_prompt=True}) and tokenized as
 *       training tokenizes it (with the tokenizer's special tokens only for {@code alpaca}); the
 *       reference is the text of that last assistant turn. Earlier assistant turns are part of the
 *       prompt.</li>
 *   <li><b>Prompt/completion</b>: the prompt text (encoded with the tokenizer's special tokens, as in
 *       training); the reference is the completion.</li>
 *   <li>Plain text has no reference: such examples are skipped and counted.</li>
 * </ul>
 * Generation stops at an EOS id, at the text the template writes after an assistant turn (e.g.
 * {@code <|im_end|>}, found by rendering the reference turn), or after {@code maxNewTokens} (fewer
 * when the context is shorter). The prediction is the generated text cut before the first stop
 * text, without special tokens, trimmed. Examples whose prompt fills the context are skipped and
 * counted.
 */
public final class GenerationEval {
    private final LlamaModel model;
    private final Tokenizer tokenizer;
    private final ChatTemplates.Choice template;       // null: conversations are refused
    private final List<Integer> eosIds;
    private final int maxNewTokens;
    private final List<String> specialTexts = new ArrayList<>();

    /**
     * @param template     the template conversations were trained with (null if there are none)
     * @param eosIds       ids that end generation (the model's eos ids and the tokenizer's eos_token)
     * @param maxNewTokens most tokens generated per example
     */
    public GenerationEval(LlamaModel model, Tokenizer tokenizer, ChatTemplates.Choice template, List<Integer> eosIds,
                          int maxNewTokens) {
        if (maxNewTokens < 1) throw new ConfigException("--max-new-tokens", maxNewTokens, "an integer ≥ 1");
        this.model = model;
        this.tokenizer = tokenizer;
        this.template = template;
        this.eosIds = List.copyOf(eosIds);
        this.maxNewTokens = maxNewTokens;
        for (int id : tokenizer.specialIds()) {
            String s = tokenizer.idToToken(id);
            if (s != null && !s.isEmpty()) specialTexts.add(s);
        }
    }

    /**
     * What one example is asked and what it should answer.
     *
     * @param text      the prompt text (as rendered)
     * @param ids       its token ids
     * @param reference the reference answer
     * @param stops     texts that end the answer (the template's end of turn), maybe none
     */
    public record Prompt(String source, String text, int[] ids, String reference, List<String> stops) {
        public Prompt {
            stops = List.copyOf(stops);
        }
    }

    /**
     * One scored example.
     *
     * @param prediction the generated answer (cut at the first stop text, special tokens removed, trimmed)
     * @param generated  tokens generated (the stopping token included)
     */
    public record Sample(String source, String reference, String prediction, int promptTokens, int generated,
                         StopReason stop, boolean exactMatch, double f1) {
    }

    /** The scored examples and the skipped ones ({@code source: reason}). */
    public record Result(List<Sample> samples, List<String> skipped) {
        public Result {
            samples = List.copyOf(samples);
            skipped = List.copyOf(skipped);
        }

        /** Mean exact match over the samples (NaN when there are none). */
        public double exactMatch() {
            double s = 0;
            for (Sample x : samples) s += x.exactMatch() ? 1 : 0;
            return samples.isEmpty() ? Double.NaN : s / samples.size();
        }

        /** Mean token F1 over the samples (NaN when there are none). */
        public double f1() {
            double s = 0;
            for (Sample x : samples) s += x.f1();
            return samples.isEmpty() ? Double.NaN : s / samples.size();
        }
    }

    /**
     * The prompt and reference of {@code e}.
     *
     * @throws InvalidDataException for plain text, a conversation whose last assistant turn has no
     *                              text (tool calls only), or one the template cannot render
     * @throws ConfigException      for a conversation when no template was given
     */
    public Prompt prompt(Example e) {
        return switch (e) {
            case Example.Text t -> throw new InvalidDataException(t.source(), 0, null,
                    "plain text has no reference answer (generation needs prompt/completion or conversation records)");
            case Example.PromptCompletion pc ->
                    new Prompt(pc.source(), pc.prompt(), tokenizer.encode(pc.prompt(), true), pc.completion(), List.of());
            case Example.Conversation c -> conversation(c);
        };
    }

    private Prompt conversation(Example.Conversation c) {
        if (template == null) {
            throw new ConfigException(c.source() + " is a conversation, which needs a chat template (hint: --template chatml)");
        }
        List<Message> ms = c.messages();
        int k = ms.size() - 1;
        while (k >= 0 && !"assistant".equals(ms.get(k).role())) k--;
        if (k < 0) throw new InvalidDataException(c.source(), 0, null, "no assistant turn: nothing to compare with");
        String reference = ms.get(k).text();
        if (reference == null || reference.isBlank()) {
            throw new InvalidDataException(c.source(), 0, "messages[" + k + "].content", "the last assistant turn has no text"
                    + " to compare with (tool calls only?)");
        }
        List<ChatMessage> chat = new ArrayList<>(k + 1);
        for (int i = 0; i <= k; i++) chat.add(ChatMessage.fromMap(ms.get(i).fields()));
        String prompt = render(c, chat.subList(0, k), true);
        String full = render(c, chat, false);
        List<String> stops = new ArrayList<>();
        if (full.startsWith(prompt)) {                          // the template's text after the answer
            String turn = full.substring(prompt.length());
            int at = turn.indexOf(reference);
            if (at >= 0) {
                String end = turn.substring(at + reference.length()).strip();
                if (!end.isEmpty()) stops.add(end);
            }
        }
        return new Prompt(c.source(), prompt, tokenizer.encode(prompt, template.addSpecialTokens()), reference, stops);
    }

    private String render(Example.Conversation c, List<ChatMessage> messages, boolean generationPrompt) {
        try {
            return template.template().render(ChatTemplate.Request.of(messages, generationPrompt).withTools(c.tools())).text();
        } catch (TemplateException ex) {
            throw new InvalidDataException(c.source(), 0, null, "chat template: " + ex.getMessage());
        }
    }

    /**
     * Greedy generation from {@code p}, scored; null when the prompt leaves no room in the context.
     */
    public Sample generate(Prompt p) {
        int room = Math.min(maxNewTokens, model.maxContext() - p.ids().length);
        if (room < 1 || p.ids().length == 0) return null;
        List<String> stops = new ArrayList<>(p.stops());
        GenerationParams params = GenerationParams.builder().maxNewTokens(room).doSample(false).seed(0)
                .eosTokenIds(eosIds).stopStrings(stops).build();
        GenerationResult r = new Generator(model).generate(p.ids(), params, ids -> tokenizer.decode(ids, false), (id, i) -> { });
        String prediction = clean(tokenizer.decode(r.generatedIds(), false), stops);
        return new Sample(p.source(), p.reference(), prediction, p.ids().length, r.generatedIds().length, r.stopReason(),
                AnswerMetrics.exactMatch(prediction, p.reference()), AnswerMetrics.f1(prediction, p.reference()));
    }

    /** The generated text cut before the first stop text, without special tokens, trimmed. */
    String clean(String text, List<String> stops) {
        int cut = text.length();
        for (String s : stops) {
            int at = text.indexOf(s);
            if (at >= 0) cut = Math.min(cut, at);
        }
        String t = text.substring(0, cut);
        for (String s : specialTexts) t = t.replace(s, "");
        return t.strip();
    }

    /**
     * Generates for every example in order, calling {@code each} after each scored one; examples
     * without a reference or with a prompt that fills the context are skipped and listed.
     */
    public Result run(List<Example> examples, Consumer<Sample> each) {
        List<Sample> out = new ArrayList<>();
        List<String> skipped = new ArrayList<>();
        for (Example e : examples) {
            Prompt p;
            try {
                p = prompt(e);
            } catch (InvalidDataException ex) {
                skipped.add(ex.getMessage());
                continue;
            }
            Sample s = generate(p);
            if (s == null) {
                skipped.add(e.source() + ": the prompt (" + p.ids().length + " tokens) leaves no room in the model's context of "
                        + model.maxContext());
                continue;
            }
            out.add(s);
            if (each != null) each.accept(s);
        }
        return new Result(out, skipped);
    }
}
