package finetune4j.demo;

import finetune4j.FineTune;
import finetune4j.data.Example;
import finetune4j.data.SyntheticStories;
import finetune4j.engine.tensor.DType;
import finetune4j.generate.GenerationParams;
import finetune4j.generate.GenerationResult;
import finetune4j.generate.Generator;
import finetune4j.model.GenerationConfig;
import finetune4j.model.LlamaModel;
import finetune4j.model.ModelConfig;
import finetune4j.model.RandomInit;
import finetune4j.text.BpeTrainer;
import finetune4j.text.Tokenizer;
import finetune4j.train.LrSchedule;
import finetune4j.train.TrainConfig;
import finetune4j.train.TrainListener;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The built-in demo: a tiny Llama that this project pretrained on its own synthetic story corpus
 * ({@link SyntheticStories}), and an instruction task it cannot do before fine-tuning — answering a
 * question about a story in one word — that a LoRA adapter teaches it in a few minutes on two
 * cores. Scores are exact-match accuracy of greedy answers on held-out stories.
 *
 * <p>The base model shipped in the CLI jar is the output of {@link #makeBase} with the defaults
 * ({@code ./finetune4j demo --make-base DIR} reproduces it).
 */
public final class Demo {
    /** Seeds of the three disjoint story sets: pretraining corpus, fine-tuning data, held-out questions. */
    public static final long PRETRAIN_SEED = 1, TRAIN_SEED = 2, VALID_SEED = 3, HELDOUT_SEED = 4;

    private Demo() {
    }

    /** The base model's shape: 4 layers, width 128, GQA 4/2 heads, tied embeddings (about 0.7 M parameters). */
    static String baseConfigJson(int vocab) {
        return """
                {
                  "architectures": ["LlamaForCausalLM"],
                  "model_type": "llama",
                  "attention_bias": false,
                  "bos_token_id": 1,
                  "eos_token_id": 2,
                  "hidden_act": "silu",
                  "hidden_size": 128,
                  "initializer_range": 0.02,
                  "intermediate_size": 384,
                  "max_position_embeddings": 256,
                  "mlp_bias": false,
                  "num_attention_heads": 4,
                  "num_hidden_layers": 4,
                  "num_key_value_heads": 2,
                  "rms_norm_eps": 1e-05,
                  "rope_scaling": null,
                  "rope_theta": 10000.0,
                  "tie_word_embeddings": true,
                  "torch_dtype": "float32",
                  "vocab_size": %d
                }
                """.formatted(vocab);
    }

    /** Settings of the base model's pretraining. */
    public record PretrainSettings(int stories, int steps, int batchSize, double lr, long seed) {
        public static PretrainSettings defaults() {
            return new PretrainSettings(30_000, 1500, 16, 3e-3, PRETRAIN_SEED);
        }
    }

    /**
     * Makes the demo base model in {@code out}: a byte-level BPE tokenizer trained on the story
     * corpus, a random-initialised model of {@link #baseConfigJson}, full pretraining on the
     * stories (next-token prediction), saved in BF16.
     */
    public static void makeBase(Path out, PretrainSettings s, TrainListener listener) {
        Path work;
        try {
            work = Files.createTempDirectory("finetune4j-demo-base");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Path init = work.resolve("init"), trained = work.resolve("trained");
        String corpus = SyntheticStories.corpus(s.seed(), 3000);
        BpeTrainer.Trained tok = BpeTrainer.train(corpus, 1024, BpeTrainer.Specials.llamaChatMl());
        ModelConfig c = ModelConfig.parse("demo base config", baseConfigJson(tok.vocab().size()));
        RandomInit.write(c, init, s.seed(), 0.02, DType.F32, Long.MAX_VALUE);
        GenerationConfig d = GenerationConfig.defaults();
        new GenerationConfig(tok.id("<s>"), List.of(tok.id("</s>"), tok.id("<|im_end|>")), -1, false, d.temperature(),
                d.topK(), d.topP(), d.minP(), d.repetitionPenalty(), -1, -1).write(init);
        BpeTrainer.write(tok, init, BpeTrainer.CHATML_TEMPLATE, c.maxPositionEmbeddings());

        SyntheticStories g = new SyntheticStories(s.seed() + 1000);
        List<Example> stories = new ArrayList<>(s.stories());
        for (int i = 0; i < s.stories(); i++) stories.add(new Example.Text("stories:" + (i + 1), g.next().text()));
        List<Example> valid = new ArrayList<>();
        SyntheticStories gv = new SyntheticStories(s.seed() + 2000);
        for (int i = 0; i < 64; i++) valid.add(new Example.Text("valid:" + (i + 1), gv.next().text()));
        try (LlamaModel m = LlamaModel.load(init)) {
            Tokenizer t = Tokenizer.load(init);
            TrainConfig cfg = TrainConfig.builder().steps(s.steps()).batchSize(s.batchSize()).maxSeqLen(c.maxPositionEmbeddings())
                    .lr(s.lr()).schedule(LrSchedule.Kind.COSINE).warmup(0.05).weightDecay(0.1).gradClip(1.0)
                    .seed(s.seed()).evalEvery(Math.max(1, s.steps() / 5)).output(trained).build();
            FineTune.full(m, t, List.of(".*")).trainData(stories).validData(valid).config(cfg)
                    .eosId(tok.id("</s>")).describe("task", "pretraining the demo base model").run(listener);
            m.saveModel(out, DType.BF16);
        }
    }

    /** The prompt of a question: the story, the question, and "Answer:". */
    public static String prompt(SyntheticStories.Question q) {
        return q.story() + "\nQuestion: " + q.question() + "\nAnswer:";
    }

    /** Prompt/completion examples of the task (the completion is " " + the one-word answer). */
    public static List<Example> taskExamples(long seed, int n) {
        List<Example> out = new ArrayList<>(n);
        int i = 0;
        for (SyntheticStories.Question q : SyntheticStories.questions(seed, n)) {
            out.add(new Example.PromptCompletion("task:" + (++i), prompt(q), " " + q.answer()));
        }
        return out;
    }

    /** One scored answer. */
    public record Answer(SyntheticStories.Question question, String generated, boolean correct) {
    }

    /** Exact-match accuracy of greedy answers. */
    public record Score(List<Answer> answers) {
        public int correct() {
            int n = 0;
            for (Answer a : answers) if (a.correct()) n++;
            return n;
        }

        public double accuracy() {
            return answers.isEmpty() ? 0 : (double) correct() / answers.size();
        }
    }

    /**
     * Greedy answers (up to 6 new tokens, stopping at EOS or a newline) to {@code questions};
     * correct when the text, trimmed, lower-cased and without a final period, equals the answer.
     */
    public static Score score(LlamaModel m, Tokenizer tok, List<SyntheticStories.Question> questions) {
        Generator g = new Generator(m);
        GenerationParams p = GenerationParams.defaults(m.generationConfig(), m.config())
                .doSample(false).maxNewTokens(6).stopStrings(List.of("\n")).build();
        List<Answer> out = new ArrayList<>();
        for (SyntheticStories.Question q : questions) {
            GenerationResult r = g.generate(tok.encode(prompt(q), true), p, ids -> tok.decode(ids, true), (id, i) -> { });
            String text = tok.decode(r.generatedIds(), true);
            int nl = text.indexOf('\n');
            if (nl >= 0) text = text.substring(0, nl);
            String norm = text.strip().toLowerCase(Locale.ROOT);
            if (norm.endsWith(".")) norm = norm.substring(0, norm.length() - 1);
            out.add(new Answer(q, text.strip(), norm.equals(q.answer().toLowerCase(Locale.ROOT))));
        }
        return new Score(out);
    }
}
