package finetune4j.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import finetune4j.ConfigException;
import finetune4j.batch.Batch;
import finetune4j.batch.DataPipeline;
import finetune4j.batch.Packer;
import finetune4j.batch.Tokenized;
import finetune4j.data.BadRecords;
import finetune4j.data.DatasetFiles;
import finetune4j.data.DatasetReader;
import finetune4j.data.Example;
import finetune4j.eval.ChoiceEval;
import finetune4j.eval.GenerationEval;
import finetune4j.model.LlamaModel;
import finetune4j.model.TrainingBuffers;
import finetune4j.text.Tokenizer;
import finetune4j.text.TokenizerConfig;
import finetune4j.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code eval}: the loss of a model (with adapters) on a dataset, as training defines it; with
 * {@code --generate}, greedy generation scored by exact match and token F1; with {@code --choices}
 * (or MMLU-style records), multiple-choice accuracy by log-likelihood.
 */
@Command(name = "eval", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Evaluate a model (with --adapter) on a dataset. Default: the mean loss over the target tokens, exactly as"
                + " training computes it (same formats, template, --train-on masks and cuts), and perplexity. --generate also"
                + " generates greedily for each example and reports exact match and token F1 against the reference answers"
                + " (SQuAD normalisation). --choices (automatic for records with question/choices/answer) scores multiple-choice"
                + " questions by log-likelihood: acc and acc_norm, as lm-evaluation-harness.")
final class EvalCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOption model = new ModelOption();

    @Mixin
    KernelsOption kernels = new KernelsOption();

    @Mixin
    QuantOption quant = new QuantOption();

    @Mixin
    AdapterOptions adapters = new AdapterOptions();

    @Mixin
    DataArgs dataArgs = new DataArgs();

    @Mixin
    SplitArgs split = new SplitArgs();

    @Option(names = "--split", paramLabel = "PART",
            description = "Which examples: train, valid or test. Default: a data directory's test file, else its valid file; with"
                    + " --valid-ratio/--valid-count the held-out examples (the ones train held out with the same options and"
                    + " --seed); else the whole file.")
    String part;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "0", description = "Seed of the validation split (train's --seed; default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--limit", paramLabel = "N", defaultValue = "0", description = "Evaluate only the first N examples (0: all).")
    int limit;

    @Option(names = "--batch-size", defaultValue = "4", description = "Sequences per forward pass (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--generate", description = "Also generate greedily from each example's prompt (the conversation up to its last"
            + " assistant turn, with the generation prompt; or the prompt of a prompt/completion record) and score the answer"
            + " against the reference: exact match and token F1.")
    boolean generate;

    @Option(names = "--max-new-tokens", paramLabel = "N", defaultValue = "128",
            description = "Most tokens generated per example with --generate (default: ${DEFAULT-VALUE}).")
    int maxNewTokens;

    @Option(names = "--choices", description = "Multiple-choice scoring of records {question, choices, answer} (index, letter or"
            + " text); automatic when the first record has those keys.")
    boolean choices;

    @Option(names = "--choice-style", paramLabel = "STYLE", defaultValue = "cloze",
            description = "cloze: context 'Question: {q}\\nAnswer:', continuations ' {choice}' (default); letters: the MMLU prompt"
                    + " listing 'A. ...' and continuations ' A', ' B', ...")
    String choiceStyle;

    @Option(names = "--json", description = "Print one JSON object (loss, tokens, perplexity; generation and multiple-choice"
            + " results with every example).")
    boolean json;

    @Override
    public Integer call() {
        if (batchSize < 1) throw new ConfigException("--batch-size", batchSize, "an integer ≥ 1");
        if (limit < 0) throw new ConfigException("--limit", limit, "an integer ≥ 0 (0: all)");
        Path dir = model.resolve();
        Tokenizer tok = Tokenizer.load(dir);
        int context = DataArgs.context(dir);
        int len = dataArgs.maxSeqLen == null ? context : dataArgs.maxSeqLen;
        if (len > context) throw new ConfigException("--max-seq-len", len, "at most the model's context of " + context);
        if (choices || looksLikeChoices(dataArgs.data)) return multipleChoice(dir, tok);

        DataPipeline.Options opts = split.apply(dataArgs.builder(len, BadRecords.Policy.FAIL), seed).build();
        DataPipeline pipeline = new DataPipeline(opts, tok, TokenizerConfig.load(dir));
        DataPipeline.Part which = part != null ? DataPipeline.Part.parse(part) : defaultPart(opts);
        List<DataPipeline.Item> items = pipeline.items(dataArgs.data, null, which);
        if (limit > 0 && items.size() > limit) items = items.subList(0, limit);
        List<Tokenized> rows = new ArrayList<>(items.size());
        for (DataPipeline.Item it : items) rows.add(it.kept());
        if (opts.packing()) rows = Packer.pack(rows, len);
        int maxT = 1;
        for (Tokenized t : rows) maxT = Math.max(maxT, t.length());
        if (rows.isEmpty()) {
            throw new ConfigException(dataArgs.data + ": no examples to evaluate in the " + which.id() + " split"
                    + " (hint: --split, or --valid-ratio / --valid-count as given to train)");
        }
        PrintWriter o = spec.commandLine().getOut();
        try (LlamaModel m = quant.load(dir, kernels.get())) {
            adapters.attach(m, spec);
            TrainingBuffers buf = TrainingBuffers.allocate(m.config(), batchSize, maxT, false);
            double[] r = Trainer.evaluate(m, buf, new Batch(batchSize, maxT), rows, batchSize);
            if (r[1] == 0) {
                throw new ConfigException(dataArgs.data + ": none of the " + rows.size() + " examples has a target token"
                        + " (every label is masked; hint: check --train-on and --format)");
            }
            GenerationEval.Result g = null;
            if (generate) {
                List<Example> examples = new ArrayList<>(items.size());
                for (DataPipeline.Item it : items) examples.add(it.example());
                boolean conversations = examples.stream().anyMatch(e -> e instanceof Example.Conversation);
                GenerationEval ge = new GenerationEval(m, tok, conversations ? pipeline.exampleTokenizer().template() : null,
                        ChatSupport.chatEos(dir, tok, m), maxNewTokens);
                PrintWriter err = spec.commandLine().getErr();
                int[] done = {0};
                g = ge.run(examples, s -> {
                    if (!json && ++done[0] % 10 == 0) {
                        err.printf(Locale.ROOT, "generated %d/%d%n", done[0], examples.size());
                        err.flush();
                    }
                });
            }
            if (json) {
                ObjectNode n = Json.object();
                n.put("split", which.id());
                n.put("examples", items.size());
                n.put("loss", r[0]);
                n.put("tokens", (long) r[1]);
                n.put("perplexity", Math.exp(r[0]));
                if (g != null) n.set("generation", json(g));
                Json.print(o, n);
            } else {
                o.printf(Locale.ROOT, "loss %.6f over %,d target tokens, perplexity %.4f (%s: %,d examples)%n", r[0], (long) r[1],
                        Math.exp(r[0]), which.id(), items.size());
                if (g != null) {
                    o.printf(Locale.ROOT, "generation: exact match %.4f, token F1 %.4f over %,d examples (greedy, at most %d new tokens)%n",
                            g.exactMatch(), g.f1(), g.samples().size(), maxNewTokens);
                    if (!g.skipped().isEmpty()) {
                        o.printf("skipped %d examples:%n", g.skipped().size());
                        for (String s : g.skipped()) o.println("  " + Cli.oneLine(s));
                    }
                }
                o.flush();
            }
        }
        return 0;
    }

    /** A data directory's test file, else its valid file; the held-out split when asked for; else the whole file. */
    private DataPipeline.Part defaultPart(DataPipeline.Options opts) {
        DatasetFiles files = DatasetFiles.resolve(dataArgs.data);
        if (files.test() != null) return DataPipeline.Part.TEST;
        if (files.valid() != null || opts.validRatio() > 0 || opts.validCount() > 0) return DataPipeline.Part.VALID;
        return DataPipeline.Part.TRAIN;
    }

    private static ObjectNode json(GenerationEval.Result g) {
        ObjectNode n = Json.object();
        n.put("examples", g.samples().size());
        n.put("exact_match", g.exactMatch());
        n.put("f1", g.f1());
        n.put("normalisation", "squad: lower case, no punctuation, no articles (a, an, the), single spaces");
        ArrayNode skipped = n.putArray("skipped");
        g.skipped().forEach(skipped::add);
        ArrayNode samples = n.putArray("samples");
        for (GenerationEval.Sample s : g.samples()) {
            ObjectNode x = samples.addObject();
            x.put("source", s.source());
            x.put("reference", s.reference());
            x.put("prediction", s.prediction());
            x.put("exact_match", s.exactMatch());
            x.put("f1", s.f1());
            x.put("prompt_tokens", s.promptTokens());
            x.put("generated_tokens", s.generated());
            x.put("stop", s.stop().label());
        }
        return n;
    }

    /** Whether the first record of the data (a file, or a directory's evaluated file) is a multiple-choice question. */
    private boolean looksLikeChoices(Path data) {
        DatasetFiles files = DatasetFiles.resolve(data);
        Path f = files.test() != null ? files.test() : files.valid() != null ? files.valid() : files.train();
        if (!Files.isRegularFile(f)) return false;
        boolean[] mc = {false};
        final class First extends RuntimeException {
            First() {
                super(null, null, false, false);
            }
        }
        try {
            DatasetReader.forEach(f, r -> {
                mc[0] = ChoiceEval.looksLikeChoices(r.json());
                throw new First();
            }, new BadRecords(BadRecords.Policy.SKIP));
        } catch (First stop) {
            // the first record was seen
        }
        return mc[0];
    }

    private Integer multipleChoice(Path dir, Tokenizer tok) {
        DatasetFiles files = DatasetFiles.resolve(dataArgs.data);
        Path f = files.train();
        if (part != null) {
            f = switch (DataPipeline.Part.parse(part)) {
                case TRAIN -> files.train();
                case VALID -> files.valid();
                case TEST -> files.test();
            };
            if (f == null) throw new ConfigException("--split", part, "a part that exists in " + dataArgs.data);
        } else if (files.test() != null) {
            f = files.test();
        } else if (files.valid() != null) {
            f = files.valid();
        }
        List<ChoiceEval.Question> qs = ChoiceEval.read(f);
        if (limit > 0 && qs.size() > limit) qs = qs.subList(0, limit);
        ChoiceEval.Style style = ChoiceEval.Style.parse(choiceStyle);
        PrintWriter o = spec.commandLine().getOut();
        try (LlamaModel m = LlamaModel.load(dir, kernels.get())) {
            adapters.attach(m, spec);
            ChoiceEval.Result r = new ChoiceEval(m, tok, style).run(qs, null);
            if (json) {
                ObjectNode n = Json.object();
                n.put("task", "multiple_choice");
                n.put("file", f.toString());
                n.put("style", style.name().toLowerCase(Locale.ROOT));
                n.put("questions", r.questions().size());
                n.put("acc", r.acc());
                n.put("acc_norm", r.accNorm());
                ArrayNode a = n.putArray("results");
                for (ChoiceEval.Scored s : r.questions()) {
                    ObjectNode x = a.addObject();
                    x.put("source", s.question().source());
                    x.put("answer", s.question().answer());
                    x.put("predicted", s.predicted());
                    x.put("predicted_norm", s.predictedNorm());
                    ArrayNode ll = x.putArray("log_likelihoods");
                    for (double v : s.logLikelihoods()) ll.add(v);
                }
                Json.print(o, n);
            } else {
                o.printf(Locale.ROOT, "multiple choice (%s): acc %.4f, acc_norm %.4f over %,d questions%n",
                        style.name().toLowerCase(Locale.ROOT), r.acc(), r.accNorm(), r.questions().size());
                o.flush();
            }
        }
        return 0;
    }
}
