package finetune4j.model;

import finetune4j.ConfigException;
import finetune4j.engine.tensor.NamedParam;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Measures training speed the way {@code bench train} reports it: forward + backward tokens/s of
 * {@link LlamaModel#forwardBackward} on synthetic tokens (seeded random ids, every position a
 * target), for whatever the caller made trainable (full fine-tuning, adapters, or a single norm
 * weight of layer 0 to time the frozen-base backward-to-input that LoRA needs), plus the
 * training buffers' bytes and the process's peak resident memory ({@code VmHWM}).
 * One untimed warm-up step (JIT, page-in), then {@code steps} timed steps; the rate is total
 * tokens over total time.
 */
public final class TrainBenchmark {
    private TrainBenchmark() {
    }

    /**
     * @param model            the model directory or a description
     * @param kernels          kernel implementation name
     * @param batch            B
     * @param seq              T
     * @param checkpointing    gradient checkpointing on
     * @param steps            timed steps
     * @param tokensPerSecond  B·T·steps / time
     * @param trainable        trainable parameters (elements)
     * @param activationBytes  activations kept for backward ({@link TrainingBuffers#activationBytes()})
     * @param bufferBytes      every training buffer ({@link TrainingBuffers#bytes()})
     * @param peakRssBytes     the process's peak resident set ({@code VmHWM}), or -1 where unknown
     */
    public record Result(String model, String kernels, int batch, int seq, boolean checkpointing, int steps,
                         double tokensPerSecond, long trainable, long activationBytes, long bufferBytes, long peakRssBytes) {
        /** A few lines for humans. */
        public String format() {
            return String.format(Locale.ROOT, """
                            model      %s, kernels %s, B=%d T=%d, gradient checkpointing %s
                            train      %,.1f tokens/s forward+backward (%d steps), %,d trainable parameters
                            memory     activations %.1f MiB, all training buffers %.1f MiB, peak RSS %.1f MiB""",
                    model, kernels, batch, seq, checkpointing ? "on" : "off", tokensPerSecond, steps, trainable,
                    activationBytes / 1048576.0, bufferBytes / 1048576.0, peakRssBytes / 1048576.0);
        }
    }

    /**
     * Times {@code steps} training steps of {@code model} as configured by the caller.
     *
     * @throws ConfigException for a non-positive size or a sequence beyond the model's context
     */
    public static Result run(LlamaModel model, String name, int b, int t, boolean checkpointing, int steps) {
        if (b <= 0) throw new ConfigException("batch size", b, "an integer > 0");
        if (t < 2) throw new ConfigException("sequence length", t, "an integer ≥ 2 (a target needs a previous token)");
        if (steps <= 0) throw new ConfigException("steps", steps, "an integer > 0");
        if (t > model.maxContext()) {
            throw new ConfigException("sequence length", t, "at most the model's context of " + model.maxContext()
                    + " (" + model.config().maxContextReason() + ")");
        }
        SplittableRandom rnd = new SplittableRandom(1234);
        int[] ids = new int[b * t];
        for (int i = 0; i < ids.length; i++) ids[i] = rnd.nextInt(model.config().vocabSize());
        int[] labels = ids.clone();
        float scale = 1f / LlamaModel.countTargets(labels, b, t);
        TrainingBuffers a = TrainingBuffers.allocate(model.config(), b, t, checkpointing);
        List<NamedParam> params = model.trainableParameters();
        long trainable = params.stream().mapToLong(NamedParam::numel).sum();
        model.forwardBackward(a, ids, labels, b, t, scale);                     // warm-up
        long start = System.nanoTime();
        for (int s = 0; s < steps; s++) model.forwardBackward(a, ids, labels, b, t, scale);
        double seconds = (System.nanoTime() - start) / 1e9;
        return new Result(name, model.kernels().name(), b, t, checkpointing, steps, (double) b * t * steps / seconds,
                trainable, a.activationBytes(), a.bytes(), peakRss());
    }

    /** {@code VmHWM} of {@code /proc/self/status} in bytes, or -1 where it cannot be read. */
    public static long peakRss() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    String[] f = line.substring(6).trim().split("\\s+");
                    return Long.parseLong(f[0]) * 1024;                          // kB
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }
}
