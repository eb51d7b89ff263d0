package finetune4j.train;

import finetune4j.ConfigException;
import finetune4j.engine.kernels.KernelBenchmarks;
import finetune4j.engine.kernels.KernelThreads;
import finetune4j.engine.tensor.DType;
import finetune4j.engine.tensor.NamedParam;
import finetune4j.model.LinearSlot;
import finetune4j.model.LlamaModel;
import finetune4j.model.ModelConfig;
import finetune4j.model.StepProfile;
import finetune4j.model.TrainingBuffers;
import finetune4j.peft.LoraAdapter;
import finetune4j.peft.LoraConfig;
import finetune4j.peft.LoraSpec;
import finetune4j.peft.LoraWeights;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * {@code bench train}: the speed and memory of real training steps on synthetic tokens. One step
 * is what {@link Trainer} does per optimizer step with one micro-batch: zero the gradients,
 * {@link LlamaModel#forwardBackward} (every position a target), clip the global norm to 1.0, an
 * AdamW update — the step of {@code shared/bench/torch_lora_bench.py}, the PyTorch peer it is
 * compared with (same LoRA defaults there: alpha 16, dropout 0.05, targets q, k, v, o, gate, up,
 * down).
 *
 * <p>Reported: the time of every step; after {@code warmup} untimed steps (JIT, page-in) the
 * median and the best step as tokens/s (B·T per step); the FLOPs a step must do
 * ({@link #modelFlops}: no recompute counted) as GFLOP/s and, against a GEMM ceiling measured in
 * the same run on the model's own MLP shape, as model FLOPs utilisation; the training buffers'
 * bytes; the process's peak resident set ({@code VmHWM}).
 */
public final class TrainBenchmark {
    private TrainBenchmark() {
    }

    /** What is trained. */
    public enum Method {
        /** LoRA adapters on the targets; the base is frozen. */
        LORA,
        /** DoRA (LoRA with a magnitude vector) on the targets. */
        DORA,
        /** QLoRA: LoRA over a base whose linear layers are 4-bit (the model must be loaded so). */
        QLORA,
        /** QDoRA: DoRA over a 4-bit base. */
        QDORA,
        /** Every parameter of the model. */
        FULL
    }

    /** The targets of {@code torch_lora_bench.py}: every linear layer of the decoder. */
    public static final List<String> ALL_DECODER_LINEARS =
            List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj");

    /**
     * @param method        LoRA, DoRA or full fine-tuning
     * @param rank          LoRA rank (ignored for full)
     * @param alpha         LoRA alpha
     * @param dropout       LoRA dropout on the branch input
     * @param targets       LoRA targets: {@code all-linear}, a comma-separated module list or {@code re:<regex>}
     * @param batch         B sequences per step
     * @param seq           T positions per sequence
     * @param steps         timed steps (after the warm-up)
     * @param warmup        untimed steps first (at least 1 is advised: JIT and page-in)
     * @param checkpointing gradient checkpointing
     * @param seed          adapter init, dropout and the synthetic tokens
     * @param profile       time the parts of the timed steps ({@link StepProfile})
     * @param headRows      logits rows computed at once (memory against speed); 0: the default of
     *                      {@link TrainingBuffers#allocate(ModelConfig, int, int, boolean)}
     */
    public record Settings(Method method, int rank, double alpha, double dropout, String targets, int batch,
                           int seq, int steps, int warmup, boolean checkpointing, long seed, boolean profile,
                           int headRows) {
        public Settings {
            if (method == null) throw new ConfigException("method", null, "lora, dora or full");
            if (method != Method.FULL && rank <= 0) throw new ConfigException("rank", rank, "an integer > 0");
            if (!(dropout >= 0 && dropout < 1)) throw new ConfigException("dropout", dropout, "a probability in [0, 1)");
            if (batch <= 0) throw new ConfigException("batch size", batch, "an integer > 0");
            if (seq < 2) throw new ConfigException("sequence length", seq, "an integer ≥ 2 (a target needs a previous token)");
            if (steps <= 0) throw new ConfigException("steps", steps, "an integer > 0");
            if (warmup < 0) throw new ConfigException("warmup", warmup, "an integer ≥ 0");
            if (headRows < 0) throw new ConfigException("head rows", headRows, "an integer ≥ 0 (0: the default)");
            if (targets == null || targets.isBlank()) targets = String.join(",", ALL_DECODER_LINEARS);
            if (method != Method.FULL) LoraConfig.Targets.parse(targets);                  // fails early on a bad spec
        }

        /** The defaults of the headline case and of the PyTorch peer: LoRA r=8, alpha 16, dropout 0.05, all decoder linears, B=4, T=256. */
        public static Settings defaults() {
            return new Settings(Method.LORA, 8, 16, 0.05, String.join(",", ALL_DECODER_LINEARS), 4, 256, 5, 1, false, 1234, false, 0);
        }
    }

    /** One step as it happened. */
    public record Step(int index, boolean warmup, double seconds, double loss) {
    }

    /**
     * @param model           the model's name (directory or preset)
     * @param kernels         kernel implementation
     * @param threads         kernel threads
     * @param settings        what ran
     * @param weightDType     stored dtype of the frozen weights
     * @param parameters      parameters of the model (adapters included)
     * @param trainable       trainable parameters
     * @param stepSeconds     every step, warm-up included
     * @param stepCpuSeconds  CPU time of the process during every step (all threads; -1 where unknown):
     *                        on a shared machine, a figure that other processes disturb less than wall time
     * @param medianSeconds   median of the timed steps
     * @param bestSeconds     fastest timed step
     * @param modelFlops      FLOPs one step must do ({@link #modelFlops})
     * @param ceilingGflops   GFLOP/s of the kernels' FP32 product on the model's (B·T, C, F) MLP
     *                        shape with weights of {@code weightDType}, measured in the same run, before
     *                        and after the steps, the better of the two (NaN: not measured)
     * @param activationBytes activations kept from forward for backward
     * @param bufferBytes     every training buffer
     * @param headRows        logits rows computed at once
     * @param weightBytes     the model's parameters as held (stored dtype)
     * @param optimizerBytes  AdamW moments
     * @param peakRssBytes    peak resident set of the process ({@code VmHWM}), -1 where unknown
     * @param loadAverage     1-minute load average at the end (-1 where unknown)
     * @param firstLoss       mean loss of the first step
     * @param lastLoss        mean loss of the last step
     * @param profile         the parts of the timed steps, or null when not profiled
     */
    public record Result(String model, String kernels, int threads, Settings settings, DType weightDType,
                         long parameters, long trainable, double[] stepSeconds, double[] stepCpuSeconds, double medianSeconds,
                         double bestSeconds,
                         double modelFlops, double ceilingGflops, long activationBytes, long bufferBytes, int headRows, long weightBytes,
                         long optimizerBytes, long peakRssBytes, double loadAverage, double firstLoss, double lastLoss,
                         StepProfile profile) {
        public int tokensPerStep() {
            return settings.batch() * settings.seq();
        }

        public double tokensPerSecondMedian() {
            return tokensPerStep() / medianSeconds;
        }

        public double tokensPerSecondBest() {
            return tokensPerStep() / bestSeconds;
        }

        /** Median CPU seconds of the timed steps (all threads of the process). */
        public double medianCpuSeconds() {
            return median(Arrays.copyOfRange(stepCpuSeconds, settings.warmup(), stepCpuSeconds.length));
        }

        /** Model GFLOP/s at the median step. */
        public double gflopsMedian() {
            return modelFlops / medianSeconds / 1e9;
        }

        /** Model FLOPs utilisation: model GFLOP/s of the median step over the measured GEMM ceiling. */
        public double mfuMedian() {
            return gflopsMedian() / ceilingGflops;
        }

        public double mfuBest() {
            return modelFlops / bestSeconds / 1e9 / ceilingGflops;
        }

        /** A few lines for humans. */
        public String format() {
            Settings s = settings;
            String method = switch (s.method()) {
                case FULL -> "full fine-tuning";
                case LORA, DORA, QLORA, QDORA -> String.format("%s r=%d alpha=%s dropout=%s on %s", s.method().name().toLowerCase(),
                        s.rank(), trim(s.alpha()), trim(s.dropout()), s.targets());
            };
            StringBuilder b = new StringBuilder();
            b.append(String.format(java.util.Locale.ROOT, "model      %s (%s weights), %,d parameters, %,d trainable (%.4f%%)%n",
                    model, weightDType, parameters, trainable, 100.0 * trainable / parameters));
            b.append(String.format(java.util.Locale.ROOT, "method     %s%n", method));
            b.append(String.format(java.util.Locale.ROOT, "run        kernels %s, %d threads, B=%d T=%d, gradient checkpointing %s,"
                            + " %d warm-up + %d timed steps (AdamW, clip 1.0)%n",
                    kernels, threads, s.batch(), s.seq(), s.checkpointing() ? "on" : "off", s.warmup(), s.steps()));
            b.append(String.format(java.util.Locale.ROOT, "steps      %s s; CPU %.3f s/step median (%.2f of %d threads busy)%n",
                    steps(), medianCpuSeconds(), medianCpuSeconds() / medianSeconds, threads));
            b.append(String.format(java.util.Locale.ROOT, "train      %,.1f tokens/s median (%.3f s/step), %,.1f best (%.3f s)%n",
                    tokensPerSecondMedian(), medianSeconds, tokensPerSecondBest(), bestSeconds));
            if (Double.isFinite(ceilingGflops)) {
                b.append(String.format(java.util.Locale.ROOT, "flops      %.1f GFLOP per step: %.1f GFLOP/s median; GEMM ceiling"
                                + " %.1f GFLOP/s (%s, same run): MFU %.0f%% median, %.0f%% best%n",
                        modelFlops / 1e9, gflopsMedian(), ceilingGflops, ceilingShape(), 100 * mfuMedian(), 100 * mfuBest()));
            } else {
                b.append(String.format(java.util.Locale.ROOT, "flops      %.1f GFLOP per step: %.1f GFLOP/s median%n",
                        modelFlops / 1e9, gflopsMedian()));
            }
            b.append(String.format(java.util.Locale.ROOT, "memory     peak RSS %.1f MiB; weights %.1f MiB, training buffers %.1f MiB"
                            + " (activations %.1f MiB, logits of %d rows at a time), optimizer %.1f MiB%n",
                    peakRssBytes / 1048576.0, weightBytes / 1048576.0, bufferBytes / 1048576.0,
                    activationBytes / 1048576.0, headRows, optimizerBytes / 1048576.0));
            b.append(String.format(java.util.Locale.ROOT, "loss       %.4f → %.4f; load average %.2f", firstLoss, lastLoss, loadAverage));
            if (profile != null) {
                b.append(String.format(java.util.Locale.ROOT, "%nprofile    wall time per part of the timed steps:%n"));
                b.append(profile.format(s.steps()).stripTrailing());
            }
            return b.toString();
        }

        String ceilingShape() {
            return settings.batch() * settings.seq() + "×C×F";
        }

        private String steps() {
            StringBuilder b = new StringBuilder();
            for (int i = 0; i < stepSeconds.length; i++) {
                if (i > 0) b.append(' ');
                b.append(String.format(java.util.Locale.ROOT, i < settings.warmup() ? "(%.3f)" : "%.3f", stepSeconds[i]));
            }
            return b.toString();
        }

        private static String trim(double d) {
            return d == Math.rint(d) ? String.valueOf((long) d) : String.valueOf(d);
        }
    }

    /**
     * Makes {@code model} trainable as {@code s} asks, runs {@code s.warmup() + s.steps()} steps,
     * measures the GEMM ceiling when {@code measureCeiling}, and restores the model's frozen state
     * for LoRA/DoRA (the adapter is detached; a full fine-tune leaves FP32 trainable copies).
     *
     * @param onStep told after every step (progress), may be null
     * @throws ConfigException for a sequence beyond the model's context
     */
    public static Result run(LlamaModel model, String name, Settings s, boolean measureCeiling, Consumer<Step> onStep) {
        ModelConfig c = model.config();
        if (s.seq() > model.maxContext()) {
            throw new ConfigException("sequence length", s.seq(), "at most the model's context of " + model.maxContext()
                    + " (" + c.maxContextReason() + ")");
        }
        DType weightDType = baseDType(model);
        long weightBytes = model.weightBytes();
        LoraAdapter adapter = null;
        List<NamedParam> params;
        if (s.method() == Method.FULL) {
            params = model.makeTrainable(List.of(".*"));
        } else {
            boolean quantized = s.method() == Method.QLORA || s.method() == Method.QDORA;
            if (quantized && model.linearSlots().stream().noneMatch(l -> l instanceof finetune4j.model.FrozenLinear f
                    && f.weight() instanceof finetune4j.engine.tensor.QuantizedWeight)) {
                throw new ConfigException("method", s.method().name().toLowerCase(), "a model with 4-bit linear layers (load it"
                        + " with finetune4j.quant.QuantizedModels)");
            }
            LoraSpec spec = new LoraSpec(s.rank(), s.alpha(), s.dropout(), false, s.method() == Method.DORA || s.method() == Method.QDORA,
                    LoraConfig.Targets.parse(s.targets()), LoraConfig.Targets.UNSET, List.of(), List.of(),
                    Map.of(), Map.of(), LoraSpec.InitWeights.KAIMING_UNIFORM);
            adapter = LoraAdapter.attach(model, spec, s.seed());
            adapter.setTraining(true);
            params = adapter.trainableParameters();
        }
        try {
            long trainable = 0;
            for (NamedParam p : params) trainable += p.numel();
            int b = s.batch(), t = s.seq(), bt = b * t;
            SplittableRandom rnd = new SplittableRandom(s.seed());
            int[] ids = new int[bt];
            int[] labels = new int[bt];
            TrainingBuffers buffers = s.headRows() == 0 ? TrainingBuffers.allocate(c, b, t, s.checkpointing())
                    : TrainingBuffers.allocate(c, b, t, s.checkpointing(), Math.min(s.headRows(), bt));
            StepProfile profile = s.profile() ? new StepProfile() : null;
            AdamW opt = new AdamW(AdamW.Config.defaults(), WeightDecay.NONE);
            GradClip clip = new GradClip(1.0);
            // the ceiling before and after the steps, the better of the two: on a shared machine one of them may be disturbed
            double ceilingBefore = measureCeiling ? ceiling(model, bt, weightDType) : Double.NaN;
            int total = s.warmup() + s.steps();
            double[] seconds = new double[total], cpu = new double[total];
            java.lang.management.OperatingSystemMXBean os = java.lang.management.ManagementFactory.getOperatingSystemMXBean();
            com.sun.management.OperatingSystemMXBean hot = os instanceof com.sun.management.OperatingSystemMXBean h ? h : null;
            double firstLoss = Double.NaN, lastLoss = Double.NaN;
            for (int step = 0; step < total; step++) {
                for (int i = 0; i < bt; i++) ids[i] = rnd.nextInt(c.vocabSize());
                System.arraycopy(ids, 0, labels, 0, bt);
                float scale = 1f / LlamaModel.countTargets(labels, b, t);
                if (step == s.warmup()) buffers.profile(profile);                      // the timed steps only
                long c0 = hot == null ? -1 : hot.getProcessCpuTime();
                long t0 = System.nanoTime();
                if (adapter != null) adapter.setDropoutKey(step);
                for (int i = 0, n = params.size(); i < n; i++) Arrays.fill(params.get(i).grad(), 0f);
                double loss = model.forwardBackward(buffers, ids, labels, b, t, scale) * scale;
                clip.apply(params);
                opt.step(params, 2e-4);
                seconds[step] = (System.nanoTime() - t0) / 1e9;
                cpu[step] = c0 < 0 ? -1 : (hot.getProcessCpuTime() - c0) / 1e9;
                if (step == 0) firstLoss = loss;
                lastLoss = loss;
                if (onStep != null) onStep.accept(new Step(step, step < s.warmup(), seconds[step], loss));
            }
            double[] timed = Arrays.copyOfRange(seconds, s.warmup(), total);
            double median = median(timed);
            Arrays.sort(timed);
            long peak = peakRss();
            double ceiling = measureCeiling ? Math.max(ceilingBefore, ceiling(model, bt, weightDType)) : Double.NaN;
            return new Result(name, model.kernels().name(), KernelThreads.parallelism(), s, weightDType,
                    model.parameterCount(), trainable, seconds, cpu, median, timed[0],
                    modelFlops(model, s, adapter == null ? List.of() : adapter.modules()), ceiling,
                    buffers.activationBytes(), buffers.bytes(), buffers.headRows(), weightBytes, 2 * 4 * trainable, peak,
                    KernelBenchmarks.loadAverage(), firstLoss, lastLoss, profile);
        } finally {
            if (adapter != null) {
                adapter.setTraining(false);
                adapter.detach();
            }
        }
    }

    /** Best GFLOP/s of the kernels' Linear product on the model's (B·T, C, F) MLP shape. */
    private static double ceiling(LlamaModel model, int bt, DType dtype) {
        ModelConfig c = model.config();
        return KernelBenchmarks.linear(model.kernels(), new KernelBenchmarks.Shape(bt, c.hiddenSize(), c.intermediateSize()),
                dtype, 5).bestGflops();
    }

    /**
     * The FLOPs of one step, 2 per multiply-add, counting what the step needs and not what it
     * recomputes (gradient checkpointing, attention probabilities):
     * <ul>
     *   <li>every linear layer (lm_head included) N·K per token forward and again for the gradient of
     *       its input; full fine-tuning adds the weight gradient (the classic 6·N per token); LoRA
     *       adds its rank-r products, 2·r·(K+N) per token forward and 4·r·(K+N) backward;</li>
     *   <li>causal attention: Q·Kᵀ and P·V over the T(T+1)/2 visible pairs per head, forward 2
     *       products and backward 4.</li>
     * </ul>
     * The input gradient of layer 0 (not needed) and the elementwise work are counted in, or left
     * out, respectively; both are below a per cent.
     */
    public static double modelFlops(LlamaModel model, Settings s, List<LoraWeights> adapters) {
        ModelConfig c = model.config();
        double tokens = (double) s.batch() * s.seq();
        double linear = 0, lora = 0;
        for (LinearSlot slot : model.linearSlots()) linear += (double) slot.inFeatures() * slot.outFeatures();
        for (LoraWeights w : adapters) lora += (double) w.r() * (w.in() + w.out());
        double perToken = (s.method() == Method.FULL ? 6 : 4) * linear + 6 * lora;
        double pairs = (double) s.batch() * s.seq() * (s.seq() + 1) / 2;               // visible (i, j) pairs
        double attention = c.numHiddenLayers() * (2 + 4) * 2 * pairs * c.numAttentionHeads() * c.headDim();
        return perToken * tokens + attention;
    }

    private static DType baseDType(LlamaModel model) {
        for (LinearSlot s : model.linearSlots()) {
            if (s instanceof finetune4j.model.DenseLinear d) return d.weight().dtype();
        }
        return DType.F32;
    }

    static double median(double[] xs) {
        double[] t = xs.clone();
        Arrays.sort(t);
        return t.length % 2 == 1 ? t[t.length / 2] : (t[t.length / 2 - 1] + t[t.length / 2]) / 2;
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
