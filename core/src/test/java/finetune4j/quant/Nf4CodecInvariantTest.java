package finetune4j.quant;

import finetune4j.engine.tensor.DType;
import finetune4j.engine.tensor.QuantType;
import finetune4j.engine.tensor.QuantizedWeight;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * dequantize(quantize(x)) stays within the 4-bit step of every block: each element lands on a
 * code adjacent to it, so its error is at most half the gap between the two codes around
 * {@code x / absmax}, times the block's absmax. With double quantization the block scale itself
 * is off by at most half a step of the dynamic 8-bit map (≤ 0.00704 · the nested absmax), and the
 * element error grows by |code| times that. Random data with per-block scales from 1e-6 to 1e3,
 * odd shapes, every block size, NF4 and FP4.
 */
class Nf4CodecInvariantTest {
    @Test
    void dequantizedValuesStayWithinTheStepOfTheirBlock() {
        SplittableRandom rnd = new SplittableRandom(2024);
        int checkedBlocks = 0;
        for (int bs : new int[]{32, 64, 128, 256, 512, 1024, 2048, 4096}) {
            int rows = 37, cols = 3 * bs / 2 + 7;                 // blocks cross rows; odd element count
            float[] x = new float[rows * cols];
            for (int b0 = 0; b0 < x.length; b0 += bs) {
                double scale = Math.pow(10, rnd.nextDouble(-6, 3));
                for (int i = b0; i < Math.min(x.length, b0 + bs); i++) x[i] = (float) (rnd.nextGaussian() * scale);
            }
            for (QuantType type : QuantType.values()) {
                float[] sorted = type.code();
                Arrays.sort(sorted);
                for (boolean nested : new boolean[]{false, true}) {
                    QuantizedWeight q = Nf4Codec.quantize("w", x, rows, cols, DType.F32, new QuantSpec(type, bs, nested));
                    float[] deq = q.toFloatArray();
                    float[] absmax = new float[q.blockCount()];
                    for (int i = 0; i < x.length; i++) absmax[i / bs] = Math.max(absmax[i / bs], Math.abs(x[i]));
                    for (int b = 0; b < absmax.length; b++) {
                        float scale = q.scales().scale(b);
                        double scaleErr = Math.abs((double) scale - absmax[b]);
                        if (nested) {
                            var n = (QuantizedWeight.Scales.Nested) q.scales();
                            double absmax2 = n.absmax2().getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, b / 256);
                            assertThat(scaleErr).as("%s bs=%d block %d scale", type, bs, b).isLessThanOrEqualTo(0.00704 * absmax2 + 1e-6 * absmax[b]);
                        } else {
                            assertThat(scale).isEqualTo(absmax[b]);
                        }
                        for (int i = b * bs; i < Math.min(x.length, (b + 1) * bs); i++) {
                            double s = x[i] / (double) absmax[b];
                            int k = 0;
                            while (k < 14 && s > sorted[k + 1]) k++;
                            double halfGap = (sorted[k + 1] - sorted[k]) / 2.0;
                            double bound = halfGap * absmax[b] + scaleErr + 1e-6 * absmax[b];
                            if (!(Math.abs((double) deq[i] - x[i]) <= bound)) {
                                throw new AssertionError(type + " bs=" + bs + " nested=" + nested + " element " + i + ": x=" + x[i]
                                        + " dequantized " + deq[i] + ", error above " + bound + " (block absmax " + absmax[b] + ")");
                            }
                        }
                        checkedBlocks++;
                    }
                }
            }
        }
        assertThat(checkedBlocks).isGreaterThan(1000);
    }
}
