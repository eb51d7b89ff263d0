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
import finetune4j.generate.GenerateBenchmark;
import finetune4j.model.LlamaModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code bench}: performance figures (never asserted in tests), each with an in-run baseline. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmarks: matrix products, generation.",
        subcommands = {BenchCommand.Gemm.class, BenchCommand.Generate.class})
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
                            + " BF16/F16 ones are frozen off-heap weights: bf16 products. Packed weights held: %.1f MiB%n",
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
            try (LlamaModel m = LlamaModel.load(dir, kernels.get())) {
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
