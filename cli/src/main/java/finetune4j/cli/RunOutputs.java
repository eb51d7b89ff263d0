package finetune4j.cli;

import finetune4j.train.MetricsLog;
import finetune4j.train.TrainListener;
import finetune4j.train.TrainReport;

import java.nio.file.Path;

/**
 * The files {@code train} writes beside the adapter: {@code metrics.jsonl} ({@link MetricsLog})
 * and {@code report.html} ({@link TrainReport}). They are opened when training starts
 * ({@link #onStart}), after the settings, data, model and adapter have been checked, so that a run
 * refused for bad input leaves nothing behind in {@code --output} (not even the directory).
 * A resumed run continues the metrics of the interrupted one.
 */
final class RunOutputs implements TrainListener, AutoCloseable {
    private final Path output;
    private final long resumeStep;      // -1: a new run
    private MetricsLog metrics;
    private TrainReport report;

    /**
     * @param resumeStep the step of the checkpoint the run resumes from, or -1 for a new run
     */
    RunOutputs(Path output, long resumeStep) {
        this.output = output;
        this.resumeStep = resumeStep;
    }

    @Override
    public void onStart(RunInfo run) {
        if (resumeStep < 0) {
            metrics = MetricsLog.create(output);
            report = new TrainReport(output.resolve(TrainReport.FILE));
        } else {
            metrics = MetricsLog.resume(output, resumeStep);
            report = new TrainReport(output.resolve(TrainReport.FILE), MetricsLog.read(metrics.file()));
        }
        metrics.onStart(run);
        report.onStart(run);
    }

    @Override
    public void onStep(StepMetrics m) {
        metrics.onStep(m);
        report.onStep(m);
    }

    @Override
    public void onEval(EvalMetrics m) {
        metrics.onEval(m);
        report.onEval(m);
    }

    @Override
    public void onCheckpoint(long step, Path dir) {
        metrics.onCheckpoint(step, dir);
        report.onCheckpoint(step, dir);
    }

    @Override
    public void onEnd(RunEnd end) {
        if (metrics == null) return;     // refused before it started
        metrics.onEnd(end);
        report.onEnd(end);
    }

    @Override
    public void close() {
        if (metrics != null) metrics.close();
    }
}
