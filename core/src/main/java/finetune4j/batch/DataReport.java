package finetune4j.batch;

import finetune4j.InvalidDataException;
import finetune4j.data.DataFormat;
import finetune4j.data.DatasetLoader;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What reading and tokenizing one dataset file gave ({@code data check}): records and examples per
 * format, bad records (skipped ones, with {@code path:line} and the reason), examples cut, dropped or
 * removed as duplicates, token counts, and the distribution of example lengths (before cutting).
 */
public final class DataReport {
    private final String file;
    private final String template;
    private final int maxSeqLen;
    DatasetLoader.Stats loader = new DatasetLoader.Stats(0, Map.of(), 0, 0, 0);
    List<InvalidDataException> badRecords = List.of();
    long kept, truncated, droppedLong, droppedNoTargets, duplicates, tokens, trainedTokens;
    final Map<String, Long> methods = new LinkedHashMap<>();
    private int[] lengths = new int[64];
    private int n;

    DataReport(String file, String template, int maxSeqLen) {
        this.file = file;
        this.template = template;
        this.maxSeqLen = maxSeqLen;
    }

    /** {@code r} with the template name known only once tokenization ran. */
    DataReport(DataReport r, String template) {
        this(r.file, template, r.maxSeqLen);
        loader = r.loader;
        badRecords = r.badRecords;
        kept = r.kept;
        truncated = r.truncated;
        droppedLong = r.droppedLong;
        droppedNoTargets = r.droppedNoTargets;
        duplicates = r.duplicates;
        tokens = r.tokens;
        trainedTokens = r.trainedTokens;
        methods.putAll(r.methods);
        lengths = r.lengths;
        n = r.n;
    }

    void length(int len) {
        if (n == lengths.length) lengths = Arrays.copyOf(lengths, n * 2);
        lengths[n++] = len;
    }

    public String file() {
        return file;
    }

    /** The chat template conversations were rendered with ("model", a name, or a file), or null when none was needed. */
    public String template() {
        return template;
    }

    public int maxSeqLen() {
        return maxSeqLen;
    }

    /** Records read (lines or array elements, bad ones included). */
    public long records() {
        return loader.records();
    }

    /** Examples built, by format (before tokenization problems, cuts and duplicates). */
    public Map<DataFormat, Long> examplesByFormat() {
        return loader.examplesByFormat();
    }

    public long examples() {
        return loader.examples();
    }

    /** Records (or examples) skipped as bad, in order met. */
    public List<InvalidDataException> badRecords() {
        return badRecords;
    }

    /** Examples kept (tokenized, fitting or cut, not duplicates). */
    public long kept() {
        return kept;
    }

    /** Kept examples that were cut to the sequence length. */
    public long truncated() {
        return truncated;
    }

    /** Examples dropped for being too long ({@code --truncate drop}). */
    public long droppedTooLong() {
        return droppedLong;
    }

    /** Examples dropped because cutting left no trained token. */
    public long droppedNoTargets() {
        return droppedNoTargets;
    }

    /** Exact duplicates removed ({@code --dedupe}). */
    public long duplicates() {
        return duplicates;
    }

    /** Tokens of the kept examples (after cutting). */
    public long tokens() {
        return tokens;
    }

    /** Next-token targets that count in the loss, over the kept examples. */
    public long trainedTokens() {
        return trainedTokens;
    }

    public long oasstFiltered() {
        return loader.oasstFiltered();
    }

    public long oasstUnreachable() {
        return loader.oasstUnreachable();
    }

    /** Trailing turns after the last assistant turn, dropped (they train nothing). */
    public long trailingTurnsDropped() {
        return loader.trailingTurnsDropped();
    }

    /** How trained spans were found, per example: all, completion, generation, prefix. */
    public Map<String, Long> maskMethods() {
        return Collections.unmodifiableMap(methods);
    }

    /** Full token length (before cutting) of every tokenized example, in order. */
    public int[] lengths() {
        return Arrays.copyOf(lengths, n);
    }

    /** One histogram bin: lengths in {@code [from, to]}; {@code to == -1}: no upper bound. */
    public record Bin(int from, int to, long count) {
    }

    /**
     * Lengths in bins doubling from 1–32 up to the sequence length, and one bin for longer examples
     * (those are cut or dropped).
     */
    public List<Bin> histogram() {
        List<Integer> edges = new ArrayList<>();
        int e = 32;
        while (e < maxSeqLen) {
            edges.add(e);
            e *= 2;
        }
        edges.add(maxSeqLen);
        long[] counts = new long[edges.size() + 1];
        for (int i = 0; i < n; i++) {
            int len = lengths[i], b = 0;
            while (b < edges.size() && len > edges.get(b)) b++;
            counts[b]++;
        }
        List<Bin> out = new ArrayList<>();
        int from = 1;
        for (int b = 0; b < edges.size(); b++) {
            out.add(new Bin(from, edges.get(b), counts[b]));
            from = edges.get(b) + 1;
        }
        out.add(new Bin(maxSeqLen + 1, -1, counts[edges.size()]));
        return out;
    }

    /** The {@code q}-quantile (0..1) of the lengths, nearest rank; 0 when empty. */
    public int lengthQuantile(double q) {
        if (n == 0) return 0;
        int[] s = lengths();
        Arrays.sort(s);
        int k = (int) Math.ceil(q * n) - 1;
        return s[Math.max(0, Math.min(n - 1, k))];
    }
}
