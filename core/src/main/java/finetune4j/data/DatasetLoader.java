package finetune4j.data;

import finetune4j.InvalidDataException;

import java.nio.file.Path;
import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Reads dataset files into {@link Example}s, streaming: each record is parsed and handed on at
 * once (raw JSON is not kept; flat OpenAssistant rows are held in compact form until their file
 * ends). Bad records go to a {@link BadRecords} (fail or skip) with {@code path:line} and the reason.
 * Counts are kept for reports ({@link #stats()}).
 *
 * {@snippet :
 * BadRecords bad = new BadRecords(BadRecords.Policy.SKIP);
 * DatasetLoader loader = new DatasetLoader(DataOptions.DEFAULT, bad);
 * loader.read(Path.of("data/train.jsonl"), example -> ...);
 * System.out.println(loader.stats().examples() + " examples, " + bad.count() + " bad records");
 * }
 */
public final class DatasetLoader {
    private final DataOptions options;
    private final BadRecords bad;
    private final Map<DataFormat, Long> byFormat = new EnumMap<>(DataFormat.class);
    private long records, oasstFiltered, oasstUnreachable, trailingTurnsDropped;

    public DatasetLoader(DataOptions options, BadRecords bad) {
        this.options = options;
        this.bad = bad;
    }

    /** Counts so far. */
    public record Stats(long records, Map<DataFormat, Long> examplesByFormat, long oasstFiltered, long oasstUnreachable,
                        long trailingTurnsDropped) {
        /** Examples produced (an OpenAssistant tree may give several, or none). */
        public long examples() {
            long n = 0;
            for (long v : examplesByFormat.values()) n += v;
            return n;
        }
    }

    public Stats stats() {
        return new Stats(records, Collections.unmodifiableMap(new EnumMap<>(byFormat)), oasstFiltered, oasstUnreachable, trailingTurnsDropped);
    }

    public BadRecords badRecords() {
        return bad;
    }

    /**
     * Reads every record of {@code file}, calling {@code sink} for each example in file order.
     *
     * @throws InvalidDataException for a bad record when the policy is FAIL, or when the file cannot be read
     */
    public void read(Path file, Consumer<Example> sink) {
        RecordParser parser = new RecordParser(options);
        Consumer<Example> counting = e -> {
            byFormat.merge(e.format(), 1L, Long::sum);
            sink.accept(e);
        };
        records += DatasetReader.forEach(file, r -> {
            try {
                parser.parse(r, counting);
            } catch (InvalidDataException e) {
                bad.report(e);
            }
        }, bad);
        parser.finish(counting, bad);
        oasstFiltered += parser.oasstFiltered();
        oasstUnreachable += parser.oasstUnreachable();
        trailingTurnsDropped += parser.trailingTurnsDropped;
    }
}
