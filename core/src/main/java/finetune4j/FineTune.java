package finetune4j;

import finetune4j.batch.DataPipeline;
import finetune4j.batch.ExampleTokenizer;
import finetune4j.batch.Tokenized;
import finetune4j.data.Example;
import finetune4j.data.SimpleFormats;
import finetune4j.engine.io.SafetensorsFile;
import finetune4j.engine.io.SafetensorsWriter;
import finetune4j.engine.tensor.NamedParam;
import finetune4j.export.PeftAdapterWriter;
import finetune4j.model.LlamaModel;
import finetune4j.peft.LoraAdapter;
import finetune4j.peft.LoraConfig;
import finetune4j.peft.PeftAdapter;
import finetune4j.text.Tokenizer;
import finetune4j.text.TokenizerConfig;
import finetune4j.train.TrainConfig;
import finetune4j.train.TrainListener;
import finetune4j.train.Trainer;

import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The fine-tuning recipe of the {@code train} command as a library call: a model, data, a method
 * (LoRA / DoRA with a {@link LoraConfig}, or full fine-tuning of selected parameters) and
 * {@link TrainConfig} settings; the result is a PEFT adapter directory (or a HF model directory
 * for full fine-tuning) in the output directory, with {@code metrics.jsonl} and checkpoints.
 *
 * {@snippet :
 * try (LlamaModel model = LlamaModel.load(Path.of("my-base-model"))) {
 *     FineTune.Result r = FineTune.lora(model, Tokenizer.load(Path.of("my-base-model")),
 *                     LoraConfig.builder().r(8).loraAlpha(16).targetModules(List.of("q_proj", "v_proj")).build())
 *             .trainData(FineTune.readExamples(Path.of("train.jsonl")))     // or .data(DataPipeline...prepare(...))
 *             .config(TrainConfig.builder().steps(200).lr(1e-3).output(Path.of("out")).build())
 *             .run(listener);
 *     System.out.println(r.summary());
 * }
 * }
 */
public final class FineTune {
    /** The trainable-parameter summary and the trainer's result. */
    public record Result(Trainer.Result training, long trainableParams, long allParams, Path output) {
        public double trainablePercent() {
            return allParams == 0 ? 0 : 100.0 * trainableParams / allParams;
        }

        public String summary() {
            return String.format(Locale.ROOT, "trainable params: %,d || all params: %,d || trainable%%: %.4f",
                    trainableParams, allParams, trainablePercent());
        }
    }

    private final LlamaModel model;
    private final Tokenizer tokenizer;
    private final LoraConfig lora;                 // null for full fine-tuning
    private final PeftAdapter initAdapter;         // null unless starting from an adapter
    private final List<String> fullPatterns;       // regexes of trainable base parameters (full)
    private List<Example> train = List.of(), valid = List.of();
    private List<Tokenized> trainRows, validRows;     // already tokenized (DataPipeline), or null
    private TrainConfig config;
    private Path resume;
    private String dataSettings;
    private int eosId = -1;
    private final Map<String, String> display = new LinkedHashMap<>();

    private FineTune(LlamaModel model, Tokenizer tokenizer, LoraConfig lora, PeftAdapter init, List<String> full) {
        this.model = model;
        this.tokenizer = tokenizer;
        this.lora = lora;
        this.initAdapter = init;
        this.fullPatterns = full;
    }

    /** LoRA (or DoRA with {@code use_dora}) on the targets of {@code config}. */
    public static FineTune lora(LlamaModel model, Tokenizer tokenizer, LoraConfig config) {
        return new FineTune(model, tokenizer, config, null, null);
    }

    /**
     * QLoRA (QDoRA with {@code use_dora}): LoRA over a model whose linear layers are 4-bit
     * ({@link finetune4j.quant.QuantizedModels#open}, {@code loadIn4bit}, or a 4-bit checkpoint). The
     * adapters train in FP32; the base is dequantized block by block inside the kernels. Use it
     * with gradient checkpointing ({@link TrainConfig.Builder#gradientCheckpointing}), as QLoRA does.
     *
     * @throws ConfigException when no linear layer of {@code model} is 4-bit
     */
    public static FineTune qlora(LlamaModel model, Tokenizer tokenizer, LoraConfig config) {
        boolean fourBit = model.linearSlots().stream().anyMatch(s -> s instanceof finetune4j.model.FrozenLinear f
                && f.weight() instanceof finetune4j.engine.tensor.QuantizedWeight);
        if (!fourBit) {
            throw new ConfigException("qlora needs a model with 4-bit linear layers; load it with QuantizedModels.open(dir,"
                    + " kernels, QuantSpec.qlora()) (CLI: --method qlora quantizes on load)");
        }
        return new FineTune(model, tokenizer, config, null, null).describe("method", config.useDora() ? "qdora" : "qlora");
    }

    /** Continues training an existing PEFT adapter: its config fixes method, rank, alpha and targets. */
    public static FineTune fromAdapter(LlamaModel model, Tokenizer tokenizer, PeftAdapter adapter) {
        return new FineTune(model, tokenizer, adapter.config(), adapter, null);
    }

    /** Full fine-tuning of the parameters whose HF names match any of {@code patterns} (regex; ".*" = all). */
    public static FineTune full(LlamaModel model, Tokenizer tokenizer, List<String> patterns) {
        return new FineTune(model, tokenizer, null, null, List.copyOf(patterns));
    }

    public FineTune trainData(List<Example> examples) {
        this.train = List.copyOf(examples);
        return this;
    }

    public FineTune validData(List<Example> examples) {
        this.valid = List.copyOf(examples);
        return this;
    }

    /**
     * Training rows already tokenized, with their loss masks (e.g. {@link DataPipeline}'s: any
     * record format, chat template, {@code --train-on}, cutting, packing); replaces
     * {@link #trainData}. Packed rows train with block-diagonal attention.
     */
    public FineTune trainRows(List<Tokenized> rows) {
        this.trainRows = List.copyOf(rows);
        return this;
    }

    /** Validation rows already tokenized; replaces {@link #validData}. */
    public FineTune validRows(List<Tokenized> rows) {
        this.validRows = List.copyOf(rows);
        return this;
    }

    /** The training and validation rows of a {@link DataPipeline#prepare prepared} dataset. */
    public FineTune data(DataPipeline.Prepared data) {
        return trainRows(data.train()).validRows(data.valid());
    }

    public FineTune config(TrainConfig c) {
        this.config = c;
        return this;
    }

    /** Resumes from a checkpoint directory written by an earlier run with the same settings. */
    public FineTune resume(Path checkpointDir) {
        this.resume = checkpointDir;
        return this;
    }

    /** The id appended after each example (default: tokenizer_config.json's eos_token, else the tokenizer's). */
    public FineTune eosId(int id) {
        this.eosId = id;
        return this;
    }

    /**
     * The data settings (format, template, masks, packing, split...) as one canonical text: a
     * {@link #resume} is refused when they differ from the checkpoint's run.
     */
    public FineTune dataSettings(String canonical) {
        this.dataSettings = canonical;
        return this;
    }

    /** A setting to show in logs and the report. */
    public FineTune describe(String key, String value) {
        display.put(key, value);
        return this;
    }

    /** The examples of a JSONL / JSON file ({@code {"text"}} or {@code {"prompt", "completion"}} records). */
    public static List<Example> readExamples(Path file) {
        return SimpleFormats.read(file);
    }

    /** The EOS id of a model directory's tokenizer: tokenizer_config.json's eos_token, else tokenizer.json's. */
    public static int eosId(Path tokenizerDir, Tokenizer tok) {
        String eos = Files.isDirectory(tokenizerDir) ? TokenizerConfig.load(tokenizerDir).eosToken() : null;
        Integer id = eos == null ? null : tok.tokenToId(eos);
        if (id != null) return id;
        if (tok.eosId().isPresent()) return tok.eosId().getAsInt();
        return -1;
    }

    /** Tokenized examples, checked against the model's context. */
    public List<Tokenized> tokenize(List<Example> examples) {
        int eos = eosId >= 0 ? eosId : tokenizer.eosId().orElse(
                model.config().eosTokenIds().isEmpty() ? -1 : model.config().eosTokenIds().getFirst());
        ExampleTokenizer et = new ExampleTokenizer(tokenizer, eos, config.maxSeqLen());
        List<Tokenized> out = new ArrayList<>(examples.size());
        for (Example e : examples) out.add(et.tokenize(e));
        return out;
    }

    /**
     * Attaches the adapter (or selects the base parameters), trains and writes the result.
     *
     * @throws ConfigException     for invalid settings (rank 0, a target matching nothing — listing the
     *                             modules that exist —, max-seq-len beyond the model's context)
     * @throws InvalidDataException for bad data
     */
    public Result run(TrainListener listener) {
        if (config == null) throw new ConfigException("a TrainConfig is required (FineTune.config(...))");
        if (config.maxSeqLen() > model.maxContext()) {
            throw new ConfigException("max-seq-len", config.maxSeqLen(), "at most the model's context of " + model.maxContext()
                    + " positions (" + model.config().maxContextReason() + ")");
        }
        if (trainRows == null && train.isEmpty()) throw new InvalidDataException("train data", 0, null, "the dataset is empty (no records)");
        if (trainRows != null && trainRows.isEmpty()) throw new InvalidDataException("train data", 0, null, "no training rows");
        List<Tokenized> trainTok = trainRows != null ? trainRows : tokenize(train);
        List<Tokenized> validTok = validRows != null ? validRows : tokenize(valid);
        for (List<Tokenized> rows : List.of(trainTok, validTok)) {
            for (Tokenized t : rows) {
                if (t.length() > config.maxSeqLen()) {
                    throw new ConfigException(t.source() + ": a row of " + t.length() + " tokens is longer than max-seq-len "
                            + config.maxSeqLen() + " (hint: prepare the data with the same max-seq-len)");
                }
            }
        }
        if (lora != null) {
            List<String> unsupported = lora.unsupportedSettings();
            if (!unsupported.isEmpty()) {
                throw new ConfigException("adapter settings finetune4j does not implement: " + unsupported);
            }
            LoraAdapter adapter = initAdapter != null
                    ? LoraAdapter.attach(model, initAdapter, config.seed(), 1f)
                    : LoraAdapter.attach(model, lora, config.seed());
            try {
                adapter.setTraining(true);
                List<NamedParam> params = adapter.trainableParameters();
                LoraConfig saved = lora.toBuilder().build();
                Trainer.Artifact artifact = new Trainer.Artifact() {
                    @Override
                    public void writeCheckpoint(Path dir) {
                        PeftAdapterWriter.writeFiles(PeftAdapter.of(saved, params), dir);
                    }

                    @Override
                    public void writeFinal(Path outputDir) {
                        PeftAdapterWriter.save(PeftAdapter.of(saved, params), outputDir);
                    }

                    @Override
                    public void readCheckpoint(Path dir, List<NamedParam> ps) {
                        PeftAdapter.load(dir).copyInto(ps);
                    }
                };
                int accum = config.gradAccum();
                Trainer.StepHook hook = new Trainer.StepHook() {
                    @Override
                    public void beforeMicroBatch(long step, int micro) {
                        adapter.setDropoutKey(step * accum + micro);
                    }

                    @Override
                    public void evaluating(boolean on) {      // validation without dropout (torch's model.eval())
                        adapter.setTraining(!on);
                    }
                };
                display.putIfAbsent("method", lora.useDora() ? "dora" : "lora");
                display.putIfAbsent("rank", String.valueOf(lora.r()));
                display.putIfAbsent("alpha", String.valueOf(lora.loraAlpha()));
                Trainer t = new Trainer(model, params, config, trainTok, validTok, artifact, hook, display,
                        canonical() + "\n" + lora.toJson());
                Trainer.Result r = t.run(listener, resume);
                return new Result(r, adapter.trainableCount(), adapter.allParameterCount(), config.output());
            } finally {
                adapter.setTraining(false);
            }
        }
        List<NamedParam> params = model.makeTrainable(fullPatterns);
        Trainer.Artifact artifact = new Trainer.Artifact() {
            @Override
            public void writeCheckpoint(Path dir) {
                SafetensorsWriter w = SafetensorsWriter.create().metadata("format", "pt");
                for (NamedParam p : params) w.add(p.name(), p.shape(), p.data());
                w.write(dir.resolve("trainable.safetensors"));
            }

            @Override
            public void writeFinal(Path outputDir) {
                model.saveModel(outputDir, null);
            }

            @Override
            public void readCheckpoint(Path dir, List<NamedParam> ps) {
                Path f = dir.resolve("trainable.safetensors");
                try (SafetensorsFile sf = SafetensorsFile.open(f)) {
                    for (NamedParam p : ps) {
                        if (sf.info(p.name()) == null) {
                            throw new ModelFormatException(f, "tensor '" + p.name() + "' is missing (the checkpoint was"
                                    + " written with other trainable parameters)");
                        }
                        MemorySegment.copy(sf.data(p.name()), java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, 0,
                                p.data(), 0, p.numel());
                    }
                }
            }
        };
        display.putIfAbsent("method", "full");
        Trainer t = new Trainer(model, params, config.withAddsParameters(false), trainTok, validTok, artifact,
                Trainer.StepHook.NONE, display, canonical() + "\nfull " + fullPatterns);
        Trainer.Result r = t.run(listener, resume);
        long n = 0;
        for (NamedParam p : params) n += p.numel();
        return new Result(r, n, model.parameterCount(), config.output());
    }

    private String canonical() {
        TrainConfig c = config;
        return String.join("\n", "batch=" + c.batchSize(), "accum=" + c.gradAccum(), "maxSeqLen=" + c.maxSeqLen(),
                "optimizer=" + c.optimizer(), "seed=" + c.seed(), "shuffle=" + c.shuffle(), "lr=" + c.lr(),
                "schedule=" + c.schedule(), "steps=" + c.steps(), "epochs=" + c.epochs())
                + (dataSettings == null ? "" : "\ndata: " + dataSettings);
    }
}
