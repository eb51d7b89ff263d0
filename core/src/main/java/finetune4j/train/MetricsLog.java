package finetune4j.train;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import finetune4j.Finetune4jException;
import finetune4j.InvalidDataException;
import finetune4j.internal.PyJson;

import java.io.BufferedWriter;
import java.io.Closeable;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The run's metrics as JSON Lines ({@code metrics.jsonl} in the output directory): one compact
 * JSON object per event, written and flushed as it happens, so the file can be tailed, plotted or
 * read back ({@link #read}) while training runs.
 * <pre>
 * {"event":"start","step":0,"total_steps":100,"trainable_params":…,"total_params":…,"time":"…","config":{…}}
 * {"event":"train","step":1,"epoch":0.01,"loss":2.314,"lr":0.0002,"grad_norm":0.93,"tokens":4096,"tokens_per_s":1234.5,"elapsed_s":3.3}
 * {"event":"eval","step":20,"val_loss":2.1,"val_ppl":8.17,"tokens":2048,"elapsed_s":60.2}
 * {"event":"checkpoint","step":20,"path":"checkpoint-20"}
 * {"event":"end","step":100,"status":"completed","message":null,"elapsed_s":301.0}
 * </pre>
 * Non-finite numbers are written as {@code null} (JSON has no NaN). When a run is resumed from a
 * checkpoint, {@link #resume} keeps the events up to that step and drops those an interrupted run
 * logged after it, so the file reads as one uninterrupted run.
 */
public final class MetricsLog implements TrainListener, Closeable {
    public static final String FILE = "metrics.jsonl";

    private final Path file;
    private final BufferedWriter out;

    private MetricsLog(Path file, BufferedWriter out) {
        this.file = file;
        this.out = out;
    }

    /** Starts a new {@code metrics.jsonl} in {@code outputDir} (replacing an old one). */
    public static MetricsLog create(Path outputDir) {
        Path f = outputDir.resolve(FILE);
        try {
            Files.createDirectories(outputDir);
            return new MetricsLog(f, Files.newBufferedWriter(f, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new Finetune4jException("cannot create " + f + ": " + e, e);
        }
    }

    /**
     * Continues {@code metrics.jsonl} in {@code outputDir} after a resume from step {@code step}:
     * events with a step greater than {@code step} are dropped (rewritten atomically), new events
     * are appended. A missing file is created.
     */
    public static MetricsLog resume(Path outputDir, long step) {
        Path f = outputDir.resolve(FILE);
        try {
            Files.createDirectories(outputDir);
            if (Files.exists(f)) {
                StringBuilder kept = new StringBuilder();
                List<String> lines = Files.readAllLines(f, StandardCharsets.UTF_8);
                for (String line : lines) {
                    if (line.isBlank()) continue;
                    JsonNode n;
                    try {
                        n = PyJson.parse(line);
                    } catch (JsonProcessingException e) {
                        continue;   // a line cut short by the interruption
                    }
                    JsonNode s = n == null ? null : n.get("step");
                    if (s != null && s.isIntegralNumber() && s.longValue() > step) continue;
                    kept.append(line).append('\n');
                }
                Path tmp = f.resolveSibling("." + FILE + ".tmp");
                Files.writeString(tmp, kept, StandardCharsets.UTF_8);
                Files.move(tmp, f, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            }
            return new MetricsLog(f, Files.newBufferedWriter(f, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND));
        } catch (IOException e) {
            throw new Finetune4jException("cannot open " + f + " to resume: " + e, e);
        }
    }

    /** The file written. */
    public Path file() {
        return file;
    }

    private void write(Map<String, Object> event) {
        try {
            out.write(PyJson.dumpsCompact(event));
            out.write('\n');
            out.flush();
        } catch (IOException e) {
            throw new Finetune4jException("cannot write " + file + ": " + e, e);
        }
    }

    private static Map<String, Object> event(String kind, long step) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("event", kind);
        m.put("step", step);
        return m;
    }

    /** A float-precision number (7 significant digits are plenty for a log), or null when not finite. */
    private static Object f32(double v) {
        return Double.isFinite(v) ? (Object) (float) v : null;
    }

    private static Object f64(double v) {
        return Double.isFinite(v) ? (Object) v : null;
    }

    /** {@code v} rounded to {@code digits} decimals (the nearest double, so it prints short), or null when not finite. */
    private static Object rounded(double v, int digits) {
        double scale = Math.pow(10, digits);
        return Double.isFinite(v) ? (Object) (Math.round(v * scale) / scale) : null;
    }

    @Override
    public void onStart(RunInfo run) {
        Map<String, Object> m = event("start", run.startStep());
        m.put("total_steps", run.totalSteps());
        m.put("trainable_params", run.trainableParams());
        m.put("total_params", run.totalParams());
        m.put("time", Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
        m.put("config", run.config());
        write(m);
    }

    @Override
    public void onStep(StepMetrics s) {
        Map<String, Object> m = event("train", s.step());
        m.put("epoch", rounded(s.epoch(), 4));
        m.put("loss", f32(s.loss()));
        m.put("lr", f64(s.lr()));
        m.put("grad_norm", f32(s.gradNorm()));
        m.put("tokens", s.tokens());
        m.put("tokens_per_s", rounded(s.tokensPerS(), 1));
        m.put("elapsed_s", rounded(s.elapsedS(), 3));
        write(m);
    }

    @Override
    public void onEval(EvalMetrics e) {
        Map<String, Object> m = event("eval", e.step());
        m.put("val_loss", f32(e.valLoss()));
        m.put("val_ppl", f32(e.valPpl()));
        m.put("tokens", e.tokens());
        m.put("elapsed_s", rounded(e.elapsedS(), 3));
        write(m);
    }

    @Override
    public void onCheckpoint(long step, Path dir) {
        Map<String, Object> m = event("checkpoint", step);
        Path name = dir.getFileName();
        m.put("path", name == null ? dir.toString() : name.toString());
        write(m);
    }

    @Override
    public void onEnd(RunEnd end) {
        Map<String, Object> m = event("end", end.step());
        m.put("status", end.status().id());
        m.put("message", end.message());
        m.put("elapsed_s", rounded(end.elapsedS(), 3));
        write(m);
        close();
    }

    @Override
    public void close() {
        try {
            out.close();
        } catch (IOException e) {
            throw new Finetune4jException("cannot close " + file + ": " + e, e);
        }
    }

    /**
     * A run's events read back from {@code metrics.jsonl}.
     *
     * @param run   the last start event's information, or {@code null}
     * @param steps train events in file order
     * @param evals eval events in file order
     * @param end   the end event, or {@code null} while the run goes on (or after a crash)
     */
    public record History(RunInfo run, List<StepMetrics> steps, List<EvalMetrics> evals, RunEnd end) {
        public History {
            steps = List.copyOf(steps);
            evals = List.copyOf(evals);
        }

        /** No events. */
        public static History empty() {
            return new History(null, List.of(), List.of(), null);
        }
    }

    /**
     * Reads a {@code metrics.jsonl}. A last line without its newline (cut by an interruption) is ignored.
     *
     * @throws InvalidDataException naming the file and line of a malformed event
     */
    public static History read(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new Finetune4jException("cannot read " + file + ": " + e, e);
        }
        String[] lines = text.split("\n", -1);
        RunInfo run = null;
        RunEnd end = null;
        List<StepMetrics> steps = new ArrayList<>();
        List<EvalMetrics> evals = new ArrayList<>();
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i];
            boolean last = i == lines.length - 1;
            if (line.isBlank()) continue;
            JsonNode n;
            try {
                n = PyJson.parse(line);
            } catch (JsonProcessingException e) {
                if (last) break;   // no newline yet: cut short
                throw new InvalidDataException(file.toString(), i + 1, null, "not a JSON object: " + e.getOriginalMessage());
            }
            if (n == null || !n.isObject()) throw new InvalidDataException(file.toString(), i + 1, null, "expected a JSON object");
            Line l = new Line(file.toString(), i + 1, n);
            switch (l.text("event")) {
                case "start" -> {
                    Map<String, String> cfg = new LinkedHashMap<>();
                    JsonNode c = n.get("config");
                    if (c != null && c.isObject()) {
                        for (Iterator<Map.Entry<String, JsonNode>> it = c.fields(); it.hasNext(); ) {
                            Map.Entry<String, JsonNode> e = it.next();
                            cfg.put(e.getKey(), e.getValue().isTextual() ? e.getValue().textValue() : e.getValue().toString());
                        }
                    }
                    run = new RunInfo(l.integer("step"), l.integer("total_steps"), l.integer("trainable_params"), l.integer("total_params"), cfg);
                }
                case "train" -> steps.add(new StepMetrics(l.integer("step"), l.number("epoch"), l.number("loss"), l.number("lr"),
                        l.number("grad_norm"), l.integer("tokens"), l.number("tokens_per_s"), l.number("elapsed_s")));
                case "eval" -> evals.add(new EvalMetrics(l.integer("step"), l.number("val_loss"), l.integer("tokens"), l.number("elapsed_s")));
                case "end" -> end = new RunEnd(l.integer("step"), status(l), n.hasNonNull("message") ? n.get("message").asText() : null,
                        l.number("elapsed_s"));
                default -> {
                    // checkpoint events and kinds added later carry nothing the history needs
                }
            }
        }
        return new History(run, steps, evals, end);
    }

    private static Status status(Line l) {
        String s = l.text("status");
        for (Status st : Status.values()) if (st.id().equals(s)) return st;
        throw new InvalidDataException(l.file, l.line, "status", "expected one of completed, stopped_non_finite, interrupted, failed; got '" + s + "'");
    }

    /** Typed access to one event, errors naming file:line and field. */
    private record Line(String file, long line, JsonNode n) {
        String text(String key) {
            JsonNode v = n.get(key);
            if (v == null || !v.isTextual()) throw new InvalidDataException(file, line, key, "expected a string, got " + v);
            return v.textValue();
        }

        long integer(String key) {
            JsonNode v = n.get(key);
            if (v == null || !v.canConvertToLong() || !v.isIntegralNumber()) throw new InvalidDataException(file, line, key, "expected an integer, got " + v);
            return v.longValue();
        }

        /** A number, or NaN for null (non-finite values are logged as null). */
        double number(String key) {
            JsonNode v = n.get(key);
            if (v == null) throw new InvalidDataException(file, line, key, "missing");
            if (v.isNull()) return Double.NaN;
            if (!v.isNumber()) throw new InvalidDataException(file, line, key, "expected a number, got " + v);
            return v.doubleValue();
        }
    }
}
