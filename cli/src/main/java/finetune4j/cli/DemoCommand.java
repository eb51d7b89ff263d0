package finetune4j.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import finetune4j.ConfigException;
import finetune4j.FineTune;
import finetune4j.Finetune4jException;
import finetune4j.data.SyntheticStories;
import finetune4j.demo.Demo;
import finetune4j.model.LlamaModel;
import finetune4j.peft.LoraAdapter;
import finetune4j.peft.LoraConfig;
import finetune4j.peft.PeftAdapter;
import finetune4j.text.Tokenizer;
import finetune4j.train.MetricsLog;
import finetune4j.train.ProgressDisplay;
import finetune4j.train.TrainConfig;
import finetune4j.train.TrainListener;
import finetune4j.train.TrainReport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code demo}: the whole job on a built-in default — a small base model this project pretrained,
 * a LoRA fine-tune on a built-in instruction task, held-out scores before and after.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Fine-tune the built-in base model (a 0.7M-parameter Llama pretrained by this project on synthetic"
                + " stories) with LoRA to answer questions about a story, and show held-out answers and exact-match"
                + " accuracy before and after. No download. The adapter, metrics and report land in --output.")
final class DemoCommand implements Callable<Integer> {
    static final String BASE_RESOURCE = "/finetune4j/demo/base/";
    static final List<String> BASE_FILES = List.of("config.json", "generation_config.json", "model.safetensors",
            "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json");

    @Spec
    CommandSpec spec;

    @Option(names = "--output", defaultValue = "demo-output", paramLabel = "DIR",
            description = "Where the adapter, metrics.jsonl, report.html, demo-summary.json and a copy of the base model (base-model/) go (default: ${DEFAULT-VALUE}).")
    Path output;

    @Option(names = "--steps", defaultValue = "500", description = "LoRA training steps (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--lr", defaultValue = "3e-3", description = "Peak learning rate, cosine decay (default: ${DEFAULT-VALUE}).")
    double lr;

    @Option(names = "--rank", defaultValue = "8", description = "LoRA rank (alpha = 2·rank; default: ${DEFAULT-VALUE}).")
    int rank;

    @Option(names = "--heldout", defaultValue = "60", description = "Held-out questions scored (default: ${DEFAULT-VALUE}).")
    int heldout;

    @Option(names = "--base", paramLabel = "DIR", description = "Use this base model instead of the built-in one.")
    Path base;

    @Option(names = "--make-base", paramLabel = "DIR",
            description = "Instead of the demo: pretrain the base model from scratch into DIR (reproduces the built-in one).")
    Path makeBase;

    @Option(names = "--json", description = "Print a summary as one JSON object at the end.")
    boolean json;

    @Override
    public Integer call() throws IOException {
        PrintWriter err = spec.commandLine().getErr();
        if (makeBase != null) {
            Demo.makeBase(makeBase, Demo.PretrainSettings.defaults(), ProgressDisplay.console());
            err.println("base model written to " + makeBase.toAbsolutePath());
            err.flush();
            return 0;
        }
        if (steps < 1) throw new ConfigException("--steps", steps, "an integer ≥ 1");
        if (heldout < 1) throw new ConfigException("--heldout", heldout, "an integer ≥ 1");
        Path baseDir = base != null ? base : extractBase(output.resolve("base-model"));
        PrintWriter out = spec.commandLine().getOut();
        Tokenizer tok = Tokenizer.load(baseDir);
        List<SyntheticStories.Question> questions = SyntheticStories.questions(Demo.HELDOUT_SEED, heldout);
        Demo.Score before, after;
        FineTune.Result result;
        try (LlamaModel m = LlamaModel.load(baseDir)) {
            say(out, "finetune4j demo: teach a small model to answer questions about a story (LoRA, no download)\n");
            say(out, String.format(Locale.ROOT, "base model: %s, %,d parameters, pretrained by this project on synthetic stories",
                    base != null ? base : "built-in", m.parameterCount()));
            say(out, "task: \"<story>\\nQuestion: <question>\\nAnswer:\" -> one word; scored by exact match on "
                    + heldout + " held-out stories\n");
            before = Demo.score(m, tok, questions);
            say(out, String.format(Locale.ROOT, "BEFORE fine-tuning: %d/%d correct (%.0f%%)", before.correct(),
                    questions.size(), 100 * before.accuracy()));
            samples(out, before);

            LoraConfig lora = LoraConfig.builder().r(rank).loraAlpha(2.0 * rank).loraDropout(0.0)
                    .targetModules(LoraConfig.Targets.parse("all-linear")).taskType("CAUSAL_LM")
                    .baseModelNameOrPath("finetune4j-demo-base").build();
            TrainConfig cfg = TrainConfig.builder().steps(steps).batchSize(8).maxSeqLen(m.maxContext()).lr(lr)
                    .schedule(finetune4j.train.LrSchedule.Kind.COSINE).warmup(0.05).evalEvery(Math.max(1, steps / 4)).seed(0).output(output).build();
            say(out, String.format(Locale.ROOT, "%nfine-tuning: LoRA r=%d, alpha=%d on all linear layers, %d steps of 8 examples, AdamW lr %s (cosine)",
                    rank, 2 * rank, steps, lr));
            MetricsLog metrics = MetricsLog.create(output);
            try {
                result = FineTune.lora(m, tok, lora)
                        .trainData(Demo.taskExamples(Demo.TRAIN_SEED, 4000))
                        .validData(Demo.taskExamples(Demo.VALID_SEED, 64))
                        .config(cfg).eosId(FineTune.eosId(baseDir, tok))
                        .describe("task", "demo: questions about a story").describe("base", "finetune4j demo base")
                        .run(TrainListener.of(List.of(metrics, ProgressDisplay.console(),
                                new TrainReport(output.resolve(TrainReport.FILE)))));
            } finally {
                metrics.close();
            }
            say(out, result.summary());
        }
        // score with the adapter as saved, loaded the way a user would load it
        try (LlamaModel m = LlamaModel.load(baseDir)) {
            LoraAdapter.attach(m, PeftAdapter.load(output), 0, 1f);
            after = Demo.score(m, tok, questions);
        }
        say(out, String.format(Locale.ROOT, "\nAFTER fine-tuning: %d/%d correct (%.0f%%)  [before: %d/%d]", after.correct(),
                questions.size(), 100 * after.accuracy(), before.correct(), questions.size()));
        samples(out, after);
        Path summary = output.resolve("demo-summary.json");
        ObjectNode n = Json.object();
        n.put("heldout_questions", questions.size());
        n.put("correct_before", before.correct());
        n.put("correct_after", after.correct());
        n.put("accuracy_before", before.accuracy());
        n.put("accuracy_after", after.accuracy());
        n.put("val_loss", result.training().finalValLoss());
        n.put("train_steps", result.training().end().step());
        n.put("seconds", result.training().end().elapsedS());
        n.put("adapter", output.toAbsolutePath().toString());
        n.put("report", output.resolve(TrainReport.FILE).toAbsolutePath().toString());
        ArrayNode a = n.putArray("answers_after");
        for (Demo.Answer ans : after.answers()) {
            a.addObject().put("question", ans.question().question()).put("expected", ans.question().answer())
                    .put("generated", ans.generated()).put("correct", ans.correct());
        }
        finetune4j.internal.AtomicFiles.writeString(summary, Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(n));
        say(out, "\nadapter (PEFT format): " + output.toAbsolutePath());
        say(out, "report:                " + output.resolve(TrainReport.FILE).toAbsolutePath());
        say(out, "metrics:               " + output.resolve(MetricsLog.FILE).toAbsolutePath());
        say(out, "summary:               " + summary.toAbsolutePath());
        say(out, "base model:            " + baseDir.toAbsolutePath());
        say(out, "try it:  ./finetune4j generate --model " + baseDir + " --adapter " + output
                + " --prompt \"$(printf 'Tom had a red kite. Tom went to the park with Mia.\\nQuestion: Who went with Tom?\\nAnswer:')\"");
        if (json) Json.print(out, n);
        return 0;
    }

    private static void say(PrintWriter out, String s) {
        out.println(s);
        out.flush();
    }

    private static void samples(PrintWriter out, Demo.Score s) {
        for (int i = 0; i < Math.min(3, s.answers().size()); i++) {
            Demo.Answer a = s.answers().get(i);
            out.printf(Locale.ROOT, "  Q: %s  expected: %s  model: %s %s%n", a.question().question(), a.question().answer(),
                    a.generated().isEmpty() ? "(nothing)" : '"' + a.generated() + '"', a.correct() ? "✓" : "✗");
        }
        out.flush();
    }

    /** Copies the base model shipped in the jar into {@code dir} (each file atomically). */
    private static Path extractBase(Path dir) throws IOException {
        Files.createDirectories(dir);
        for (String f : BASE_FILES) {
            try (InputStream in = DemoCommand.class.getResourceAsStream(BASE_RESOURCE + f)) {
                if (in == null) {
                    throw new Finetune4jException("the built-in demo base model is missing " + f + " (resource "
                            + BASE_RESOURCE + f + "); hint: rebuild the jar, or recreate it with demo --make-base DIR");
                }
                finetune4j.internal.AtomicFiles.write(dir.resolve(f), in.readAllBytes());
            }
        }
        return dir;
    }
}
