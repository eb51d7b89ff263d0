package finetune4j.train;

import finetune4j.Finetune4jException;
import finetune4j.batch.Batch;
import finetune4j.batch.BatchIterator;
import finetune4j.batch.Tokenized;
import finetune4j.engine.tensor.NamedParam;
import finetune4j.model.LlamaModel;
import finetune4j.model.TrainingBuffers;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The training loop: micro-batches → forward + backward → token-weighted gradient accumulation →
 * clipping → optimizer step, with evaluation, checkpoints and listeners. It reads like llm.c's
 * {@code main}; logging, progress, the report and metrics are {@link TrainListener}s.
 *
 * <p>Token weighting (torchtune): the micro-batches of one optimizer step are fetched first, their
 * target tokens N counted, and each backward pass scales its summed cross-entropy by 1/N, so the
 * accumulated gradient is that of the mean over all targets of the step: two micro-batches of 4
 * give the same update as one batch of 8.
 *
 * <p>Reproducibility: everything random is a pure function of the seed and the step (data order per
 * epoch, dropout masks per step and micro-batch through {@link StepHook}), so a run resumed from a
 * checkpoint continues bit for bit like an uninterrupted one.
 */
public final class Trainer {

    /**
     * What the trainer writes for the trained weights: the adapter (or full model) files into a
     * checkpoint directory, and the final artefact into the output directory.
     */
    public interface Artifact {
        /** Writes the weights into {@code dir} (a fresh temporary checkpoint directory). */
        void writeCheckpoint(Path dir);

        /** Writes the final result into {@code outputDir} (atomically). */
        void writeFinal(Path outputDir);

        /** Loads the weights a {@link #writeCheckpoint} wrote into the trainable parameters (resume). */
        void readCheckpoint(Path dir, List<NamedParam> params);
    }

    /** Told before each micro-batch's forward pass (e.g. to seed dropout masks) and around evaluations. */
    @FunctionalInterface
    public interface StepHook {
        void beforeMicroBatch(long step, int microBatch);

        /**
         * Told {@code true} before the validation set is evaluated and {@code false} after: the
         * model must then run as at inference (no dropout), as {@code model.eval()} does in torch.
         */
        default void evaluating(boolean on) {
        }

        StepHook NONE = (s, m) -> { };
    }

    private final LlamaModel model;
    private final List<NamedParam> params;
    private final TrainConfig cfg;
    private final BatchIterator data;
    private final List<Tokenized> valid;
    private final Artifact artifact;
    private final StepHook hook;
    private final Optimizer optimizer;
    private final LrSchedule schedule;
    private final GradClip clip;
    private final TrainingBuffers buffers;
    private final Batch[] micro;          // [accum] reused batch buffers
    private final Batch evalBatch;
    private final long totalSteps;
    private final String configHash;
    private final Map<String, String> display;

    /**
     * @param trainable the parameters the optimizer updates (adapter weights, or the selected base weights)
     * @param train     tokenized training examples
     * @param valid     tokenized validation examples (may be empty: no evaluation)
     * @param display   settings shown in logs and the report, in order
     * @param canonical a canonical text of the settings that must not change across a resume
     */
    public Trainer(LlamaModel model, List<NamedParam> trainable, TrainConfig cfg, List<Tokenized> train,
                   List<Tokenized> valid, Artifact artifact, StepHook hook, Map<String, String> display, String canonical) {
        if (trainable.isEmpty()) throw new Finetune4jException("nothing to train: no trainable parameters");
        if (train.isEmpty()) throw new Finetune4jException("the training data holds no examples");
        this.model = model;
        this.params = List.copyOf(trainable);
        this.cfg = cfg;
        this.valid = List.copyOf(valid);
        this.artifact = artifact;
        this.hook = hook == null ? StepHook.NONE : hook;
        int pad = model.config().eosTokenIds().isEmpty() ? 0 : model.config().eosTokenIds().getFirst();
        this.data = new BatchIterator(train, cfg.batchSize(), cfg.shuffle(), cfg.seed(), pad);
        int maxT = Math.max(data.maxLength(), maxLength(valid));
        this.buffers = TrainingBuffers.allocate(model.config(), cfg.batchSize(), maxT, cfg.gradientCheckpointing());
        this.micro = new Batch[cfg.gradAccum()];
        for (int i = 0; i < micro.length; i++) micro[i] = new Batch(cfg.batchSize(), maxT);
        this.evalBatch = new Batch(cfg.batchSize(), maxT);
        this.totalSteps = cfg.steps() > 0 ? cfg.steps()
                : Math.max(1, (long) Math.ceil(cfg.epochs() * data.batchesPerEpoch() / (double) cfg.gradAccum()));
        this.optimizer = cfg.newOptimizer();
        this.schedule = new LrSchedule(cfg.schedule(), cfg.lr(), cfg.warmupSteps(totalSteps), totalSteps);
        this.clip = new GradClip(cfg.gradClip());
        this.configHash = Checkpoint.hash(canonical);
        this.display = new LinkedHashMap<>(display);
    }

    private static int maxLength(List<Tokenized> xs) {
        int m = 1;
        for (Tokenized t : xs) m = Math.max(m, t.length());
        return m;
    }

    /** Optimizer steps of the whole run. */
    public long totalSteps() {
        return totalSteps;
    }

    /** Bytes of the activation buffers. */
    public long bufferBytes() {
        return buffers.bytes();
    }

    /** The outcome of {@link #run}. */
    public record Result(TrainListener.RunEnd end, double finalTrainLoss, double finalValLoss, long tokensSeen,
                         Path lastCheckpoint) {
    }

    /**
     * Trains from the start, or from {@code resumeFrom} (a checkpoint directory) when not null.
     * On non-finite loss or gradients the run stops before the bad update, with a message naming the
     * parameter, and the last checkpoint (written before the problem) is kept as the good state.
     */
    public Result run(TrainListener listener, Path resumeFrom) {
        long startStep = 0, tokensSeen = 0;
        double priorElapsed = 0;
        if (resumeFrom != null) {
            Checkpoint.Loaded ck = Checkpoint.load(resumeFrom);
            ck.requireConfigHash(configHash);
            artifact.readCheckpoint(ck.dir(), params);
            ck.restore(optimizer, params);
            TrainerState st = ck.state();
            startStep = st.step();
            tokensSeen = st.tokensSeen();
            priorElapsed = st.elapsedS();
            data.seek((int) st.data().epoch(), (int) st.data().index());
        }
        long trainable = 0;
        for (NamedParam p : params) trainable += p.numel();
        listener.onStart(new TrainListener.RunInfo(startStep, totalSteps, trainable,
                model.parameterCount(), display));

        long t0 = System.nanoTime();
        double lastLoss = Double.NaN, lastVal = Double.NaN;
        Path lastCheckpoint = resumeFrom;
        // the newest checkpoint whose weights have since given a finite loss and gradients: the one
        // written just before a non-finite step holds the very weights that produced it
        Path goodCheckpoint = null;
        long step = startStep;
        try {
            while (step < totalSteps) {
                long ts = System.nanoTime();
                // fetch the step's micro-batches first: their target count weights every backward pass
                long targets = 0, tokens = 0;
                for (Batch b : micro) {
                    data.next(b);
                    targets += b.targetTokens();
                    tokens += b.tokens();
                }
                model.zeroGradients();
                for (NamedParam p : params) Arrays.fill(p.grad(), 0f);
                double lossSum = 0;
                float scale = targets == 0 ? 0f : (float) (1.0 / targets);
                for (int i = 0; i < micro.length; i++) {
                    Batch b = micro[i];
                    hook.beforeMicroBatch(step, i);
                    lossSum += model.forwardBackward(buffers, b.ids, b.labels, b.b(), b.t(), scale);
                }
                double loss = targets == 0 ? 0 : lossSum / targets;
                GradClip.Result g = clip.apply(params);
                double elapsed = priorElapsed + (System.nanoTime() - t0) / 1e9;
                if (!Double.isFinite(loss) || !g.finite()) {
                    String what = !Double.isFinite(loss) ? "the loss is " + loss
                            : "the gradient of " + g.nonFiniteParam() + " is not finite";
                    String msg = "training stopped at step " + (step + 1) + ": " + what + "; the update was not applied"
                            + checkpointNote(lastCheckpoint, goodCheckpoint)
                            + " (hint: lower --lr, use --grad-clip, or check the data)";
                    listener.onEnd(new TrainListener.RunEnd(step, TrainListener.Status.STOPPED_NON_FINITE, msg, elapsed));
                    throw new Finetune4jException(msg);
                }
                goodCheckpoint = lastCheckpoint;
                double lr = schedule.lr(step);
                optimizer.step(params, lr);
                step++;
                tokensSeen += tokens;
                lastLoss = loss;
                double secs = (System.nanoTime() - ts) / 1e9;
                double epoch = data.epoch() + data.index() / (double) data.size();
                listener.onStep(new TrainListener.StepMetrics(step, epoch, loss, lr, g.totalNorm(), tokens,
                        tokens / secs, priorElapsed + (System.nanoTime() - t0) / 1e9));
                if (!valid.isEmpty() && cfg.evalEvery() > 0 && step % cfg.evalEvery() == 0 && step < totalSteps) {
                    lastVal = evaluate(listener, step, priorElapsed + (System.nanoTime() - t0) / 1e9);
                }
                if (cfg.saveEvery() > 0 && step % cfg.saveEvery() == 0 && step < totalSteps) {
                    TrainerState st = new TrainerState(step, lr, Map.of(),
                            new TrainerState.DataPosition(data.epoch(), data.index(), cfg.seed()), configHash, tokensSeen,
                            priorElapsed + (System.nanoTime() - t0) / 1e9);
                    lastCheckpoint = Checkpoint.save(cfg.output(), st, optimizer, params, artifact::writeCheckpoint,
                            cfg.keepCheckpoints());
                    listener.onCheckpoint(step, lastCheckpoint);
                }
                if (Thread.currentThread().isInterrupted()) {
                    double el = priorElapsed + (System.nanoTime() - t0) / 1e9;
                    listener.onEnd(new TrainListener.RunEnd(step, TrainListener.Status.INTERRUPTED,
                            "interrupted after step " + step, el));
                    return new Result(new TrainListener.RunEnd(step, TrainListener.Status.INTERRUPTED, null, el),
                            lastLoss, lastVal, tokensSeen, lastCheckpoint);
                }
            }
            if (!valid.isEmpty()) lastVal = evaluate(listener, step, priorElapsed + (System.nanoTime() - t0) / 1e9);
            artifact.writeFinal(cfg.output());
            double el = priorElapsed + (System.nanoTime() - t0) / 1e9;
            TrainListener.RunEnd end = new TrainListener.RunEnd(step, TrainListener.Status.COMPLETED, null, el);
            listener.onEnd(end);
            return new Result(end, lastLoss, lastVal, tokensSeen, lastCheckpoint);
        } catch (Finetune4jException e) {
            throw e;
        } catch (RuntimeException e) {
            listener.onEnd(new TrainListener.RunEnd(step, TrainListener.Status.FAILED, e.toString(),
                    priorElapsed + (System.nanoTime() - t0) / 1e9));
            throw e;
        }
    }

    /**
     * Where a run stopped by a non-finite step can go on from: {@code good}, the newest checkpoint
     * whose weights gave a finite step afterwards (when it still exists), and not {@code last} when
     * that one holds the weights of the failed step.
     */
    private static String checkpointNote(Path last, Path good) {
        if (last == null) return " (no checkpoint was written; use --save-every to keep good states)";
        String bad = last.equals(good) ? "" : " (" + last.getFileName() + " holds the weights that gave it)";
        if (good != null && java.nio.file.Files.isDirectory(good)) return "; the last good checkpoint is " + good + bad;
        return "; no checkpoint from before the problem is left" + bad;
    }

    /** Mean loss over the validation targets (same definition as training), reported to the listener. */
    private double evaluate(TrainListener listener, long step, double elapsed) {
        double[] r;
        hook.evaluating(true);
        try {
            r = evaluate(model, buffers, evalBatch, valid, cfg.batchSize());
        } finally {
            hook.evaluating(false);
        }
        listener.onEval(new TrainListener.EvalMetrics(step, r[0], (long) r[1], elapsed));
        return r[0];
    }

    /**
     * {mean loss, target tokens} of {@code examples} in file order: transformers' causal-LM loss
     * (mean over non-ignored next-token targets), over all examples together.
     */
    public static double[] evaluate(LlamaModel model, TrainingBuffers buffers, Batch batch, List<Tokenized> examples,
                                    int batchSize) {
        double sum = 0;
        long targets = 0;
        Tokenized[] rows = new Tokenized[batchSize];
        int pad = model.config().eosTokenIds().isEmpty() ? 0 : model.config().eosTokenIds().getFirst();
        for (int i = 0; i < examples.size(); i += batchSize) {
            int n = Math.min(batchSize, examples.size() - i);
            for (int j = 0; j < n; j++) rows[j] = examples.get(i + j);
            batch.fill(rows, n, pad);
            sum += model.forwardLoss(buffers, batch.ids, batch.labels, batch.b(), batch.t());
            targets += batch.targetTokens();
        }
        return new double[]{targets == 0 ? Double.NaN : sum / targets, targets};
    }

    /** The trainable parameters (HF names), for saving and reporting. */
    public List<NamedParam> parameters() {
        return new ArrayList<>(params);
    }
}
