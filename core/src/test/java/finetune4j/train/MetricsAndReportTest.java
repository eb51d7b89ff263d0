package finetune4j.train;

import finetune4j.InvalidDataException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

import javax.xml.parsers.DocumentBuilderFactory;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** metrics.jsonl, the HTML report and the progress display, driven through TrainListener. */
class MetricsAndReportTest {
    static TrainListener.RunInfo run(long start, long total) {
        Map<String, String> cfg = new LinkedHashMap<>();
        cfg.put("model", "tiny <llama> & \"friends\"");
        cfg.put("method", "lora");
        cfg.put("lr", "0.0002");
        return new TrainListener.RunInfo(start, total, 1234, 1_000_000, cfg);
    }

    static TrainListener.StepMetrics step(long s) {
        double loss = s == 7 ? Double.NaN : 3.0 / Math.sqrt(s);
        return new TrainListener.StepMetrics(s, s / 10.0, loss, 2e-4 * (1 - s / 20.0), 0.5 + s / 100.0, 512, 1000 + 10 * s, 0.5 * s);
    }

    /** Drives a 20-step run with evals every 5 steps and a checkpoint at 10. */
    static void drive(TrainListener l, long from, long to) {
        l.onStart(run(from, 20));
        for (long s = from + 1; s <= to; s++) {
            l.onStep(step(s));
            if (s % 5 == 0) l.onEval(new TrainListener.EvalMetrics(s, 2.5 - s / 20.0, 2048, 0.5 * s + 0.1));
            if (s == 10) l.onCheckpoint(s, Path.of("/out/checkpoint-10"));
        }
        if (to == 20) l.onEnd(new TrainListener.RunEnd(20, TrainListener.Status.COMPLETED, null, 10.25));
    }

    @Test
    void metricsJsonlHasOneFlushedObjectPerEvent(@TempDir Path out) throws IOException {
        MetricsLog log = MetricsLog.create(out);
        log.onStart(run(0, 20));
        log.onStep(step(1));
        // flushed per line: readable before the run ends
        assertThat(Files.readAllLines(out.resolve(MetricsLog.FILE))).hasSize(2);
        for (long s = 2; s <= 20; s++) log.onStep(step(s));
        log.onEval(new TrainListener.EvalMetrics(20, 1.5, 2048, 10.2));
        log.onCheckpoint(20, out.resolve("checkpoint-20"));
        log.onEnd(new TrainListener.RunEnd(20, TrainListener.Status.COMPLETED, null, 10.25));
        List<String> lines = Files.readAllLines(out.resolve(MetricsLog.FILE));
        assertThat(lines).hasSize(24);
        assertThat(lines.get(1)).isEqualTo("{\"event\":\"train\",\"step\":1,\"epoch\":0.1,\"loss\":3.0,\"lr\":0.00019,"
                + "\"grad_norm\":0.51,\"tokens\":512,\"tokens_per_s\":1010.0,\"elapsed_s\":0.5}");
        assertThat(lines.get(7)).contains("\"step\":7,").contains("\"loss\":null");
        assertThat(lines.get(21)).isEqualTo("{\"event\":\"eval\",\"step\":20,\"val_loss\":1.5,\"val_ppl\":4.481689,\"tokens\":2048,\"elapsed_s\":10.2}");
        assertThat(lines.get(22)).isEqualTo("{\"event\":\"checkpoint\",\"step\":20,\"path\":\"checkpoint-20\"}");
        assertThat(lines.get(23)).isEqualTo("{\"event\":\"end\",\"step\":20,\"status\":\"completed\",\"message\":null,\"elapsed_s\":10.25}");

        MetricsLog.History h = MetricsLog.read(out.resolve(MetricsLog.FILE));
        assertThat(h.run().config()).containsEntry("model", "tiny <llama> & \"friends\"");
        assertThat(h.steps()).hasSize(20);
        assertThat(h.steps().get(6).loss()).isNaN();
        assertThat(h.steps().get(3).loss()).isEqualTo(1.5);
        assertThat(h.evals()).singleElement().extracting(TrainListener.EvalMetrics::valLoss).isEqualTo(1.5);
        assertThat(h.end().status()).isEqualTo(TrainListener.Status.COMPLETED);
    }

    @Test
    void resumeDropsEventsAfterTheCheckpointStep(@TempDir Path out) throws IOException {
        MetricsLog log = MetricsLog.create(out);
        drive(log, 0, 13);                 // interrupted after step 13; checkpoint was at 10
        log.close();
        Files.writeString(out.resolve(MetricsLog.FILE), "{\"event\":\"train\",\"st", java.nio.file.StandardOpenOption.APPEND);
        MetricsLog.History cut = MetricsLog.read(out.resolve(MetricsLog.FILE));   // a half-written last line is ignored
        assertThat(cut.steps()).hasSize(13);
        MetricsLog resumed = MetricsLog.resume(out, 10);
        drive(resumed, 10, 20);
        MetricsLog.History h = MetricsLog.read(out.resolve(MetricsLog.FILE));
        assertThat(h.steps()).extracting(TrainListener.StepMetrics::step).containsExactlyElementsOf(range(1, 20));
        assertThat(h.evals()).extracting(TrainListener.EvalMetrics::step).containsExactly(5L, 10L, 15L, 20L);
        assertThat(h.run().startStep()).isEqualTo(10);
    }

    private static List<Long> range(long a, long b) {
        List<Long> l = new ArrayList<>();
        for (long i = a; i <= b; i++) l.add(i);
        return l;
    }

    @Test
    void malformedMetricsLineNamesFileAndLine(@TempDir Path out) throws IOException {
        Path f = out.resolve(MetricsLog.FILE);
        Files.writeString(f, "{\"event\":\"train\",\"step\":1,\"epoch\":0,\"loss\":1,\"lr\":1,\"grad_norm\":1,\"tokens\":1,\"tokens_per_s\":1,\"elapsed_s\":1}\n"
                + "{\"event\":\"train\",\"step\":\"two\"}\n");
        assertThatThrownBy(() -> MetricsLog.read(f)).isInstanceOf(InvalidDataException.class)
                .hasMessage(f + ":2: field 'step': expected an integer, got \"two\"");
        Files.writeString(f, "not json\n{}\n");
        assertThatThrownBy(() -> MetricsLog.read(f)).hasMessageStartingWith(f + ":1: not a JSON object");
    }

    static Document parseXml(String html) throws Exception {
        DocumentBuilderFactory dbf = DocumentBuilderFactory.newInstance();
        dbf.setNamespaceAware(false);
        dbf.setFeature("http://apache.org/xml/features/nonvalidating/load-external-dtd", false);
        return dbf.newDocumentBuilder().parse(new ByteArrayInputStream(html.getBytes(StandardCharsets.UTF_8)));
    }

    /** Maps a polyline's points back to (step, value) with the chart's data-* attributes. */
    static List<double[]> points(Element svg, Element polyline) {
        double x0 = Double.parseDouble(svg.getAttribute("data-x0")), x1 = Double.parseDouble(svg.getAttribute("data-x1"));
        double y0 = Double.parseDouble(svg.getAttribute("data-y0")), y1 = Double.parseDouble(svg.getAttribute("data-y1"));
        double left = Double.parseDouble(svg.getAttribute("data-left")), top = Double.parseDouble(svg.getAttribute("data-top"));
        double w = Double.parseDouble(svg.getAttribute("data-width")), h = Double.parseDouble(svg.getAttribute("data-height"));
        List<double[]> pts = new ArrayList<>();
        for (String p : polyline.getAttribute("points").trim().split(" ")) {
            String[] xy = p.split(",");
            double px = Double.parseDouble(xy[0]), py = Double.parseDouble(xy[1]);
            pts.add(new double[]{x0 + (px - left) / w * (x1 - x0), y0 + (1 - (py - top) / h) * (y1 - y0)});
        }
        return pts;
    }

    @Test
    void reportIsWellFormedSelfContainedAndHoldsTheCurvesPoints(@TempDir Path out) throws Exception {
        Path html = out.resolve(TrainReport.FILE);
        drive(new TrainReport(html), 0, 20);
        String text = Files.readString(html);
        assertThat(text).doesNotContain("<script", "<link", "src=", "href=", "@import", "url(", "<img");
        Document doc = parseXml(text);   // throws on malformed markup
        NodeList svgs = doc.getElementsByTagName("svg");
        assertThat(svgs.getLength()).isEqualTo(3);
        Map<String, List<double[]>> series = new LinkedHashMap<>();
        for (int i = 0; i < svgs.getLength(); i++) {
            Element svg = (Element) svgs.item(i);
            NodeList lines = svg.getElementsByTagName("polyline");
            for (int j = 0; j < lines.getLength(); j++) {
                Element pl = (Element) lines.item(j);
                series.computeIfAbsent(pl.getAttribute("data-series"), k -> new ArrayList<>()).addAll(points(svg, pl));
            }
        }
        // train loss: 19 finite points (step 7 is NaN: a gap splits the line in two polylines)
        List<double[]> loss = series.get("train_loss");
        assertThat(loss).hasSize(19);
        for (double[] p : loss) {
            assertThat(p[0]).isCloseTo(Math.rint(p[0]), within(0.02));
            assertThat(p[1]).as("loss at step %s", p[0]).isCloseTo(3.0 / Math.sqrt(Math.rint(p[0])), within(0.01));
        }
        assertThat(series.get("val_loss")).hasSize(4);
        assertThat(series.get("val_loss").get(3)[1]).isCloseTo(1.5, within(0.01));
        assertThat(series.get("lr")).hasSize(20);
        assertThat(series.get("lr").get(0)[1]).isCloseTo(1.9e-4, within(1e-6));
        assertThat(series.get("tokens_per_s")).hasSize(20);
        assertThat(series.get("tokens_per_s").get(19)[1]).isCloseTo(1200, within(1.0));

        assertThat(text).contains("<th>final validation loss</th><td class=\"num\">1.5000 (perplexity 4.4817, step 20)</td>")
                .contains("1,234 of 1,000,000 (0.123%)")
                .contains("tiny &lt;llama&gt; &amp; &quot;friends&quot;")
                .contains("completed</span> at step 20 of 20 after 0:10");
    }

    @Test
    void reportOfAResumedRunCoversTheWholeRun(@TempDir Path out) throws Exception {
        MetricsLog log = MetricsLog.create(out);
        drive(log, 0, 13);
        log.close();
        TrainReport report = new TrainReport(out.resolve(TrainReport.FILE), MetricsLog.read(out.resolve(MetricsLog.FILE)));
        drive(report, 10, 20);
        Document doc = parseXml(Files.readString(out.resolve(TrainReport.FILE)));
        Element svg = (Element) doc.getElementsByTagName("svg").item(1);   // lr: no gaps
        assertThat(points(svg, (Element) svg.getElementsByTagName("polyline").item(0))).hasSize(20);
    }

    @Test
    void progressOnATerminalRedrawsOneLine() {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        long[] now = {0};
        ProgressDisplay p = new ProgressDisplay(new PrintStream(buf, true, StandardCharsets.UTF_8), true, 10, 30, () -> now[0]);
        p.onStart(run(0, 100));
        now[0] = 12_000_000_000L;   // 12 steps in 12 s → 88 s left
        p.onStep(new TrainListener.StepMetrics(12, 0.1, 2.3141, 1.8e-4, 1, 1234, 1234.4, 12));
        String s = buf.toString(StandardCharsets.UTF_8);
        assertThat(s).endsWith("\rstep 12/100 [==>                 ] loss 2.314 lr 1.8e-4 1234 tok/s ETA 1:28");
        assertThat(s).doesNotContain("\u001b");
        now[0] += 10_000_000;       // 10 ms later: not redrawn (throttled)
        p.onStep(new TrainListener.StepMetrics(13, 0.1, 2.3, 1.8e-4, 1, 1234, 1234, 12));
        assertThat(buf.toString(StandardCharsets.UTF_8)).isEqualTo(s);
        now[0] += 1_000_000_000;
        p.onEval(new TrainListener.EvalMetrics(13, 2.0, 100, 13));
        assertThat(buf.toString(StandardCharsets.UTF_8).substring(s.length()))
                .startsWith("\reval step 13: val_loss 2.0000 val_ppl 7.389 (100 tokens)")
                .endsWith("\n" + s.substring(s.lastIndexOf('\r') + 1));
        p.onStep(new TrainListener.StepMetrics(100, 1, 1.5, 0, 1, 1234, 1234, 100));
        p.onEnd(new TrainListener.RunEnd(100, TrainListener.Status.COMPLETED, null, 100));
        String all = buf.toString(StandardCharsets.UTF_8);
        assertThat(all).contains("step 100/100 [====================] loss 1.500 lr 0 1234 tok/s ETA 0:00")
                .endsWith("\ncompleted at step 100/100 after 1:40\n");
    }

    @Test
    void progressWithoutATerminalPrintsPlainLinesEveryNSteps() {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        long[] now = {0};
        ProgressDisplay p = new ProgressDisplay(new PrintStream(buf, true, StandardCharsets.UTF_8), false, 10, 30, () -> now[0]);
        p.onStart(run(0, 25));
        for (int s = 1; s <= 25; s++) {
            now[0] += 1_000_000_000L;
            p.onStep(new TrainListener.StepMetrics(s, s / 25.0, 2.0, 2e-4, 0.5, 100, 100, s));
        }
        p.onEnd(new TrainListener.RunEnd(25, TrainListener.Status.STOPPED_NON_FINITE, "grad of x is NaN", 25));
        List<String> lines = buf.toString(StandardCharsets.UTF_8).lines().toList();
        assertThat(lines).doesNotContain("\r");
        assertThat(lines).containsExactly(
                "training 25 steps: 1,234 trainable parameters of 1,000,000 (0.12%)",
                "step 1/25 loss 2.000 lr 2.0e-4 grad_norm 0.500 100 tok/s elapsed 0:01 ETA 0:24",
                "step 11/25 loss 2.000 lr 2.0e-4 grad_norm 0.500 100 tok/s elapsed 0:11 ETA 0:14",
                "step 21/25 loss 2.000 lr 2.0e-4 grad_norm 0.500 100 tok/s elapsed 0:21 ETA 0:04",
                "step 25/25 loss 2.000 lr 2.0e-4 grad_norm 0.500 100 tok/s elapsed 0:25 ETA 0:00",
                "stopped non finite at step 25/25 after 0:25: grad of x is NaN");
        // and every 30 s when steps are slow
        buf.reset();
        p.onStart(run(0, 1000));
        for (int s = 1; s <= 5; s++) {
            now[0] += 20_000_000_000L;
            p.onStep(new TrainListener.StepMetrics(s, 0, 2.0, 2e-4, 0.5, 100, 5, s));
        }
        assertThat(buf.toString(StandardCharsets.UTF_8).lines().filter(l -> l.startsWith("step")).map(l -> l.split(" ")[1]).toList())
                .containsExactly("1/1000", "3/1000", "5/1000");
    }
}
