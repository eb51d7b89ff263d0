package finetune4j.train;

import finetune4j.ConfigException;

import java.nio.file.Path;
import java.util.Locale;

/**
 * The settings of a training run (the flags of {@code train} and the keys of its YAML config),
 * validated when built. The adapter's own settings (rank, alpha, targets...) live in
 * {@code LoraConfig}.
 *
 * @param steps                 optimizer steps; 0 = use {@code epochs}
 * @param epochs                passes over the data when {@code steps} is 0
 * @param batchSize             sequences per micro-batch
 * @param gradAccum             micro-batches per optimizer step
 * @param maxSeqLen             longest sequence (longer ones are cut)
 * @param lr                    peak learning rate
 * @param optimizer             "adamw" or "sgd"
 * @param beta1                 AdamW β1
 * @param beta2                 AdamW β2
 * @param eps                   AdamW ε
 * @param momentum              SGD momentum
 * @param weightDecay           decoupled (AdamW) or L2 (SGD) weight decay; biases and norms excluded (HF Trainer)
 * @param schedule              LR schedule
 * @param warmup                warmup: steps when ≥ 1, a fraction of the total when in (0, 1)
 * @param gradClip              global-norm clipping threshold; 0 disables
 * @param gradientCheckpointing recompute each layer's forward during backward
 * @param seed                  seeds data order, adapter init and dropout
 * @param shuffle               shuffle the data each epoch (else file order)
 * @param output                output directory
 * @param saveEvery             checkpoint every N steps; 0 = none
 * @param evalEvery             evaluate every N steps (and at the end); 0 = only at the end
 * @param keepCheckpoints       how many checkpoints to keep; 0 = all
 * @param addsParameters        true when the trainable parameters are new (adapters), false when they are base weights
 */
public record TrainConfig(long steps, double epochs, int batchSize, int gradAccum, int maxSeqLen, double lr,
                          String optimizer, double beta1, double beta2, double eps, double momentum, double weightDecay,
                          LrSchedule.Kind schedule, double warmup, double gradClip, boolean gradientCheckpointing,
                          long seed, boolean shuffle, Path output, long saveEvery, long evalEvery, int keepCheckpoints,
                          boolean addsParameters) {
    public TrainConfig {
        if (steps < 0) throw new ConfigException("steps", steps, "an integer ≥ 0");
        if (steps == 0 && !(epochs > 0)) throw new ConfigException("epochs", epochs, "a number > 0 (or set steps)");
        if (batchSize < 1) throw new ConfigException("batch-size", batchSize, "an integer ≥ 1");
        if (gradAccum < 1) throw new ConfigException("grad-accum", gradAccum, "an integer ≥ 1");
        if (maxSeqLen < 2) throw new ConfigException("max-seq-len", maxSeqLen, "an integer ≥ 2");
        if (!(lr > 0) || !Double.isFinite(lr)) throw new ConfigException("lr", lr, "a number > 0");
        optimizer = optimizer.toLowerCase(Locale.ROOT);
        if (!optimizer.equals("adamw") && !optimizer.equals("sgd")) throw new ConfigException("optimizer", optimizer, "adamw or sgd");
        if (!(weightDecay >= 0)) throw new ConfigException("weight-decay", weightDecay, "a number ≥ 0");
        if (!(warmup >= 0)) throw new ConfigException("warmup", warmup, "steps ≥ 0, or a fraction in (0, 1)");
        if (warmup > 0 && schedule == LrSchedule.Kind.CONSTANT) {
            throw new ConfigException("warmup", warmup, "0 with the constant schedule, which has no warmup (as in"
                    + " transformers); use the constant_with_warmup schedule for a warmup followed by a constant rate");
        }
        if (!(gradClip >= 0)) throw new ConfigException("grad-clip", gradClip, "a number ≥ 0 (0 disables)");
        if (saveEvery < 0) throw new ConfigException("save-every", saveEvery, "an integer ≥ 0");
        if (evalEvery < 0) throw new ConfigException("eval-every", evalEvery, "an integer ≥ 0");
        if (keepCheckpoints < 0) throw new ConfigException("keep-checkpoints", keepCheckpoints, "an integer ≥ 0");
        if (output == null) throw new ConfigException("output", null, "an output directory");
    }

    /** Warmup in steps for a run of {@code total} steps. */
    public long warmupSteps(long total) {
        return warmup >= 1 || warmup == 0 ? (long) warmup : (long) Math.ceil(warmup * total);
    }

    /** This config with {@code addsParameters} set (false for full fine-tuning of base weights). */
    public TrainConfig withAddsParameters(boolean v) {
        return new TrainConfig(steps, epochs, batchSize, gradAccum, maxSeqLen, lr, optimizer, beta1, beta2, eps, momentum,
                weightDecay, schedule, warmup, gradClip, gradientCheckpointing, seed, shuffle, output, saveEvery, evalEvery,
                keepCheckpoints, v);
    }

    /** A fresh optimizer of the configured kind. */
    public Optimizer newOptimizer() {
        WeightDecay wd = weightDecay == 0 ? WeightDecay.NONE : WeightDecay.hf(weightDecay);
        return optimizer.equals("sgd")
                ? new Sgd(new Sgd.Config(momentum, 0, false), wd)
                : new AdamW(new AdamW.Config(beta1, beta2, eps), wd);
    }

    /** A builder with the defaults of the {@code train} command. */
    public static Builder builder() {
        return new Builder();
    }

    /** Builder with {@code train}'s defaults (those of mlx-lm / HF Trainer where they agree). */
    public static final class Builder {
        long steps = 0;
        double epochs = 1;
        int batchSize = 4, gradAccum = 1, maxSeqLen = 512;
        double lr = 2e-4;
        String optimizer = "adamw";
        double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, momentum = 0, weightDecay = 0;
        LrSchedule.Kind schedule = LrSchedule.Kind.CONSTANT;
        double warmup = 0, gradClip = 1.0;
        boolean gradientCheckpointing = false;
        long seed = 0;
        boolean shuffle = true;
        Path output;
        long saveEvery = 0, evalEvery = 0;
        int keepCheckpoints = 3;
        boolean addsParameters = true;

        public Builder steps(long v) { steps = v; return this; }
        public Builder epochs(double v) { epochs = v; return this; }
        public Builder batchSize(int v) { batchSize = v; return this; }
        public Builder gradAccum(int v) { gradAccum = v; return this; }
        public Builder maxSeqLen(int v) { maxSeqLen = v; return this; }
        public Builder lr(double v) { lr = v; return this; }
        public Builder optimizer(String v) { optimizer = v; return this; }
        public Builder betas(double b1, double b2) { beta1 = b1; beta2 = b2; return this; }
        public Builder eps(double v) { eps = v; return this; }
        public Builder momentum(double v) { momentum = v; return this; }
        public Builder weightDecay(double v) { weightDecay = v; return this; }
        public Builder schedule(LrSchedule.Kind v) { schedule = v; return this; }
        public Builder warmup(double v) { warmup = v; return this; }
        public Builder gradClip(double v) { gradClip = v; return this; }
        public Builder gradientCheckpointing(boolean v) { gradientCheckpointing = v; return this; }
        public Builder seed(long v) { seed = v; return this; }
        public Builder shuffle(boolean v) { shuffle = v; return this; }
        public Builder output(Path v) { output = v; return this; }
        public Builder saveEvery(long v) { saveEvery = v; return this; }
        public Builder evalEvery(long v) { evalEvery = v; return this; }
        public Builder keepCheckpoints(int v) { keepCheckpoints = v; return this; }
        public Builder addsParameters(boolean v) { addsParameters = v; return this; }

        public TrainConfig build() {
            return new TrainConfig(steps, epochs, batchSize, gradAccum, maxSeqLen, lr, optimizer, beta1, beta2, eps,
                    momentum, weightDecay, schedule, warmup, gradClip, gradientCheckpointing, seed, shuffle, output,
                    saveEvery, evalEvery, keepCheckpoints, addsParameters);
        }
    }
}
