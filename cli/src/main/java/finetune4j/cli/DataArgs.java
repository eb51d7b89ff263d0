package finetune4j.cli;

import finetune4j.ConfigException;
import finetune4j.batch.DataPipeline;
import finetune4j.batch.Truncation;
import finetune4j.data.BadRecords;
import finetune4j.data.DataFormat;
import finetune4j.data.DataOptions;
import finetune4j.model.ModelConfig;
import finetune4j.text.TokenizerConfig;
import finetune4j.text.TrainOn;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The data options shared by the commands that read instruction data ({@code data check},
 * {@code data preview}, and later {@code train}/{@code eval}): what the records are and how they
 * become token ids and labels. Turned into {@link DataPipeline.Options} by {@link #options}.
 */
final class DataArgs {
    @Option(names = "--data", required = true, paramLabel = "PATH",
            description = "A .jsonl / .json file (gzip too), or a directory with train.jsonl and optionally valid.jsonl, test.jsonl.")
    Path data;

    @Option(names = "--format", paramLabel = "FORMAT",
            description = "Force the record format: text, completion, alpaca, dolly, oasst, sharegpt, messages (default: detected per record).")
    String format;

    @Option(names = {"--map", "--field"}, paramLabel = "OLD=NEW",
            description = "Rename a record key before the format is detected, e.g. --map question=instruction (repeatable).")
    List<String> renames = new ArrayList<>();

    @Option(names = "--template", paramLabel = "T",
            description = "Chat template: 'model' (the model's own), a named one (alpaca, chatml, chatml-tools, chatml-generation, llama2,"
                    + " llama3, llama3.2, mistral, zephyr) or a .jinja file. Default: the model's, else alpaca.")
    String template;

    @Option(names = "--train-on", paramLabel = "MODE", defaultValue = "assistant",
            description = "Tokens that count in the loss: all, completion, assistant (default), last-assistant.")
    String trainOn;

    @Option(names = "--max-seq-len", paramLabel = "N",
            description = "Longest sequence (default: the model's context from config.json, else tokenizer_config.json's model_max_length, else 2048).")
    Integer maxSeqLen;

    @Option(names = "--truncate", paramLabel = "HOW", defaultValue = "right",
            description = "Examples longer than --max-seq-len: right (cut the end, default), left (cut the start), drop.")
    String truncate;

    @Option(names = "--on-bad-record", paramLabel = "POLICY", defaultValue = "skip",
            description = "fail: stop at the first bad record; skip (default here): skip and report every one.")
    String onBadRecord;

    @Option(names = "--dedupe", description = "Drop exact duplicate examples (same tokens and labels).")
    boolean dedupe;

    @Option(names = "--threads", paramLabel = "WHICH", defaultValue = "best",
            description = "OpenAssistant trees: best (the best-ranked reply chain, default) or all (every root-to-leaf thread).")
    String threads;

    @Option(names = "--lang", paramLabel = "LANG", split = ",",
            description = "OpenAssistant: keep only messages in these languages (e.g. --lang en,de).")
    List<String> langs = new ArrayList<>();

    @Option(names = "--keep-deleted", description = "OpenAssistant: keep messages flagged deleted.")
    boolean keepDeleted;

    @Option(names = "--drop-synthetic", description = "OpenAssistant: drop messages flagged synthetic (model-written).")
    boolean dropSynthetic;

    /** The pipeline options for the model in {@code modelDir}. */
    DataPipeline.Options options(Path modelDir) {
        boolean all = switch (threads.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "best" -> false;
            case "all" -> true;
            default -> throw new ConfigException("--threads", threads, "best or all");
        };
        Set<String> lang = new LinkedHashSet<>();
        for (String l : langs) if (!l.isBlank()) lang.add(l.trim());
        DataOptions data = new DataOptions(format == null ? null : DataFormat.parse(format), DataOptions.parseRenames(renames),
                new DataOptions.OasstOptions(all, keepDeleted, !dropSynthetic, lang));
        return DataPipeline.Options.builder()
                .data(data)
                .template(template)
                .trainOn(TrainOn.parse(trainOn))
                .maxSeqLen(maxSeqLen != null ? maxSeqLen : context(modelDir))
                .truncation(Truncation.parse(truncate))
                .onBadRecord(BadRecords.Policy.parse(onBadRecord))
                .dedupe(dedupe)
                .build();
    }

    /** The model's context: config.json, else tokenizer_config.json, else 2048. */
    static int context(Path modelDir) {
        if (Files.isRegularFile(modelDir.resolve("config.json"))) return ModelConfig.load(modelDir).maxContext();
        long m = TokenizerConfig.load(modelDir).modelMaxLength();
        return m > 0 && m <= 1 << 20 ? (int) m : 2048;
    }
}
