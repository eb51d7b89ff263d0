package finetune4j.train;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Receives a training run's events, so the step loop stays free of logging, progress, report and
 * checkpoint side concerns: the loop calls {@code listeners.onStep(m)} and each listener decides
 * what to do ({@link MetricsLog}, {@link ProgressDisplay}, {@link TrainReport}). Every method has an
 * empty default. Listeners run on the training thread, in the order given to {@link #of}.
 */
public interface TrainListener {
    /** Once, before the first step (also when resuming; then {@link RunInfo#startStep()} &gt; 0). */
    default void onStart(RunInfo run) {
    }

    /** After every optimizer step. */
    default void onStep(StepMetrics m) {
    }

    /** After each evaluation on the validation data. */
    default void onEval(EvalMetrics m) {
    }

    /** After a checkpoint directory has been written (complete, renamed into place). */
    default void onCheckpoint(long step, Path dir) {
    }

    /** Once, when the run ends for any reason (completed, stopped on non-finite values, interrupted, failed). */
    default void onEnd(RunEnd end) {
    }

    /** A listener forwarding every event to {@code listeners}, in order. */
    static TrainListener of(List<? extends TrainListener> listeners) {
        List<TrainListener> ls = List.copyOf(listeners);
        return new TrainListener() {
            @Override
            public void onStart(RunInfo run) {
                for (TrainListener l : ls) l.onStart(run);
            }

            @Override
            public void onStep(StepMetrics m) {
                for (TrainListener l : ls) l.onStep(m);
            }

            @Override
            public void onEval(EvalMetrics m) {
                for (TrainListener l : ls) l.onEval(m);
            }

            @Override
            public void onCheckpoint(long step, Path dir) {
                for (TrainListener l : ls) l.onCheckpoint(step, dir);
            }

            @Override
            public void onEnd(RunEnd end) {
                for (TrainListener l : ls) l.onEnd(end);
            }
        };
    }

    /**
     * What a run is about, for logs and the report.
     *
     * @param startStep       optimizer steps already done (0, or the resumed checkpoint's step)
     * @param totalSteps      optimizer steps the run will take in all
     * @param trainableParams number of trainable scalars
     * @param totalParams     number of scalars in the model (base + adapter)
     * @param config          settings to show (name → value text), in display order
     */
    record RunInfo(long startStep, long totalSteps, long trainableParams, long totalParams, Map<String, String> config) {
        public RunInfo {
            config = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(config));
        }

        /** Trainable share of all parameters, in percent. */
        public double trainablePercent() {
            return totalParams == 0 ? 0 : 100.0 * trainableParams / totalParams;
        }
    }

    /**
     * One optimizer step.
     *
     * @param step       optimizer steps done, this one included (1-based)
     * @param epoch      fractional epoch (e.g. 1.25)
     * @param loss       mean loss over the step's target tokens (all micro-batches)
     * @param lr         learning rate used by this step
     * @param gradNorm   global gradient norm before clipping
     * @param tokens     tokens processed by this step (input positions, padding excluded)
     * @param tokensPerS throughput of this step
     * @param elapsedS   seconds since the run (or the resumed run) started
     */
    record StepMetrics(long step, double epoch, double loss, double lr, double gradNorm, long tokens, double tokensPerS,
                       double elapsedS) {
    }

    /**
     * One evaluation.
     *
     * @param step     optimizer steps done when it ran
     * @param valLoss  mean loss over the validation target tokens
     * @param tokens   validation target tokens
     * @param elapsedS seconds since the run started
     */
    record EvalMetrics(long step, double valLoss, long tokens, double elapsedS) {
        /** Perplexity, {@code exp(valLoss)}. */
        public double valPpl() {
            return Math.exp(valLoss);
        }
    }

    /** How a run ended. */
    enum Status {
        COMPLETED, STOPPED_NON_FINITE, INTERRUPTED, FAILED;

        /** Lower-case name for logs, e.g. {@code stopped_non_finite}. */
        public String id() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /**
     * The end of a run.
     *
     * @param step     optimizer steps done
     * @param status   why it ended
     * @param message  a sentence for the user (e.g. which gradient held NaN), or {@code null}
     * @param elapsedS seconds since the run started
     */
    record RunEnd(long step, Status status, String message, double elapsedS) {
    }
}
