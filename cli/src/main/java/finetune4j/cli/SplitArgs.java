package finetune4j.cli;

import finetune4j.batch.DataPipeline;
import picocli.CommandLine.Option;

/**
 * {@code --valid-ratio} / {@code --valid-count} and {@code --packing}, shared by {@code train} and
 * {@code eval}: the validation examples split off a dataset that has no validation file (the same
 * ones in both commands for the same data, options and seed), and packing of several examples per
 * row.
 */
final class SplitArgs {
    @Option(names = "--valid-ratio", paramLabel = "R", defaultValue = "0",
            description = "Without a validation file, hold out this fraction of the examples for validation (chosen by a"
                    + " seeded hash of their tokens: the same examples for the same data, options and --seed).")
    double validRatio;

    @Option(names = "--valid-count", paramLabel = "N", defaultValue = "0",
            description = "Without a validation file, hold out this many examples for validation (instead of --valid-ratio).")
    int validCount;

    @Option(names = "--packing",
            description = "Pack several examples into each row of --max-seq-len tokens (best-fit decreasing); attention stays inside"
                    + " each example and positions restart, so the loss is that of the examples unpacked, with less padding.")
    boolean packing;

    /** Sets the split and packing options on {@code b}. */
    DataPipeline.Builder apply(DataPipeline.Builder b, long seed) {
        return b.validRatio(validRatio).validCount(validCount).packing(packing).seed(seed);
    }
}
