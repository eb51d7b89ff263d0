package finetune4j.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import finetune4j.ConfigException;
import finetune4j.FineTune;
import finetune4j.batch.DataPipeline;
import finetune4j.batch.DataReport;
import finetune4j.data.BadRecords;
import finetune4j.model.LlamaModel;
import finetune4j.peft.LoraConfig;
import finetune4j.peft.PeftAdapter;
import finetune4j.text.Tokenizer;
import finetune4j.text.TokenizerConfig;
import finetune4j.train.Checkpoint;
import finetune4j.train.LrSchedule;
import finetune4j.train.ProgressDisplay;
import finetune4j.train.TrainConfig;
import finetune4j.train.TrainListener;
import finetune4j.train.TrainReport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code train}: fine-tune a model on a dataset; the adapter lands in --output as a PEFT directory. */
@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Fine-tune a model with LoRA, DoRA or full fine-tuning. The result lands in --output: a PEFT"
                + " adapter (adapter_config.json + adapter_model.safetensors) or, for --method full, a Hugging Face model"
                + " directory; plus metrics.jsonl, report.html and checkpoints. Settings may come from a YAML file"
                + " (--config, keys named like the flags); flags override it.")
final class TrainCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--config", paramLabel = "FILE", description = "YAML file of settings (keys like the flags: lr, max-seq-len, ...).")
    Path configFile;

    @Mixin
    ModelOption model = new ModelOption();

    @Mixin
    KernelsOption kernels = new KernelsOption();

    @Mixin
    DataArgs dataArgs = new DataArgs();

    @Mixin
    QuantOption quant = new QuantOption();

    @Mixin
    SplitArgs split = new SplitArgs();

    @Option(names = "--valid-data", paramLabel = "FILE",
            description = "Validation data (same formats; replaces a data directory's valid.jsonl and --valid-ratio/--valid-count).")
    Path validData;

    @Option(names = "--method", defaultValue = "lora", paramLabel = "lora|dora|qlora|qdora|full",
            description = "Method (default: ${DEFAULT-VALUE}). qlora / qdora: LoRA / DoRA over a 4-bit base (the model as"
                    + " stored when it is a 4-bit checkpoint, else quantized on load: NF4, blocks of 64, double quantization,"
                    + " or as --quant-type / --quant-blocksize / --no-double-quant say), with gradient checkpointing on.")
    String method;

    @Option(names = "--rank", defaultValue = "8", description = "LoRA rank r (default: ${DEFAULT-VALUE}).")
    int rank;

    @Option(names = "--alpha", defaultValue = "16", description = "LoRA alpha; scaling = alpha/r (default: ${DEFAULT-VALUE}).")
    double alpha;

    @Option(names = "--dropout", description = "LoRA dropout (default: 0, or the --init-adapter's lora_dropout).")
    Double dropout;

    @Option(names = "--rslora", description = "rsLoRA scaling alpha/sqrt(r).")
    boolean rslora;

    @Option(names = "--target", split = ",", paramLabel = "MODULES",
            description = "Target modules: names (q_proj,v_proj), 'all-linear', or a regex (re:...). Full fine-tuning:"
                    + " regexes of parameter names (default: all). LoRA default: q_proj,v_proj.")
    List<String> target;

    @Option(names = "--lr", defaultValue = "2e-4", description = "Peak learning rate (default: ${DEFAULT-VALUE}).")
    double lr;

    @Option(names = "--optimizer", defaultValue = "adamw", paramLabel = "adamw|sgd", description = "Optimizer (default: ${DEFAULT-VALUE}).")
    String optimizer;

    @Option(names = "--schedule", defaultValue = "constant", paramLabel = "constant|constant_with_warmup|linear|cosine",
            description = "LR schedule (default: ${DEFAULT-VALUE}); all but constant start with --warmup steps of linear warmup.")
    String schedule;

    @Option(names = "--warmup", defaultValue = "0", description = "Warmup steps (or a fraction of the run when < 1; default: ${DEFAULT-VALUE}).")
    double warmup;

    @Option(names = "--weight-decay", defaultValue = "0.0", description = "Weight decay (biases and norms excluded; default: ${DEFAULT-VALUE}).")
    double weightDecay;

    @Option(names = "--steps", defaultValue = "0", description = "Optimizer steps (0: use --epochs).")
    long steps;

    @Option(names = "--epochs", defaultValue = "1", description = "Epochs when --steps is 0 (default: ${DEFAULT-VALUE}).")
    double epochs;

    @Option(names = "--batch-size", defaultValue = "4", description = "Sequences per micro-batch (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--grad-accum", defaultValue = "1", description = "Micro-batches per step, token-weighted (default: ${DEFAULT-VALUE}).")
    int gradAccum;

    @Option(names = "--grad-clip", defaultValue = "1.0", description = "Clip the global gradient norm; 0 disables (default: ${DEFAULT-VALUE}).")
    double gradClip;

    @Option(names = "--grad-checkpoint", negatable = true,
            description = "Gradient checkpointing: recompute each layer during backward (default: on for qlora/qdora, off otherwise).")
    Boolean gradCheckpoint;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of data order, init and dropout (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--no-shuffle", description = "Keep the file order.")
    boolean noShuffle;

    @Option(names = "--output", required = true, paramLabel = "DIR", description = "Output directory.")
    Path output;

    @Option(names = "--resume", paramLabel = "DIR", description = "Resume from a checkpoint directory (or an output directory: its latest checkpoint).")
    Path resume;

    @Option(names = "--init-adapter", paramLabel = "DIR",
            description = "Start from an existing PEFT adapter; its config fixes method, rank, alpha and targets.")
    Path initAdapter;

    @Option(names = "--save-every", defaultValue = "0", description = "Checkpoint every N steps (default: none).")
    long saveEvery;

    @Option(names = "--eval-every", defaultValue = "0", description = "Validate every N steps (always at the end).")
    long evalEvery;

    @Option(names = "--keep-checkpoints", defaultValue = "3", description = "Checkpoints kept, newest first; 0 = all (default: ${DEFAULT-VALUE}).")
    int keepCheckpoints;

    @Option(names = "--json", description = "Print a final summary as one JSON object.")
    boolean json;

    /** --max-seq-len when not given (and the model's context is longer). */
    static final int DEFAULT_MAX_SEQ_LEN = 512;

    @Override
    public Integer call() {
        if (configFile != null) YamlDefaults.apply(spec, configFile);
        String m = method.toLowerCase(Locale.ROOT);
        if (!List.of("lora", "dora", "qlora", "qdora", "full").contains(m)) {
            throw new ConfigException("--method", method, "lora, dora, qlora, qdora or full");
        }
        boolean fourBit = m.startsWith("q") || quant.loadIn4bit;
        if (fourBit && m.equals("full")) {
            throw new ConfigException("--method full cannot train a 4-bit base (its weights are frozen): use qlora or qdora");
        }
        if (rank < 1 && initAdapter == null && !m.equals("full")) throw new ConfigException("--rank", rank, "an integer ≥ 1");
        Path dir = model.resolve();
        if (m.equals("full") && finetune4j.quant.QuantizedModels.config(dir) != null) {
            throw new ConfigException("--method full cannot train a 4-bit checkpoint (its weights are frozen): use qlora or qdora");
        }
        Tokenizer tok = Tokenizer.load(dir);
        int context = DataArgs.context(dir);
        int seqLen = dataArgs.maxSeqLen != null ? dataArgs.maxSeqLen : Math.min(DEFAULT_MAX_SEQ_LEN, context);
        if (seqLen > context) {
            throw new ConfigException("max-seq-len", seqLen, "at most the model's context of " + context + " positions");
        }
        DataPipeline.Options opts = split.apply(dataArgs.builder(seqLen, BadRecords.Policy.FAIL), seed).build();
        DataPipeline pipeline = new DataPipeline(opts, tok, TokenizerConfig.load(dir));
        DataPipeline.Prepared prepared = pipeline.prepare(dataArgs.data, validData);
        reportData(prepared, opts);
        PeftAdapter init = initAdapter == null ? null : PeftAdapter.load(initAdapter, w -> warn("init adapter: " + w));
        if (init != null && dropout != null) {         // the adapter fixes the architecture; dropout is a training setting
            init = init.withConfig(init.config().toBuilder().loraDropout(dropout).build());
        }
        Path resumeDir = resume == null ? null : resolveResume(resume);
        PrintWriter err = spec.commandLine().getErr();
        try (LlamaModel lm = finetune4j.quant.QuantizedModels.open(dir, kernels.get(), fourBit ? quant.spec(true) : null)) {
            TrainConfig cfg = TrainConfig.builder().steps(steps).epochs(epochs).batchSize(batchSize).gradAccum(gradAccum)
                    .maxSeqLen(seqLen).lr(lr).optimizer(optimizer).weightDecay(weightDecay)
                    .schedule(LrSchedule.Kind.parse(schedule)).warmup(warmup).gradClip(gradClip)
                    .gradientCheckpointing(gradCheckpoint != null ? gradCheckpoint : fourBit).seed(seed).shuffle(!noShuffle)
                    .output(output).saveEvery(saveEvery).evalEvery(evalEvery).keepCheckpoints(keepCheckpoints).build();
            FineTune ft;
            if (init != null) {
                ft = FineTune.fromAdapter(lm, tok, init);
            } else if (m.equals("full")) {
                ft = FineTune.full(lm, tok, target == null ? List.of(".*") : target);
            } else {
                LoraConfig.Builder b = LoraConfig.builder().r(rank).loraAlpha(alpha).loraDropout(dropout == null ? 0 : dropout)
                        .useRslora(rslora).useDora(m.endsWith("dora")).baseModelNameOrPath(model.model)
                        .taskType("CAUSAL_LM");
                b.targetModules(targets(target));
                ft = fourBit ? FineTune.qlora(lm, tok, b.build()) : FineTune.lora(lm, tok, b.build());
            }
            ft.data(prepared).config(cfg).eosId(FineTune.eosId(dir, tok)).resume(resumeDir)
                    .dataSettings(DataArgs.describe(opts))
                    .describe("model", model.model).describe("data", dataArgs.data.toString())
                    .describe("lr", String.valueOf(lr)).describe("batch", batchSize + "×" + gradAccum)
                    .describe("max_seq_len", String.valueOf(seqLen)).describe("kernels", lm.kernels().name());
            if (prepared.trainReport().template() != null) ft.describe("template", prepared.trainReport().template());
            ft.describe("train_on", opts.trainOn().id());
            if (opts.packing()) ft.describe("packing", "true");
            FineTune.Result r;
            try (RunOutputs files = new RunOutputs(output, resumeDir == null ? -1 : Checkpoint.load(resumeDir).state().step())) {
                r = ft.run(TrainListener.of(List.of(files, ProgressDisplay.console())));
            }
            err.println(r.summary());
            err.println("saved " + (m.equals("full") && init == null ? "model" : "adapter") + " to " + output.toAbsolutePath()
                    + " (report: " + output.resolve(TrainReport.FILE) + ")");
            err.flush();
            if (json) {
                ObjectNode n = Json.object();
                n.put("output", output.toAbsolutePath().toString());
                n.put("method", init != null ? (init.config().useDora() ? "dora" : "lora") : m);
                n.put("steps", r.training().end().step());
                n.put("train_loss", r.training().finalTrainLoss());
                if (!Double.isNaN(r.training().finalValLoss())) {
                    n.put("val_loss", r.training().finalValLoss());
                    n.put("val_perplexity", Math.exp(r.training().finalValLoss()));
                }
                n.put("tokens", r.training().tokensSeen());
                n.put("seconds", r.training().end().elapsedS());
                n.put("trainable_params", r.trainableParams());
                n.put("all_params", r.allParams());
                n.put("trainable_percent", r.trainablePercent());
                Json.print(spec.commandLine().getOut(), n);
            }
        }
        return 0;
    }

    /**
     * One line about the rows training gets (examples, formats, cuts, the split, packing) on the
     * console, where the progress display writes, and a warning on stderr for every skipped bad
     * record: nothing is dropped silently.
     */
    private void reportData(DataPipeline.Prepared d, DataPipeline.Options opts) {
        PrintWriter err = spec.commandLine().getErr();
        for (DataReport r : java.util.Arrays.asList(d.trainReport(), d.validReport())) {
            if (r == null) continue;
            for (var e : r.badRecords()) err.println("warning: skipped bad record: " + Cli.oneLine(e.getMessage()));
        }
        DataReport r = d.trainReport();
        StringBuilder sb = new StringBuilder("data: ").append(String.format(Locale.ROOT, "%,d", r.records())).append(" records");
        if (!r.examplesByFormat().isEmpty()) {
            StringBuilder f = new StringBuilder();
            r.examplesByFormat().forEach((k, v) -> f.append(f.isEmpty() ? "" : ", ").append(k.id()).append(' ').append(v));
            sb.append(" (").append(f).append(')');
        }
        sb.append(" → ").append(String.format(Locale.ROOT, "%,d", r.kept())).append(" examples");
        List<String> notes = new java.util.ArrayList<>();
        if (r.truncated() > 0) notes.add(r.truncated() + " cut to " + opts.maxSeqLen() + " tokens");
        if (r.droppedTooLong() > 0) notes.add(r.droppedTooLong() + " longer than " + opts.maxSeqLen() + " tokens dropped");
        if (r.droppedNoTargets() > 0) notes.add(r.droppedNoTargets() + " dropped with no trained token left");
        if (r.duplicates() > 0) notes.add(r.duplicates() + " duplicates removed");
        if (!r.badRecords().isEmpty()) notes.add(r.badRecords().size() + " bad records skipped");
        if (!notes.isEmpty()) sb.append(" (").append(String.join(", ", notes)).append(')');
        if (r.template() != null) sb.append("; template ").append(r.template());
        sb.append("; train-on ").append(opts.trainOn().id());
        if (d.splitOff() > 0) sb.append("; ").append(d.splitOff()).append(" held out for validation");
        else if (d.validReport() != null) sb.append("; ").append(d.validReport().kept()).append(" validation examples");
        if (opts.packing()) {
            sb.append("; packed into ").append(d.train().size()).append(" rows");
            if (!d.valid().isEmpty()) sb.append(" (+").append(d.valid().size()).append(" validation rows)");
        }
        err.flush();
        System.out.println(sb);
        System.out.flush();
    }

    static LoraConfig.Targets targets(List<String> target) {
        if (target == null || target.isEmpty()) return new LoraConfig.Targets.Names(LoraConfig.LLAMA_DEFAULT_TARGETS);
        return LoraConfig.Targets.parse(String.join(",", target));
    }

    private Path resolveResume(Path p) {
        if (Files.isRegularFile(p.resolve(Checkpoint.STATE_FILE))) return p;
        Path latest = Checkpoint.latest(p);
        if (latest == null) {
            throw new ConfigException("--resume", p.toString(), "a checkpoint directory (holding " + Checkpoint.STATE_FILE
                    + ") or an output directory with checkpoint-N subdirectories");
        }
        return latest;
    }

    private void warn(String s) {
        spec.commandLine().getErr().println("warning: " + s);
        spec.commandLine().getErr().flush();
    }
}
