package finetune4j.batch;

import finetune4j.ConfigException;
import finetune4j.InvalidDataException;
import finetune4j.data.BadRecords;
import finetune4j.data.DataOptions;
import finetune4j.data.DatasetFiles;
import finetune4j.data.DatasetLoader;
import finetune4j.data.Example;
import finetune4j.text.ChatTemplates;
import finetune4j.text.TrainOn;
import finetune4j.text.Tokenizer;
import finetune4j.text.TokenizerConfig;

import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * The instruction-tuning data path, from files to training rows: read records ({@link DatasetLoader},
 * streaming), build examples, render and tokenize them with their loss masks
 * ({@link ExampleTokenizer}), cut them to the sequence length, drop exact duplicates, split off a
 * validation set when there is no validation file, and pack rows. Tokenized examples are kept
 * (ids and labels only); raw records are not.
 *
 * {@snippet :
 * DataPipeline p = DataPipeline.forModel(Path.of("models/tiny"), DataPipeline.Options.builder()
 *         .maxSeqLen(512).trainOn(TrainOn.ASSISTANT).packing(true).validRatio(0.05).build());
 * DataPipeline.Prepared d = p.prepare(Path.of("data/"));          // a file or a train/valid/test directory
 * BatchIterator it = new BatchIterator(d.train(), 8, BatchIterator.Order.SHUFFLE, 42, p.padId());
 * }
 */
public final class DataPipeline {

    /** Everything that decides what the data becomes; see {@link #builder()} for the defaults. */
    public record Options(DataOptions data, String template, TrainOn trainOn, int maxSeqLen, Truncation truncation,
                          boolean packing, boolean dedupe, BadRecords.Policy onBadRecord, double validRatio, int validCount,
                          long seed, Clock clock) {
        public Options {
            if (maxSeqLen < 2) throw new ConfigException("--max-seq-len", maxSeqLen, "an integer ≥ 2");
            if (validRatio < 0 || validRatio >= 1) throw new ConfigException("--valid-ratio", validRatio, "a fraction in [0, 1)");
            if (validCount < 0) throw new ConfigException("--valid-count", validCount, "an integer ≥ 0");
        }

        public static Builder builder() {
            return new Builder();
        }
    }

    /** Defaults: detected formats, the model's template (else alpaca), assistant turns, 2048 tokens, cut right, no packing, fail on a bad record. */
    public static final class Builder {
        private DataOptions data = DataOptions.DEFAULT;
        private String template;
        private TrainOn trainOn = TrainOn.ASSISTANT;
        private int maxSeqLen = 2048;
        private Truncation truncation = Truncation.RIGHT;
        private boolean packing, dedupe;
        private BadRecords.Policy onBadRecord = BadRecords.Policy.FAIL;
        private double validRatio;
        private int validCount;
        private long seed;
        private Clock clock;

        public Builder data(DataOptions v) { data = v; return this; }
        public Builder template(String v) { template = v; return this; }
        public Builder trainOn(TrainOn v) { trainOn = v; return this; }
        public Builder maxSeqLen(int v) { maxSeqLen = v; return this; }
        public Builder truncation(Truncation v) { truncation = v; return this; }
        public Builder packing(boolean v) { packing = v; return this; }
        public Builder dedupe(boolean v) { dedupe = v; return this; }
        public Builder onBadRecord(BadRecords.Policy v) { onBadRecord = v; return this; }
        public Builder validRatio(double v) { validRatio = v; return this; }
        public Builder validCount(int v) { validCount = v; return this; }
        public Builder seed(long v) { seed = v; return this; }
        /** The clock templates read through {@code strftime_now} (default: fixed at build time, one date per run). */
        public Builder clock(Clock v) { clock = v; return this; }

        public Options build() {
            return new Options(data, template, trainOn, maxSeqLen, truncation, packing, dedupe, onBadRecord, validRatio, validCount,
                    seed, clock != null ? clock : Clock.fixed(java.time.Instant.now(), java.time.ZoneId.systemDefault()));
        }
    }

    private final Options options;
    private final Tokenizer tokenizer;
    private final TokenizerConfig config;
    private final int eosId, padId;
    private ExampleTokenizer exampleTokenizer;     // made on first use: the template is only needed for conversations

    public DataPipeline(Options options, Tokenizer tokenizer, TokenizerConfig config) {
        this.options = options;
        this.tokenizer = tokenizer;
        this.config = config;
        Integer eos = config.eosToken() == null ? null : tokenizer.tokenToId(config.eosToken());
        this.eosId = eos != null ? eos : tokenizer.eosId().orElse(-1);
        Integer pad = config.padToken() == null ? null : tokenizer.tokenToId(config.padToken());
        this.padId = pad != null ? pad : Math.max(eosId, 0);
    }

    /** A pipeline for the tokenizer files of a model directory. */
    public static DataPipeline forModel(Path modelDir, Options options) {
        return new DataPipeline(options, Tokenizer.load(modelDir), TokenizerConfig.load(modelDir));
    }

    public Options options() {
        return options;
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    /** The id padding uses: the config's pad_token, else EOS (padding is never trained). */
    public int padId() {
        return padId;
    }

    /** The tokenizer of examples, with the chosen template. */
    public ExampleTokenizer exampleTokenizer() {
        if (exampleTokenizer == null) {
            ChatTemplates.Choice t = ChatTemplates.choose(options.template(), config, eosId >= 0 ? tokenizer.idToToken(eosId) : null);
            t = new ChatTemplates.Choice(t.name(), t.template().withClock(options.clock()), t.addSpecialTokens());
            exampleTokenizer = new ExampleTokenizer(tokenizer, eosId, options.maxSeqLen(), options.truncation(), t, options.trainOn());
        }
        return exampleTokenizer;
    }

    /** What happened to one example. */
    public enum Status {
        /** Kept as it is. */
        KEPT,
        /** Kept, cut to the sequence length. */
        TRUNCATED,
        /** Too long, dropped ({@code --truncate drop}). */
        DROPPED_TOO_LONG,
        /** Cutting left no trained token: dropped. */
        DROPPED_NO_TARGETS,
        /** An exact duplicate of an earlier example: dropped ({@code --dedupe}). */
        DUPLICATE
    }

    /**
     * One example on its way: the example, its full encoding (text, offsets, trained spans), the row
     * kept for training (null when dropped) and what happened.
     */
    public record Item(Example example, ExampleTokenizer.Encoded encoded, Tokenized kept, Status status) {
    }

    /**
     * Streams {@code file} through reading, tokenization, cutting and deduplication, calling
     * {@code sink} for each example (bad records go to the report, or throw with {@code fail}).
     *
     * @param limit stop after this many examples (0: all)
     */
    public DataReport scan(Path file, int limit, Consumer<Item> sink) {
        BadRecords bad = new BadRecords(options.onBadRecord());
        DatasetLoader loader = new DatasetLoader(options.data(), bad);
        DataReport report = new DataReport(file.toString(), null, options.maxSeqLen());
        DataSplit.Dedupe dedupe = options.dedupe() ? new DataSplit.Dedupe() : null;
        int[] count = {0};
        boolean[] conversations = {false};
        final class Stop extends RuntimeException {
            Stop() {
                super(null, null, false, false);
            }
        }
        try {
            loader.read(file, e -> {
                ExampleTokenizer.Encoded enc;
                conversations[0] |= e instanceof Example.Conversation;
                try {
                    enc = exampleTokenizer().encode(e);
                } catch (InvalidDataException ex) {
                    bad.report(ex);
                    return;
                }
                report.methods.merge(enc.method(), 1L, Long::sum);
                Tokenized full = enc.tokenized();
                report.length(full.length());
                Tokenized cut = options.truncation().apply(full, options.maxSeqLen());
                Status status;
                if (cut == null) status = Status.DROPPED_TOO_LONG;
                else if (cut.targetTokens() == 0) status = Status.DROPPED_NO_TARGETS;
                else if (dedupe != null && !dedupe.first(cut)) status = Status.DUPLICATE;
                else status = cut.length() < full.length() ? Status.TRUNCATED : Status.KEPT;
                switch (status) {
                    case DROPPED_TOO_LONG -> report.droppedLong++;
                    case DROPPED_NO_TARGETS -> report.droppedNoTargets++;
                    case DUPLICATE -> report.duplicates++;
                    case TRUNCATED, KEPT -> {
                        if (status == Status.TRUNCATED) report.truncated++;
                        report.kept++;
                        report.tokens += cut.length();
                        report.trainedTokens += cut.targetTokens();
                    }
                }
                boolean keep = status == Status.KEPT || status == Status.TRUNCATED;
                sink.accept(new Item(e, enc, keep ? cut : null, status));
                if (limit > 0 && ++count[0] >= limit) throw new Stop();
            });
        } catch (Stop stop) {
            // the first `limit` examples were seen
        }
        report.loader = loader.stats();
        report.badRecords = bad.skipped();
        return new DataReport(report, conversations[0] ? exampleTokenizer().template().name() : null);
    }

    /**
     * The training rows (and validation and test rows) of {@code data}: a file, or a directory with
     * train/valid/test files. Without a validation file, {@code validRatio}/{@code validCount} carve
     * one out of train ({@link DataSplit}). With packing, train and valid rows are packed.
     *
     * @param train  (rows) training rows
     * @param valid  (rows) validation rows, maybe empty
     * @param test   (rows) test rows, maybe empty
     */
    public record Prepared(List<Tokenized> train, List<Tokenized> valid, List<Tokenized> test,
                           DataReport trainReport, DataReport validReport, DataReport testReport, int splitOff) {
    }

    public Prepared prepare(Path data) {
        DatasetFiles files = DatasetFiles.resolve(data);
        List<Tokenized> train = new ArrayList<>(), valid = new ArrayList<>(), test = new ArrayList<>();
        DataReport tr = scan(files.train(), 0, keep(train));
        DataReport vr = files.valid() == null ? null : scan(files.valid(), 0, keep(valid));
        DataReport te = files.test() == null ? null : scan(files.test(), 0, keep(test));
        if (train.isEmpty()) {
            throw new InvalidDataException(files.train().toString(), 0, null, "no usable training example (" + tr.records() + " records, "
                    + tr.badRecords().size() + " bad, " + (tr.droppedTooLong() + tr.droppedNoTargets()) + " dropped)");
        }
        int splitOff = 0;
        if (files.valid() == null && (options.validRatio() > 0 || options.validCount() > 0)) {
            DataSplit.Split s = DataSplit.split(train, options.validRatio(), options.validCount(), options.seed());
            train = new ArrayList<>(s.train());
            valid = new ArrayList<>(s.valid());
            splitOff = valid.size();
        }
        if (options.packing()) {
            train = Packer.pack(train, options.maxSeqLen());
            if (!valid.isEmpty()) valid = Packer.pack(valid, options.maxSeqLen());
        }
        return new Prepared(List.copyOf(train), List.copyOf(valid), List.copyOf(test), tr, vr, te, splitOff);
    }

    private static Consumer<Item> keep(List<Tokenized> into) {
        return item -> {
            if (item.kept() != null) into.add(item.kept());
        };
    }
}
