package finetune4j.engine.kernels;

import finetune4j.engine.tensor.DType;
import finetune4j.engine.tensor.Weight;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Measurements of the kernels for {@code finetune4j bench}: the Linear product (GFLOP/s of the
 * fast kernels with FP32, BF16 or F16 weights, against a plain triple loop on a small shape run
 * in the same process), the few-row GEMV of decode (GB/s of weight streamed) and the machine's
 * memory bandwidth (the bound of decode: tokens/s ≤ bandwidth / bytes of weights).
 *
 * <p>Each figure is the best and the median of several timed runs after warm-up runs (C2 must
 * have compiled the kernels; the JVM must run with {@code -XX:-TieredCompilation}). The 1-minute
 * load average is recorded beside each figure: other processes on the cores lower them.
 *
 * {@snippet :
 * KernelBenchmarks.GemmReport r = KernelBenchmarks.gemm(KernelSelector.get(),
 *         List.of(new KernelBenchmarks.Shape(1024, 2048, 5632)), List.of(DType.F32, DType.BF16), 7, System.out);
 * }
 */
public final class KernelBenchmarks {
    /** The shape of {@code out(M, N) = x(M, K) · wᵀ}. */
    public record Shape(int m, int k, int n) {
        public Shape {
            if (m <= 0 || k <= 0 || n <= 0) throw new IllegalArgumentException("shape must be positive: " + m + "×" + k + "×" + n);
        }

        public double flops() {
            return 2.0 * m * k * n;
        }

        @Override
        public String toString() {
            return m + "×" + k + "×" + n;
        }
    }

    /**
     * One timed product: best and median over {@code runs} timed runs. {@code otherCores}: the
     * cores other processes kept busy on average while it was timed (from {@code /proc/stat} less
     * this process; -1 where unknown); {@code loadAverage}: the 1-minute load average at the end.
     */
    public record GemmResult(String kernels, Shape shape, DType weight, int threads, int runs,
                             double bestGflops, double medianGflops, double bestMillis,
                             double otherCores, double loadAverage) {
    }

    /**
     * The {@code bench gemm} report: every shape × dtype with the fast kernels, and the ratio
     * of the fast kernels to a plain triple loop on the baseline shape.
     */
    public record GemmReport(List<GemmResult> results, GemmResult baseline, GemmResult fastOnBaseline,
                             double speedupOverBaseline) {
    }

    /** The decode product (M = 1): weight bytes streamed per second. */
    public record GemvResult(String kernels, int k, int n, DType weight, int threads, int runs,
                             double bestGBs, double medianGBs, double bestMicros, double otherCores, double loadAverage) {
    }

    /**
     * Memory bandwidth with {@code threads} threads over two arrays of {@code bytes} each:
     * {@code copyGBs} counts bytes read plus bytes written (the STREAM convention),
     * {@code readGBs} a pure read of both arrays (what a decode step does to the weights: the
     * bound for decode is {@code readGBs / bytes of weights} tokens per second).
     */
    public record Bandwidth(long bytes, int threads, double copyGBs, double readGBs, double otherCores, double loadAverage) {
    }

    /** The default shapes: a TinyLlama-1.1B MLP product and a SmolLM2-135M one. */
    public static final List<Shape> DEFAULT_SHAPES = List.of(new Shape(1024, 2048, 5632), new Shape(1024, 576, 1536));
    /** The baseline shape for the plain triple loop (small: the loop runs at about 1 GFLOP/s). */
    public static final Shape BASELINE_SHAPE = new Shape(64, 576, 1536);

    private KernelBenchmarks() {
    }

    /** Runs {@code shapes × dtypes} with {@code kernels}, then the baseline on {@link #BASELINE_SHAPE}; prints a line per result. */
    public static GemmReport gemm(Kernels kernels, List<Shape> shapes, List<DType> dtypes, int runs, PrintStream log) {
        return gemm(kernels, shapes, dtypes, runs, BASELINE_SHAPE, log);
    }

    /** As {@link #gemm(Kernels, List, List, int, PrintStream)} with another shape for the triple-loop baseline. */
    public static GemmReport gemm(Kernels kernels, List<Shape> shapes, List<DType> dtypes, int runs, Shape baseline,
                                  PrintStream log) {
        List<GemmResult> results = new ArrayList<>();
        for (Shape s : shapes) {
            for (DType dt : dtypes) {
                GemmResult r = linear(kernels, s, dt, runs);
                results.add(r);
                if (log != null) log.println(format(r));
            }
        }
        GemmResult base = tripleLoop(baseline, Math.max(3, runs / 2));
        GemmResult fast = linear(kernels, baseline, DType.F32, runs);
        double ratio = fast.bestGflops() / base.bestGflops();
        if (log != null) {
            log.println(format(base));
            log.println(format(fast));
            log.printf(Locale.ROOT, "%s is %.0f× the plain triple loop on %s%n", kernels.name(), ratio, baseline);
        }
        return new GemmReport(List.copyOf(results), base, fast, ratio);
    }

    /** Times {@code kernels.linear} on random data, the weight stored as {@code dtype} (F32 on the heap, others off-heap). */
    public static GemmResult linear(Kernels kernels, Shape s, DType dtype, int runs) {
        SplittableRandom rnd = new SplittableRandom(42);
        float[] x = random(rnd, s.m() * s.k());
        float[] out = new float[s.m() * s.n()];
        try (Arena arena = Arena.ofShared()) {          // shared: the kernel threads read it
            Weight w = randomWeight(arena, rnd, dtype, s.n(), s.k());
            Timing t = time(runs, () -> kernels.linear(out, 0, x, 0, w, s.m(), false));
            return gemmResult(kernels.name(), s, dtype, KernelThreads.parallelism(), t);
        }
    }

    /**
     * Times the plain triple loop {@code out[i][j] = Σ_p x[i][p]·w[j][p]} (FP32, one thread): the
     * baseline that shows what the kernels add over straightforward Java.
     */
    public static GemmResult tripleLoop(Shape s, int runs) {
        SplittableRandom rnd = new SplittableRandom(42);
        float[] x = random(rnd, s.m() * s.k()), w = random(rnd, s.n() * s.k());
        float[] out = new float[s.m() * s.n()];
        int m = s.m(), k = s.k(), n = s.n();
        Timing t = time(runs, () -> {
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    float acc = 0f;
                    for (int p = 0; p < k; p++) acc += x[i * k + p] * w[j * k + p];
                    out[i * n + j] = acc;
                }
            }
        });
        return gemmResult("triple-loop", s, DType.F32, 1, t);
    }

    /**
     * Times the M = 1 product (decode) over weights (n, k) of {@code dtype}, in GB/s of weight
     * read. Cycles through enough distinct weights (512 MiB in all, twice this machine's L3; at
     * most 64) that every call reads its weight from memory, as a decode step over a real model does.
     */
    public static GemvResult gemv(Kernels kernels, int k, int n, DType dtype, int runs) {
        SplittableRandom rnd = new SplittableRandom(7);
        float[] x = random(rnd, k), out = new float[n];
        try (Arena arena = Arena.ofShared()) {          // shared: the kernel threads read it
            long bytesEach = (long) n * k * (dtype.bits() / 8);
            int count = (int) Math.clamp((512L << 20) / bytesEach, 1, 64);
            Weight[] ws = new Weight[count];
            for (int i = 0; i < count; i++) ws[i] = randomWeight(arena, rnd, dtype, n, k);
            Timing t = time(runs, () -> {
                for (Weight w : ws) kernels.linear(out, 0, x, 0, w, 1, false);
            });
            double bytes = (double) bytesEach * count;
            double[] gbs = Arrays.stream(t.secs()).map(sec -> bytes / sec / 1e9).sorted().toArray();
            return new GemvResult(kernels.name(), k, n, dtype, KernelThreads.parallelism(), gbs.length,
                    gbs[gbs.length - 1], median(gbs), t.min() / count * 1e6, t.otherCores(), loadAverage());
        }
    }

    /** Copy and read bandwidth over two arrays of {@code bytes} each, on all kernel threads. */
    public static Bandwidth memoryBandwidth(long bytes, int runs) {
        int n = (int) Math.min(Integer.MAX_VALUE - 64, bytes / 4);
        int[] src = new int[n], dst = new int[n];
        for (int i = 0; i < n; i += 1024) src[i] = i;                 // touch every page before timing
        Arrays.fill(dst, 1);
        int threads = KernelThreads.parallelism();
        int per = (n + threads - 1) / threads;
        long[] sink = new long[threads * 16];
        Timing copy = time(runs, () -> KernelThreads.run(threads, t -> {
            int from = t * per, len = Math.min(n, from + per) - from;
            System.arraycopy(src, from, dst, from, len);
        }));
        // A pure read: comparing the two (now equal) arrays reads both to the end with the JDK's
        // vectorised mismatch intrinsic, and writes nothing.
        Timing read = time(runs, () -> KernelThreads.run(threads, t -> {
            int from = t * per, to = Math.min(n, from + per);
            sink[t * 16] += Arrays.mismatch(src, from, to, dst, from, to);   // -1: equal; kept alive
        }));
        double b = 4.0 * n;
        return new Bandwidth(4L * n, threads, 2 * b / copy.min() / 1e9, 2 * b / read.min() / 1e9,
                Math.max(copy.otherCores(), read.otherCores()), loadAverage());
    }

    /** One line per result, e.g. {@code vector  F32  1024×2048×5632  best 271.3 GFLOP/s  median 265.0  (2 threads, ...)}. */
    public static String format(GemmResult r) {
        return String.format(Locale.ROOT, "%-12s %-5s %16s  best %6.1f GFLOP/s  median %6.1f  (%d thread%s, %d runs, %s)",
                r.kernels(), r.weight(), r.shape(), r.bestGflops(), r.medianGflops(), r.threads(),
                r.threads() == 1 ? "" : "s", r.runs(), load(r.otherCores(), r.loadAverage()));
    }

    public static String format(GemvResult r) {
        return String.format(Locale.ROOT, "%-12s %-5s %16s  best %6.1f GB/s     median %6.1f  (%.0f µs per call, %d threads, %s)",
                r.kernels(), r.weight(), "1×" + r.k() + "×" + r.n(), r.bestGBs(), r.medianGBs(), r.bestMicros(),
                r.threads(), load(r.otherCores(), r.loadAverage()));
    }

    public static String format(Bandwidth b) {
        return String.format(Locale.ROOT, "memory %d MiB arrays: copy %.1f GB/s (read+write counted), read %.1f GB/s  (%d threads, %s)",
                b.bytes() >> 20, b.copyGBs(), b.readGBs(), b.threads(), load(b.otherCores(), b.loadAverage()));
    }

    private static String load(double otherCores, double loadAverage) {
        return String.format(Locale.ROOT, "other processes %.2f cores, load avg %.2f", otherCores, loadAverage);
    }

    /**
     * Runs the whole set: {@code java --add-modules jdk.incubator.vector -XX:-TieredCompilation
     * -cp core/target/classes finetune4j.engine.kernels.KernelBenchmarks [runs] [kernels]}.
     */
    public static void main(String[] args) {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 7;
        Kernels k = args.length > 1 ? KernelSelector.byName(args[1]) : KernelSelector.get();
        PrintStream out = System.out;
        out.printf("kernels %s, %d threads, load %.2f%n", k.name(), KernelThreads.parallelism(), loadAverage());
        gemm(k, DEFAULT_SHAPES, List.of(DType.F32, DType.BF16, DType.F16), runs, out);
        for (DType dt : List.of(DType.F32, DType.BF16)) out.println(format(gemv(k, 2048, 5632, dt, runs)));
        out.println(format(memoryBandwidth(256L << 20, runs)));
    }

    // ---------------------------------------------------------------------------------------------

    private static GemmResult gemmResult(String name, Shape s, DType dt, int threads, Timing t) {
        double[] gf = Arrays.stream(t.secs()).map(sec -> s.flops() / sec / 1e9).sorted().toArray();
        return new GemmResult(name, s, dt, threads, gf.length, gf[gf.length - 1], median(gf), t.min() * 1e3,
                t.otherCores(), loadAverage());
    }

    /** Seconds per timed run, and the cores other processes used meanwhile. */
    private record Timing(double[] secs, double otherCores) {
        double min() {
            return Arrays.stream(secs).min().orElseThrow();
        }
    }

    /** Warm-up (at least 3 runs; 1 s or 200 runs), then {@code runs} timed runs. */
    private static Timing time(int runs, Runnable body) {
        long warmUntil = System.nanoTime() + 1_000_000_000L;
        for (int i = 0; i < 3 || (i < 200 && System.nanoTime() < warmUntil); i++) body.run();
        double[] secs = new double[Math.max(1, runs)];
        long[] before = CpuTicks.read();
        for (int i = 0; i < secs.length; i++) {
            long t0 = System.nanoTime();
            body.run();
            secs[i] = (System.nanoTime() - t0) / 1e9;
        }
        return new Timing(secs, CpuTicks.otherCores(before, CpuTicks.read()));
    }

    /**
     * CPU time from {@code /proc}: all cores busy (user, nice, system, irq, softirq, steal) and
     * this process (user, system), in clock ticks, to tell how much of the machine other
     * processes (or other virtual machines, through steal) took while a kernel was timed.
     */
    private static final class CpuTicks {
        /** {machine busy, machine total, this process}, or null where /proc is absent. */
        static long[] read() {
            try {
                String[] cpu = Files.readAllLines(Path.of("/proc/stat")).getFirst().trim().split("\\s+");
                long busy = 0, total = 0;
                for (int i = 1; i < cpu.length && i <= 8; i++) {
                    long v = Long.parseLong(cpu[i]);
                    total += v;
                    if (i != 4 && i != 5) busy += v;                       // 4 idle, 5 iowait
                }
                String self = Files.readString(Path.of("/proc/self/stat"));
                String[] f = self.substring(self.lastIndexOf(')') + 2).split(" ");
                long mine = Long.parseLong(f[11]) + Long.parseLong(f[12]);  // utime, stime (fields 14, 15)
                return new long[]{busy, total, mine};
            } catch (IOException | RuntimeException e) {
                return null;
            }
        }

        /** Average number of cores busy with other work between two reads, or -1. */
        static double otherCores(long[] a, long[] b) {
            if (a == null || b == null || b[1] == a[1]) return -1;
            int cores = Runtime.getRuntime().availableProcessors();
            double others = (double) ((b[0] - a[0]) - (b[2] - a[2])) / (b[1] - a[1]) * cores;
            return Math.max(0, others);
        }
    }

    private static double median(double[] sorted) {
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    private static float[] random(SplittableRandom rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (rnd.nextDouble() * 2 - 1);
        return a;
    }

    private static Weight randomWeight(Arena arena, SplittableRandom rnd, DType dtype, int rows, int cols) {
        if (dtype == DType.F32) return Weight.ofArray("bench.weight", random(rnd, rows * cols), rows, cols);
        MemorySegment seg = arena.allocate((long) rows * cols * (dtype.bits() / 8), 64);
        for (long i = 0, n = (long) rows * cols; i < n; i++) dtype.setFloat(seg, i, (float) (rnd.nextDouble() * 2 - 1));
        return new Weight("bench.weight", dtype, rows, cols, seg);
    }

    /** The 1-minute load average from {@code /proc/loadavg}, or -1 where there is none. */
    public static double loadAverage() {
        try {
            String s = Files.readString(Path.of("/proc/loadavg"));
            return Double.parseDouble(s.substring(0, s.indexOf(' ')));
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }
}
