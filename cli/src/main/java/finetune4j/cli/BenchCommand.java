package finetune4j.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import finetune4j.ConfigException;
import finetune4j.engine.kernels.KernelBenchmarks;
import finetune4j.engine.kernels.KernelSelector;
import finetune4j.engine.kernels.KernelThreads;
import finetune4j.engine.kernels.Kernels;
import finetune4j.engine.kernels.onednn.NativeKernels;
import finetune4j.engine.tensor.DType;
import finetune4j.engine.tensor.QuantType;
import finetune4j.generate.GenerateBenchmark;
import finetune4j.engine.hub.ModelLocator;
import finetune4j.model.GenerationConfig;
import finetune4j.model.LlamaModel;
import finetune4j.model.ModelConfig;
import finetune4j.model.ModelPresets;
import finetune4j.model.RandomInit;
import finetune4j.quant.QuantSpec;
import finetune4j.quant.QuantizationConfig;
import finetune4j.quant.QuantizedModels;
import finetune4j.train.TrainBenchmark;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.function.Consumer;

/** {@code bench}: performance figures (never asserted in tests), each with an in-run baseline. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmarks: matrix products, generation, training.",
        subcommands = {BenchCommand.Gemm.class, BenchCommand.Generate.class, BenchCommand.Train.class})
final class BenchCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    @Command(name = "gemm", mixinStandardHelpOptions = true,
            description = "GFLOP/s of the Linear product out = x·Wᵀ (M×K×N), FP32/BF16/F16 weights, against a plain"
                    + " triple loop measured in the same run (and against the Java kernels when another backend is chosen).")
    static final class Gemm implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Mixin
        KernelsOption kernels = new KernelsOption();

        @Option(names = "--shape", paramLabel = "MxKxN", split = ",",
                description = "Shapes (default: 1024x2048x5632,1024x576x1536).")
        List<String> shapes;

        @Option(names = "--dtype", split = ",", paramLabel = "f32|bf16|f16", defaultValue = "f32,bf16",
                description = "Weight dtypes (default: ${DEFAULT-VALUE}).")
        List<String> dtypes;

        @Option(names = "--runs", defaultValue = "7", description = "Timed runs per case (default: ${DEFAULT-VALUE}).")
        int runs;

        @Option(names = "--json", description = "Print one JSON object.")
        boolean json;

        @Override
        public Integer call() {
            Kernels k = kernels.get();
            List<KernelBenchmarks.Shape> sh = new ArrayList<>();
            if (shapes == null) sh.addAll(KernelBenchmarks.DEFAULT_SHAPES);
            else for (String s : shapes) sh.add(parseShape(s));
            List<DType> dt = new ArrayList<>();
            for (String d : dtypes) dt.add(parseDtype(d));
            PrintWriter o = spec.commandLine().getOut();
            PrintStream log = json ? null : new PrintStream(new WriterStream(o), true);
            if (!json) {
                o.printf(Locale.ROOT, "kernels %s, %d threads, load average %.2f%n", k.name(), KernelThreads.parallelism(),
                        KernelBenchmarks.loadAverage());
                o.flush();
            }
            if (!json && k instanceof NativeKernels nk) o.println("native: " + nk.describe());
            KernelBenchmarks.GemmReport r = KernelBenchmarks.gemm(k, sh, dt, runs, log);
            // the Java kernels on the same shapes in the same run, beside any other backend
            List<KernelBenchmarks.GemmResult> javaResults = new ArrayList<>();
            if (!k.name().equals("vector") && !k.name().equals("scalar")) {
                Kernels java = KernelSelector.byName("vector");
                if (log != null) log.println("java kernels, same shapes, same run:");
                for (KernelBenchmarks.Shape s : sh) {
                    for (DType d : dt) {
                        KernelBenchmarks.GemmResult g = KernelBenchmarks.linear(java, s, d, runs);
                        javaResults.add(g);
                        if (log != null) log.println(KernelBenchmarks.format(g));
                    }
                }
                if (log != null) {
                    for (int i = 0; i < javaResults.size(); i++) {
                        KernelBenchmarks.GemmResult a = r.results().get(i), b = javaResults.get(i);
                        log.printf(Locale.ROOT, "%s / java  %-5s %16s  %.2f× (best %.1f vs %.1f GFLOP/s)%n", k.name(),
                                a.weight(), a.shape(), a.bestGflops() / b.bestGflops(), a.bestGflops(), b.bestGflops());
                    }
                }
                if (!json && k instanceof NativeKernels nk) {
                    o.printf(Locale.ROOT, "native: F32 weights here are heap arrays (trainable), which stay on the Java path;"
                            + " BF16/F16 ones are frozen off-heap weights: bf16 products. Weights %s (-D%s), bf16 copies held: %.1f MiB%n",
                            nk.weightLayout().name().toLowerCase(Locale.ROOT), NativeKernels.WeightLayout.PROPERTY,
                            nk.packedBytes() / 1048576.0);
                    for (NativeKernels.ShapeStats st : nk.stats()) {
                        o.printf(Locale.ROOT, "native %s %d×%d×%d (%s): best call %.2f ms = bf16 input %.2f + oneDNN %.2f"
                                        + " (%.1f GFLOP/s alone) + output copy %.2f; %.1f GFLOP/s per whole call, %d calls%n",
                                st.direction(), st.m(), st.k(), st.n(), st.implementation(),
                                (st.minConvertNanos() + st.minMatmulNanos() + st.minCopyNanos()) / 1e6, st.minConvertNanos() / 1e6,
                                st.minMatmulNanos() / 1e6, st.matmulGflops(), st.minCopyNanos() / 1e6, st.callGflops(), st.calls());
                    }
                }
            }
            if (json) {
                ObjectNode n = Json.object();
                n.put("kernels", k.name());
                n.put("threads", KernelThreads.parallelism());
                ArrayNode a = n.putArray("results");
                for (KernelBenchmarks.GemmResult g : r.results()) a.add(gemm(g));
                n.set("baseline", gemm(r.baseline()));
                n.set("fast_on_baseline_shape", gemm(r.fastOnBaseline()));
                n.put("speedup_over_baseline", r.speedupOverBaseline());
                if (!javaResults.isEmpty()) {
                    ArrayNode j = n.putArray("java_results");
                    for (KernelBenchmarks.GemmResult g : javaResults) j.add(gemm(g));
                }
                if (k instanceof NativeKernels nk) {
                    n.put("native", nk.describe());
                    n.put("native_packed_bytes", nk.packedBytes());
                    ArrayNode st = n.putArray("native_parts");
                    for (NativeKernels.ShapeStats x : nk.stats()) {
                        ObjectNode e = st.addObject();
                        e.put("direction", x.direction());
                        e.put("shape", x.m() + "×" + x.k() + "×" + x.n());
                        e.put("implementation", x.implementation());
                        e.put("calls", x.calls());
                        e.put("best_convert_ms", x.minConvertNanos() / 1e6);
                        e.put("best_matmul_ms", x.minMatmulNanos() / 1e6);
                        e.put("best_copy_ms", x.minCopyNanos() / 1e6);
                        e.put("matmul_gflops", x.matmulGflops());
                        e.put("call_gflops", x.callGflops());
                    }
                }
                Json.print(o, n);
            }
            return 0;
        }

        private static ObjectNode gemm(KernelBenchmarks.GemmResult g) {
            ObjectNode n = Json.object();
            n.put("kernels", g.kernels());
            n.put("shape", g.shape().toString());
            n.put("m", g.shape().m());
            n.put("k", g.shape().k());
            n.put("n", g.shape().n());
            n.put("weight_dtype", g.weight().name());
            n.put("best_gflops", g.bestGflops());
            n.put("median_gflops", g.medianGflops());
            n.put("best_ms", g.bestMillis());
            n.put("other_cores_busy", g.otherCores());
            n.put("load_average", g.loadAverage());
            return n;
        }

        static KernelBenchmarks.Shape parseShape(String s) {
            String[] p = s.toLowerCase(Locale.ROOT).split("x");
            try {
                if (p.length == 3) {
                    return new KernelBenchmarks.Shape(Integer.parseInt(p[0]), Integer.parseInt(p[1]), Integer.parseInt(p[2]));
                }
            } catch (NumberFormatException e) {
                // fall through to the message
            }
            throw new ConfigException("--shape", s, "MxKxN with positive integers, e.g. 1024x2048x5632");
        }
    }

    @Command(name = "generate", mixinStandardHelpOptions = true,
            description = "Prefill and decode tokens/s of a model; decode also as a fraction of the memory-bandwidth bound"
                    + " (weight bytes per token ÷ copy bandwidth measured in the same run).")
    static final class Generate implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Mixin
        ModelOption model = new ModelOption();

        @Mixin
        KernelsOption kernels = new KernelsOption();

        @Option(names = "--prompt-tokens", defaultValue = "128", description = "Prefill length (default: ${DEFAULT-VALUE}).")
        int promptTokens;

        @Option(names = "--decode-tokens", defaultValue = "64", description = "Decode steps (default: ${DEFAULT-VALUE}).")
        int decodeTokens;

        @Option(names = "--repeats", defaultValue = "3", description = "Repeats, best taken (default: ${DEFAULT-VALUE}).")
        int repeats;

        @Option(names = "--json", description = "Print one JSON object.")
        boolean json;

        @Override
        public Integer call() {
            Path dir = model.resolve();
            GenerateBenchmark.Result r;
            try (LlamaModel m = finetune4j.quant.QuantizedModels.open(dir, kernels.get(), null)) {
                int p = Math.min(promptTokens, Math.max(1, m.maxContext() - decodeTokens));
                r = GenerateBenchmark.run(m, dir.toString(), p, decodeTokens, repeats);
            }
            KernelBenchmarks.Bandwidth bw = KernelBenchmarks.memoryBandwidth(256L << 20, 5);
            double boundCopy = bw.copyGBs() * 1e9 / r.decodeBytesPerToken();
            double boundRead = bw.readGBs() * 1e9 / r.decodeBytesPerToken();
            PrintWriter o = spec.commandLine().getOut();
            if (json) {
                ObjectNode n = Json.object();
                n.put("model", r.model());
                n.put("kernels", r.kernels());
                n.put("parameters", r.parameterCount());
                n.put("weight_bytes", r.weightBytes());
                n.put("prompt_tokens", r.promptTokens());
                n.put("decode_tokens", r.decodeTokens());
                n.put("prefill_tokens_per_s", r.prefillTokensPerSecond());
                n.put("decode_tokens_per_s", r.decodeTokensPerSecond());
                n.put("decode_bytes_per_token", r.decodeBytesPerToken());
                n.put("decode_weight_gb_per_s", r.decodeGigabytesPerSecond());
                n.put("copy_bandwidth_gb_per_s", bw.copyGBs());
                n.put("read_bandwidth_gb_per_s", bw.readGBs());
                n.put("decode_bound_tokens_per_s", boundCopy);
                n.put("decode_fraction_of_bound", r.decodeTokensPerSecond() / boundCopy);
                n.put("decode_fraction_of_read_bound", r.decodeTokensPerSecond() / boundRead);
                Json.print(o, n);
            } else {
                o.println(r.format());
                o.println(KernelBenchmarks.format(bw));
                o.printf(Locale.ROOT, "bound      %.1f tokens/s at the copy bandwidth (%.1f at the read bandwidth):"
                                + " decode runs at %.0f%% of the copy bound (%.0f%% of the read bound)%n",
                        boundCopy, boundRead, 100 * r.decodeTokensPerSecond() / boundCopy,
                        100 * r.decodeTokensPerSecond() / boundRead);
            }
            return 0;
        }
    }

    @Command(name = "train", mixinStandardHelpOptions = true,
            description = "Training tokens/s and peak RSS on synthetic tokens: full steps (forward, backward, clip, AdamW)"
                    + " of LoRA/DoRA or full fine-tuning, with the model FLOPs utilisation against a GEMM ceiling measured"
                    + " in the same run. The step of shared/bench/torch_lora_bench.py, the PyTorch peer.")
    static final class Train implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        static final class Source {
            @Option(names = {"-m", "--model"}, paramLabel = "MODEL",
                    description = "A local model directory or a Hugging Face Hub id.")
            String model;

            @Option(names = "--preset", paramLabel = "NAME",
                    description = "A random model of a known shape, built in memory (nothing written): stories260k,"
                            + " smollm-135m, tinyllama-1.1b, llama-2-7b.")
            String preset;
        }

        @ArgGroup(exclusive = true, multiplicity = "1")
        Source source;

        @Mixin
        KernelsOption kernels = new KernelsOption();

        @Option(names = "--dtype", paramLabel = "f32|bf16|f16",
                description = "Stored dtype of a --preset model's weights (default: f32; bf16 with qlora / qdora, where it is"
                        + " that of the embedding and lm_head, as in a released checkpoint and the PyTorch peer).")
        String dtype;

        @Option(names = "--method", defaultValue = "lora", paramLabel = "lora|dora|qlora|qdora|full",
                description = "What is trained (default: ${DEFAULT-VALUE}). qlora / qdora: LoRA / DoRA over a 4-bit base"
                        + " (NF4, blocks of 64, double quantization): a --preset model is built in 4 bits straight from the"
                        + " generator (its --dtype is that of the embedding and lm_head), a --model is quantized on load"
                        + " unless it is a 4-bit checkpoint; gradient checkpointing on unless --no-grad-checkpoint.")
        String method;

        @Option(names = {"-r", "--rank"}, defaultValue = "8", description = "LoRA rank (default: ${DEFAULT-VALUE}).")
        int rank;

        @Option(names = "--alpha", defaultValue = "16", description = "LoRA alpha (default: ${DEFAULT-VALUE}).")
        double alpha;

        @Option(names = "--dropout", defaultValue = "0.05", description = "LoRA dropout (default: ${DEFAULT-VALUE}, as the PyTorch peer).")
        double dropout;

        @Option(names = "--target", paramLabel = "MODULES",
                description = "LoRA targets: comma-separated names, all-linear or re:<regex>"
                        + " (default: q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj).")
        String target;

        @Option(names = {"-b", "--batch-size"}, defaultValue = "4", description = "Sequences per step (default: ${DEFAULT-VALUE}).")
        int batch;

        @Option(names = "--seq-len", defaultValue = "256", description = "Positions per sequence (default: ${DEFAULT-VALUE}).")
        int seq;

        @Option(names = "--steps", defaultValue = "5", description = "Timed steps (default: ${DEFAULT-VALUE}).")
        int steps;

        @Option(names = "--warmup", defaultValue = "1", description = "Untimed steps first (default: ${DEFAULT-VALUE}).")
        int warmup;

        @Option(names = "--grad-checkpoint", negatable = true,
                description = "Gradient checkpointing (recompute each layer during backward; default: on for qlora/qdora).")
        Boolean checkpoint;

        @Option(names = "--seed", defaultValue = "1234", description = "Seed of the model, adapter and tokens (default: ${DEFAULT-VALUE}).")
        long seed;

        @Option(names = "--profile", description = "Time the parts of the step (projections, attention, norms, head...)"
                + " and print where the time goes.")
        boolean profile;

        @Option(names = "--head-rows", defaultValue = "0", paramLabel = "N",
                description = "Rows of logits computed at once (memory against speed; default 0: the trainer's default).")
        int headRows;

        @Option(names = "--no-ceiling", description = "Skip the GEMM ceiling measurement.")
        boolean noCeiling;

        @Option(names = "--json", description = "Print one JSON object.")
        boolean json;

        @Override
        public Integer call() {
            TrainBenchmark.Method m = switch (method.toLowerCase(Locale.ROOT)) {
                case "lora" -> TrainBenchmark.Method.LORA;
                case "dora" -> TrainBenchmark.Method.DORA;
                case "full" -> TrainBenchmark.Method.FULL;
                case "qlora" -> TrainBenchmark.Method.QLORA;
                case "qdora" -> TrainBenchmark.Method.QDORA;
                default -> throw new ConfigException("--method", method, "one of [lora, dora, qlora, qdora, full]");
            };
            boolean fourBit = m == TrainBenchmark.Method.QLORA || m == TrainBenchmark.Method.QDORA;
            TrainBenchmark.Settings s = new TrainBenchmark.Settings(m, rank, alpha, dropout, target, batch, seq, steps,
                    warmup, checkpoint != null ? checkpoint : fourBit, seed, profile, headRows);
            PrintWriter o = spec.commandLine().getOut();
            Consumer<TrainBenchmark.Step> progress = json ? null : st -> {
                o.printf(Locale.ROOT, "step %d%s: %.3f s, loss %.4f%n", st.index(), st.warmup() ? " (warm-up)" : "",
                        st.seconds(), st.loss());
                o.flush();
            };
            TrainBenchmark.Result r;
            if (source.preset != null) {
                DType dt = parseDtype(dtype != null ? dtype : fourBit ? "bf16" : "f32");
                ModelConfig c = ModelPresets.config(source.preset);
                try (Arena arena = Arena.ofShared()) {
                    LlamaModel model = fourBit
                            ? QuantizedModels.random(c, seed, 0.02, dt, new QuantizationConfig(QuantType.NF4, true,
                                    dt == DType.F32 ? "float32" : dt == DType.BF16 ? "bfloat16" : "float16", null),
                                    QuantSpec.DEFAULT_BLOCKSIZE, kernels.get())
                            : LlamaModel.fromWeights(c, GenerationConfig.defaults(), RandomInit.source(c, seed, 0.02, dt, arena),
                                    kernels.get());
                    if (!json) {
                        o.printf(Locale.ROOT, "built %s in memory (%s weights, %.1f MiB), load average %.2f%n",
                                source.preset, fourBit ? "NF4 (double-quantized) linear layers, " + dt : dt,
                                model.weightBytes() / 1048576.0, KernelBenchmarks.loadAverage());
                        o.flush();
                    }
                    r = TrainBenchmark.run(model, "preset " + source.preset.toLowerCase(Locale.ROOT), s, !noCeiling, progress);
                }
            } else {
                Path dir = ModelLocator.resolve(source.model);
                try (LlamaModel model = QuantizedModels.open(dir, kernels.get(), fourBit ? QuantSpec.qlora() : null)) {
                    r = TrainBenchmark.run(model, dir.toString(), s, !noCeiling, progress);
                }
            }
            if (json) Json.print(o, json(r));
            else o.println(r.format());
            return 0;
        }

        static ObjectNode json(TrainBenchmark.Result r) {
            TrainBenchmark.Settings s = r.settings();
            ObjectNode n = Json.object();
            n.put("model", r.model());
            n.put("kernels", r.kernels());
            n.put("threads", r.threads());
            n.put("weight_dtype", r.weightDType().name());
            n.put("method", s.method().name().toLowerCase(Locale.ROOT));
            if (s.method() != TrainBenchmark.Method.FULL) {
                n.put("rank", s.rank());
                n.put("alpha", s.alpha());
                n.put("dropout", s.dropout());
                n.put("target", s.targets());
            }
            n.put("batch_size", s.batch());
            n.put("seq_len", s.seq());
            n.put("grad_checkpoint", s.checkpointing());
            n.put("warmup_steps", s.warmup());
            n.put("steps", s.steps());
            n.put("parameters", r.parameters());
            n.put("trainable", r.trainable());
            n.put("tokens_per_step", r.tokensPerStep());
            ArrayNode a = n.putArray("step_s");
            for (double d : r.stepSeconds()) a.add(d);
            ArrayNode cpu = n.putArray("step_cpu_s");
            for (double d : r.stepCpuSeconds()) cpu.add(d);
            n.put("step_s_median", r.medianSeconds());
            n.put("step_cpu_s_median", r.medianCpuSeconds());
            n.put("step_s_best", r.bestSeconds());
            n.put("tokens_per_s_median", r.tokensPerSecondMedian());
            n.put("tokens_per_s_best", r.tokensPerSecondBest());
            n.put("model_gflop_per_step", r.modelFlops() / 1e9);
            n.put("model_gflops_median", r.gflopsMedian());
            if (Double.isFinite(r.ceilingGflops())) {
                n.put("gemm_ceiling_gflops", r.ceilingGflops());
                n.put("gemm_ceiling_shape", s.batch() * s.seq() + "x" + "C" + "x" + "F");
                n.put("mfu_median", r.mfuMedian());
                n.put("mfu_best", r.mfuBest());
            }
            n.put("peak_rss_bytes", r.peakRssBytes());
            n.put("peak_rss_mib", r.peakRssBytes() / 1048576.0);
            n.put("weight_bytes", r.weightBytes());
            n.put("buffer_bytes", r.bufferBytes());
            n.put("activation_bytes", r.activationBytes());
            n.put("head_rows", r.headRows());
            n.put("optimizer_bytes", r.optimizerBytes());
            n.put("loss_first", r.firstLoss());
            n.put("loss_last", r.lastLoss());
            n.put("load_average", r.loadAverage());
            if (r.profile() != null) {
                ObjectNode pr = n.putObject("profile_s_per_step");
                r.profile().seconds().forEach((part, sec) -> pr.put(part.name().toLowerCase(Locale.ROOT), sec / s.steps()));
            }
            return n;
        }
    }

    static DType parseDtype(String s) {
        return switch (s.trim().toLowerCase(Locale.ROOT)) {
            case "f32", "float32" -> DType.F32;
            case "bf16", "bfloat16" -> DType.BF16;
            case "f16", "float16" -> DType.F16;
            default -> throw new ConfigException("--dtype", s, "one of [f32, bf16, f16]");
        };
    }

    /** Adapts a PrintWriter for APIs that log to a PrintStream. */
    static final class WriterStream extends java.io.OutputStream {
        private final PrintWriter w;
        private final java.io.ByteArrayOutputStream line = new java.io.ByteArrayOutputStream();

        WriterStream(PrintWriter w) {
            this.w = w;
        }

        @Override
        public void write(int b) {
            line.write(b);
            if (b == '\n') flush();
        }

        @Override
        public void flush() {
            w.print(line.toString(java.nio.charset.StandardCharsets.UTF_8));
            w.flush();
            line.reset();
        }
    }
}
