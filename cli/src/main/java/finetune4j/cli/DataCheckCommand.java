package finetune4j.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import finetune4j.InvalidDataException;
import finetune4j.batch.DataPipeline;
import finetune4j.batch.DataReport;
import finetune4j.data.DataFormat;
import finetune4j.data.DatasetFiles;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code data check}: reads every record of a dataset (each split of a train/valid/test directory)
 * through the whole data path and reports what training would get.
 */
@Command(name = "check", mixinStandardHelpOptions = true,
        description = "Read, render and tokenize every record; report counts per format, the token-length histogram, how many"
                + " examples would be cut or dropped, the tokens that count in the loss, and every bad record with file:line and"
                + " the reason. --model may be a directory holding only tokenizer files.")
final class DataCheckCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOption model = new ModelOption();

    @picocli.CommandLine.ArgGroup(exclusive = false, multiplicity = "1")
    DataArgs args = new DataArgs();

    @Option(names = "--json", description = "Print one JSON object.")
    boolean json;

    @Override
    public Integer call() {
        Path dir = model.resolve();
        DataPipeline p = DataPipeline.forModel(dir, args.options(dir));
        DatasetFiles files = DatasetFiles.resolve(args.data);
        List<String> splits = new ArrayList<>();
        List<DataReport> reports = new ArrayList<>();
        for (String split : new String[]{"train", "valid", "test"}) {
            Path f = switch (split) {
                case "train" -> files.train();
                case "valid" -> files.valid();
                default -> files.test();
            };
            if (f == null) continue;
            splits.add(split);
            reports.add(p.scan(f, 0, item -> { }));
        }
        PrintWriter o = spec.commandLine().getOut();
        if (json) {
            ObjectNode n = Json.object();
            n.put("model", dir.toString());
            n.put("train_on", p.options().trainOn().id());
            n.put("max_seq_len", p.options().maxSeqLen());
            n.put("truncate", p.options().truncation().name().toLowerCase(Locale.ROOT));
            ArrayNode a = n.putArray("files");
            for (int i = 0; i < reports.size(); i++) a.add(json(splits.get(i), reports.get(i)));
            Json.print(o, n);
            return 0;
        }
        for (int i = 0; i < reports.size(); i++) text(o, splits.get(i), reports.get(i), p.options());
        o.flush();
        return 0;
    }

    static ObjectNode json(String split, DataReport r) {
        ObjectNode n = Json.object();
        n.put("split", split);
        n.put("file", r.file());
        n.put("records", r.records());
        n.put("examples", r.examples());
        ObjectNode f = n.putObject("formats");
        for (Map.Entry<DataFormat, Long> e : r.examplesByFormat().entrySet()) f.put(e.getKey().id(), e.getValue());
        if (r.template() != null) n.put("template", r.template());
        ObjectNode m = n.putObject("mask_methods");
        r.maskMethods().forEach(m::put);
        n.put("kept", r.kept());
        n.put("truncated", r.truncated());
        n.put("dropped_too_long", r.droppedTooLong());
        n.put("dropped_no_trained_tokens", r.droppedNoTargets());
        n.put("duplicates", r.duplicates());
        n.put("tokens", r.tokens());
        n.put("trained_tokens", r.trainedTokens());
        n.put("trailing_turns_dropped", r.trailingTurnsDropped());
        n.put("oasst_filtered_messages", r.oasstFiltered());
        n.put("oasst_unreachable_messages", r.oasstUnreachable());
        int[] len = r.lengths();
        ObjectNode l = n.putObject("length");
        l.put("min", len.length == 0 ? 0 : java.util.Arrays.stream(len).min().getAsInt());
        l.put("median", r.lengthQuantile(0.5));
        l.put("p95", r.lengthQuantile(0.95));
        l.put("max", len.length == 0 ? 0 : java.util.Arrays.stream(len).max().getAsInt());
        ArrayNode h = n.putArray("histogram");
        for (DataReport.Bin b : r.histogram()) {
            ObjectNode bn = h.addObject();
            bn.put("from", b.from());
            if (b.to() >= 0) bn.put("to", b.to());
            else bn.putNull("to");
            bn.put("count", b.count());
        }
        ArrayNode bad = n.putArray("bad_records");
        for (InvalidDataException e : r.badRecords()) {
            ObjectNode b = bad.addObject();
            b.put("file", e.path());
            b.put("line", e.line());
            if (e.field() != null) b.put("field", e.field());
            b.put("message", e.getMessage());
        }
        return n;
    }

    static void text(PrintWriter o, String split, DataReport r, DataPipeline.Options opt) {
        o.printf("%s: %s%n", split, r.file());
        StringBuilder formats = new StringBuilder();
        for (Map.Entry<DataFormat, Long> e : r.examplesByFormat().entrySet()) {
            formats.append(formats.isEmpty() ? "" : ", ").append(e.getKey().id()).append(' ').append(e.getValue());
        }
        o.printf("  records %d, examples %d%s%n", r.records(), r.examples(), formats.isEmpty() ? "" : " (" + formats + ")");
        if (r.template() != null) o.printf("  template: %s; trained spans by %s%n", r.template(), r.maskMethods());
        o.printf("  train on: %s; max-seq-len %d, truncate %s%n", opt.trainOn().id(), opt.maxSeqLen(),
                opt.truncation().name().toLowerCase(Locale.ROOT));
        int[] len = r.lengths();
        if (len.length > 0) {
            o.printf("  tokens per example: min %d, median %d, p95 %d, max %d%n", java.util.Arrays.stream(len).min().getAsInt(),
                    r.lengthQuantile(0.5), r.lengthQuantile(0.95), java.util.Arrays.stream(len).max().getAsInt());
            long most = 1;
            for (DataReport.Bin b : r.histogram()) most = Math.max(most, b.count());
            for (DataReport.Bin b : r.histogram()) {
                String range = b.to() < 0 ? "> " + (b.from() - 1) : b.from() + "-" + b.to();
                int bar = (int) Math.round(40.0 * b.count() / most);
                o.printf("    %13s |%-40s| %d%n", range, "#".repeat(bar), b.count());
            }
        }
        o.printf("  kept %d; truncated %d, dropped too long %d, dropped with no trained token %d, duplicates %d%n", r.kept(),
                r.truncated(), r.droppedTooLong(), r.droppedNoTargets(), r.duplicates());
        o.printf("  tokens %d, trained tokens %d (%.1f%%)%n", r.tokens(), r.trainedTokens(),
                r.tokens() == 0 ? 0.0 : 100.0 * r.trainedTokens() / r.tokens());
        if (r.trailingTurnsDropped() > 0) o.printf("  trailing turns after the last assistant turn dropped: %d%n", r.trailingTurnsDropped());
        if (r.oasstFiltered() > 0 || r.oasstUnreachable() > 0) {
            o.printf("  OpenAssistant messages filtered: %d, unreachable: %d%n", r.oasstFiltered(), r.oasstUnreachable());
        }
        o.printf("  bad records: %d%n", r.badRecords().size());
        for (InvalidDataException e : r.badRecords()) o.printf("    %s%n", Cli.oneLine(e.getMessage()));
    }
}
