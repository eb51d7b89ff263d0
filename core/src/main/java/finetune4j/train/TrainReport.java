package finetune4j.train;

import finetune4j.Finetune4jException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The end-of-run report: one self-contained HTML file ({@code report.html}; no scripts, external
 * stylesheets or fonts, so it opens anywhere and can be mailed or archived) with inline SVG charts
 * of training and validation loss, learning rate and tokens/s over steps, a summary table (status,
 * final and best figures, parameters, throughput) and the run's configuration. The markup is
 * well-formed XML (XHTML syntax), which the tests check.
 *
 * <p>As a {@link TrainListener} it collects the run's events and writes the file (atomically) in
 * {@link #onEnd}; a resumed run passes the earlier events ({@link MetricsLog#read}) so the report
 * covers the whole run. {@link #write(Path, MetricsLog.History)} renders a report from a
 * {@code metrics.jsonl} alone.
 */
public final class TrainReport implements TrainListener {
    public static final String FILE = "report.html";

    private final Path file;
    private RunInfo run;
    private final List<StepMetrics> steps = new ArrayList<>();
    private final List<EvalMetrics> evals = new ArrayList<>();

    /** A report written to {@code file} at the end of the run, starting from the events in {@code prior}. */
    public TrainReport(Path file, MetricsLog.History prior) {
        this.file = file;
        this.run = prior.run();
        steps.addAll(prior.steps());
        evals.addAll(prior.evals());
    }

    /** A report of a new run, written to {@code file} at its end. */
    public TrainReport(Path file) {
        this(file, MetricsLog.History.empty());
    }

    @Override
    public void onStart(RunInfo r) {
        run = r;
        steps.removeIf(s -> s.step() > r.startStep());
        evals.removeIf(e -> e.step() > r.startStep());
    }

    @Override
    public void onStep(StepMetrics m) {
        steps.add(m);
    }

    @Override
    public void onEval(EvalMetrics m) {
        evals.add(m);
    }

    @Override
    public void onEnd(RunEnd end) {
        write(file, new MetricsLog.History(run, steps, evals, end));
    }

    /** Renders {@code history} and writes it to {@code file} atomically (temp file + rename). */
    public static void write(Path file, MetricsLog.History history) {
        finetune4j.internal.AtomicFiles.writeString(file, render(history));
    }

    private static final String CSS = """
            body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:2em auto;max-width:780px;color:#222;padding:0 1em}
            h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
            table{border-collapse:collapse;font-size:.92em}td,th{padding:.25em .8em;text-align:left;border-bottom:1px solid #eee;vertical-align:top}
            th{font-weight:600;color:#444}td.num{text-align:right;font-variant-numeric:tabular-nums}
            .status{font-size:1.05em;color:#555}.ok{color:#17803d}.bad{color:#b42318}
            svg{display:block;margin:1em 0;background:#fff}svg .grid{stroke:#eee}svg .frame{fill:none;stroke:#999}
            svg text{font-family:inherit;fill:#444}svg .tick{font-size:11px}svg .axis{font-size:12px}svg .ctitle{font-size:13px;font-weight:600}
            svg .legend{font-size:12px}footer{margin-top:2em;font-size:.8em;color:#888}
            """;

    /** The report as an HTML document. */
    public static String render(MetricsLog.History h) {
        List<StepMetrics> steps = h.steps();
        List<EvalMetrics> evals = h.evals();
        StringBuilder sb = new StringBuilder(16384);
        sb.append("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n")
                .append("<meta name=\"generator\" content=\"finetune4j\"/>\n<title>finetune4j training report</title>\n<style>\n")
                .append(CSS).append("</style>\n</head>\n<body>\n<h1>Training report</h1>\n");
        RunEnd end = h.end();
        long total = h.run() == null ? (steps.isEmpty() ? 0 : steps.getLast().step()) : h.run().totalSteps();
        if (end != null) {
            boolean ok = end.status() == Status.COMPLETED;
            sb.append("<p class=\"status\"><span class=\"").append(ok ? "ok" : "bad").append("\">")
                    .append(esc(end.status().id().replace('_', ' '))).append("</span> at step ").append(end.step()).append(" of ")
                    .append(total).append(" after ").append(ProgressDisplay.duration(end.elapsedS()));
            if (end.message() != null) sb.append(": ").append(esc(end.message()));
            sb.append("</p>\n");
        }

        sb.append("<h2>Summary</h2>\n<table class=\"summary\">\n");
        for (Map.Entry<String, String> e : summary(h).entrySet()) {
            sb.append("<tr><th>").append(esc(e.getKey())).append("</th><td class=\"num\">").append(esc(e.getValue())).append("</td></tr>\n");
        }
        sb.append("</table>\n<h2>Curves</h2>\n");

        double[] sx = new double[steps.size()], loss = new double[steps.size()], lr = new double[steps.size()], tps = new double[steps.size()];
        for (int i = 0; i < steps.size(); i++) {
            StepMetrics s = steps.get(i);
            sx[i] = s.step();
            loss[i] = s.loss();
            lr[i] = s.lr();
            tps[i] = s.tokensPerS();
        }
        double[] ex = new double[evals.size()], vl = new double[evals.size()];
        for (int i = 0; i < evals.size(); i++) {
            ex[i] = evals.get(i).step();
            vl[i] = evals.get(i).valLoss();
        }
        SvgChart lossChart = new SvgChart("Loss", "loss")
                .add(new SvgChart.Series("train_loss", "train loss", "#1f6fb4", sx, loss, false));
        if (evals.size() > 0) lossChart.add(new SvgChart.Series("val_loss", "validation loss", "#d9480f", ex, vl, true));
        List<SvgChart> charts = List.of(lossChart,
                new SvgChart("Learning rate", "lr").add(new SvgChart.Series("lr", "learning rate", "#2b8a3e", sx, lr, false)),
                new SvgChart("Throughput", "tokens/s").add(new SvgChart.Series("tokens_per_s", "tokens/s", "#7048e8", sx, tps, false)));
        for (SvgChart c : charts) {
            sb.append("<figure>").append(c.isEmpty() ? "<p>(no data)</p>" : c.render()).append("</figure>\n");
        }

        if (h.run() != null && !h.run().config().isEmpty()) {
            sb.append("<h2>Configuration</h2>\n<table class=\"config\">\n");
            for (Map.Entry<String, String> e : h.run().config().entrySet()) {
                sb.append("<tr><th>").append(esc(e.getKey())).append("</th><td>").append(esc(e.getValue())).append("</td></tr>\n");
            }
            sb.append("</table>\n");
        }
        sb.append("<footer>Generated by finetune4j on ").append(Instant.now().truncatedTo(ChronoUnit.SECONDS)).append(".</footer>\n")
                .append("</body>\n</html>\n");
        return sb.toString();
    }

    /** The summary rows: label → value text. */
    static Map<String, String> summary(MetricsLog.History h) {
        Map<String, String> m = new LinkedHashMap<>();
        List<StepMetrics> steps = h.steps();
        List<EvalMetrics> evals = h.evals();
        RunInfo run = h.run();
        if (run != null) {
            m.put("trainable parameters", String.format(Locale.ROOT, "%,d of %,d (%.3f%%)", run.trainableParams(), run.totalParams(), run.trainablePercent()));
        }
        long lastStep = steps.isEmpty() ? 0 : steps.getLast().step();
        m.put("steps", run == null ? Long.toString(lastStep) : lastStep + " of " + run.totalSteps());
        if (!steps.isEmpty()) {
            m.put("first train loss", fmt(steps.getFirst().loss()));
            m.put("final train loss", fmt(steps.getLast().loss()));
            int k = Math.min(10, steps.size());
            double sum = 0;
            for (int i = steps.size() - k; i < steps.size(); i++) sum += steps.get(i).loss();
            m.put("mean train loss, last " + k + " steps", fmt(sum / k));
            long tokens = 0;
            for (StepMetrics s : steps) tokens += s.tokens();
            m.put("tokens", String.format(Locale.ROOT, "%,d", tokens));
            double secs = 0;
            for (int i = 0; i < steps.size(); i++) {
                StepMetrics s = steps.get(i);
                if (s.tokensPerS() > 0) secs += s.tokens() / s.tokensPerS();
            }
            if (secs > 0) m.put("mean throughput", String.format(Locale.ROOT, "%,.1f tokens/s", tokens / secs));
            m.put("final learning rate", ProgressDisplay.lr(steps.getLast().lr()));
        }
        if (!evals.isEmpty()) {
            EvalMetrics last = evals.getLast(), best = last;
            for (EvalMetrics e : evals) if (e.valLoss() < best.valLoss()) best = e;
            m.put("final validation loss", fmt(last.valLoss()) + " (perplexity " + fmt(last.valPpl()) + ", step " + last.step() + ")");
            m.put("best validation loss", fmt(best.valLoss()) + " (step " + best.step() + ")");
            m.put("first validation loss", fmt(evals.getFirst().valLoss()) + " (step " + evals.getFirst().step() + ")");
        }
        if (h.end() != null) m.put("elapsed", ProgressDisplay.duration(h.end().elapsedS()));
        return m;
    }

    private static String fmt(double v) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%.4f", v) : String.valueOf(v);
    }

    /** Escapes text for HTML/XML content and attribute values. */
    static String esc(String s) {
        StringBuilder sb = new StringBuilder(s.length() + 8);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '&' -> sb.append("&amp;");
                case '<' -> sb.append("&lt;");
                case '>' -> sb.append("&gt;");
                case '"' -> sb.append("&quot;");
                case '\'' -> sb.append("&#39;");
                default -> {
                    // characters XML 1.0 forbids (controls other than tab/newline/CR) are dropped
                    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') continue;
                    sb.append(c);
                }
            }
        }
        return sb.toString();
    }
}
