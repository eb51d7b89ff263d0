package finetune4j.engine.kernels;

import finetune4j.engine.tensor.DType;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The benchmark code the CLI calls ({@code bench gemm}, the bandwidth bound of
 * {@code bench generate}) on tiny sizes: it runs, returns records with sane figures, and prints
 * one line per result. The figures themselves are not asserted beyond being positive.
 */
class KernelBenchmarksTest {

    @Test
    void gemmReportCoversEveryShapeAndDtypeAndTheBaseline() {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        KernelBenchmarks.GemmReport r = KernelBenchmarks.gemm(new ScalarKernels(),
                List.of(new KernelBenchmarks.Shape(3, 8, 5)), List.of(DType.F32, DType.BF16), 1,
                new KernelBenchmarks.Shape(2, 4, 3), new PrintStream(buf, true, StandardCharsets.UTF_8));
        assertThat(r.results()).extracting(KernelBenchmarks.GemmResult::weight).containsExactly(DType.F32, DType.BF16);
        assertThat(r.results()).allSatisfy(g -> {
            assertThat(g.bestGflops()).isPositive().isGreaterThanOrEqualTo(g.medianGflops());
            assertThat(g.shape()).hasToString("3×8×5");
        });
        assertThat(r.baseline().kernels()).isEqualTo("triple-loop");
        assertThat(r.baseline().shape()).isEqualTo(new KernelBenchmarks.Shape(2, 4, 3));
        assertThat(r.speedupOverBaseline()).isPositive();
        assertThat(buf.toString(StandardCharsets.UTF_8)).contains("scalar", "3×8×5", "GFLOP/s", "triple-loop");
    }

    @Test
    void gemvAndBandwidthReportPositiveRates() {
        KernelBenchmarks.GemvResult g = KernelBenchmarks.gemv(new ScalarKernels(), 16, 8, DType.F16, 1);
        assertThat(g.bestGBs()).isPositive();
        KernelBenchmarks.Bandwidth b = KernelBenchmarks.memoryBandwidth(1 << 20, 1);
        assertThat(b.copyGBs()).isPositive();
        assertThat(b.readGBs()).isPositive();
        assertThat(KernelBenchmarks.format(b)).contains("GB/s");
    }

    @Test
    void shapesMustBePositive() {
        assertThatThrownBy(() -> new KernelBenchmarks.Shape(0, 1, 1)).isInstanceOf(IllegalArgumentException.class);
    }
}
