package finetune4j.engine.kernels.vector;

import finetune4j.engine.kernels.Kernels;
import finetune4j.engine.kernels.ScalarKernels;
import finetune4j.engine.tensor.DType;
import finetune4j.engine.tensor.QuantType;
import finetune4j.engine.tensor.QuantizedWeight;
import finetune4j.testing.Numerics;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The vector kernels on 4-bit weights ({@link QuantizedWeight}: dequantized while packing the GEMM
 * panels, per row in the GEMV, per slab in the backward) against the scalar reference, which reads
 * every element through {@link QuantizedWeight#get}. Random codes and scales (NF4 and FP4, absmax
 * and double-quantized scales), odd K so that rows start on odd elements, blocks that cross rows
 * (K not a multiple of the block size), M on both sides of the GEMV/GEMM switch, sizes that take
 * the multi-threaded paths.
 */
class Quant4ParityTest {
    final Kernels ref = new ScalarKernels();
    final Kernels vec = new VectorKernels();

    /** A 4-bit weight with random codes and scales, its segments on the heap. */
    static QuantizedWeight random(SplittableRandom rnd, QuantType type, int n, int k, int blocksize, boolean nested) {
        long numel = (long) n * k;
        byte[] codes = new byte[(int) QuantizedWeight.packedBytes(numel)];
        rnd.nextBytes(codes);
        int blocks = (int) QuantizedWeight.blocks(numel, blocksize);
        QuantizedWeight.Scales scales;
        if (nested) {
            byte[] q = new byte[blocks];
            rnd.nextBytes(q);
            float[] absmax2 = new float[(blocks + 255) / 256];
            for (int i = 0; i < absmax2.length; i++) absmax2[i] = (float) (0.01 + rnd.nextDouble() * 0.02);
            float[] code = new float[256];
            for (int i = 0; i < 256; i++) code[i] = -1f + 2f * i / 255f;
            scales = new QuantizedWeight.Scales.Nested(MemorySegment.ofArray(q), MemorySegment.ofArray(absmax2), code, 0.03f, 256);
        } else {
            float[] absmax = new float[blocks];
            for (int i = 0; i < blocks; i++) absmax[i] = (float) (0.01 + rnd.nextDouble() * 0.05);
            scales = new QuantizedWeight.Scales.Absmax(MemorySegment.ofArray(absmax));
        }
        return new QuantizedWeight("w", type, n, k, blocksize, MemorySegment.ofArray(codes), scales, DType.BF16);
    }

    static Stream<Arguments> shapes() {
        return Stream.of(Arguments.of(1, 7, 9, 32), Arguments.of(3, 33, 65, 64), Arguments.of(8, 64, 129, 64),
                Arguments.of(9, 40, 77, 32), Arguments.of(40, 300, 131, 64), Arguments.of(97, 129, 257, 4096),
                Arguments.of(5, 2 * LinearBackward.SLAB + 3, 50, 128));
    }

    @ParameterizedTest(name = "M={0} N={1} K={2} blocksize={3}")
    @MethodSource("shapes")
    void forwardAndBackwardMatchTheReference(int m, int n, int k, int bs) {
        SplittableRandom rnd = new SplittableRandom(m * 7919L + n * 31L + k);
        for (QuantType type : QuantType.values()) {
            for (boolean nested : new boolean[]{false, true}) {
                QuantizedWeight w = random(rnd, type, n, k, bs, nested);
                String what = type + (nested ? " nested" : " absmax") + " M=" + m + " N=" + n + " K=" + k + " bs=" + bs;
                float[] x = BackwardParityTest.random(rnd, m * k + 2, 1);
                float[] want = BackwardParityTest.random(new SplittableRandom(3), m * n + 1, 1), got = want.clone();
                ref.linear(want, 1, x, 2, w, m, false);
                vec.linear(got, 1, x, 2, w, m, false);
                Numerics.assertClose(what + " forward", got, want, GemmParityTest.tol(k));
                ref.linear(want, 1, x, 2, w, m, true);
                vec.linear(got, 1, x, 2, w, m, true);
                Numerics.assertClose(what + " forward accumulated", got, want, GemmParityTest.tol(k));

                float[] dy = BackwardParityTest.random(rnd, m * n + 3, 1);
                float[] wantDx = BackwardParityTest.random(new SplittableRandom(4), m * k + 1, 1), gotDx = wantDx.clone();
                ref.linearBackward(wantDx, 1, dy, 3, w, m, false);
                vec.linearBackward(gotDx, 1, dy, 3, w, m, false);
                Numerics.assertClose(what + " dx", gotDx, wantDx, GemmParityTest.tol(n));
                ref.linearBackward(wantDx, 1, dy, 3, w, m, true);
                vec.linearBackward(gotDx, 1, dy, 3, w, m, true);
                Numerics.assertClose(what + " dx accumulated", gotDx, wantDx, GemmParityTest.tol(n));
            }
        }
    }

    @Test
    void dequantizeRunsAreBitIdenticalToTheDefinition() {
        // 1517 elements, blocks of 32 and 64: runs of every length from every start, aligned or not
        SplittableRandom rnd = new SplittableRandom(11);
        for (QuantType type : QuantType.values()) {
            for (boolean nested : new boolean[]{false, true}) {
              for (int bs : new int[]{32, 64, 256}) {
                QuantizedWeight w = random(rnd, type, 37, 41, bs, nested);         // 1517 elements, odd
                for (int trial = 0; trial < 300; trial++) {
                    long first = rnd.nextInt(1517);
                    int len = rnd.nextInt(1, (int) (1518 - first));
                    float[] want = new float[len + 2], got = new float[len + 2];
                    for (int i = 0; i < len; i++) want[1 + i] = w.get((int) ((first + i) / 41), (int) ((first + i) % 41));
                    Dequant4.toFloat(w, first, len, got, 1);
                    for (int i = 0; i < got.length; i++) {
                        assertThat(Float.floatToRawIntBits(got[i])).as("%s nested=%s bs=%d first=%d len=%d i=%d", type, nested, bs, first, len, i)
                                .isEqualTo(Float.floatToRawIntBits(want[i]));
                    }
                }
                // and the scalar runs agree with element access too
                float[] all = w.toFloatArray();
                for (int r = 0; r < 37; r += 5) {
                    for (int c = 0; c < 41; c += 3) assertThat(w.get(r, c)).isEqualTo(all[r * 41 + c]);
                }
              }
            }
        }
    }

    @Test
    void codesAreHighNibbleFirst() {
        byte[] packed = {(byte) 0xF0, (byte) 0x7A};                                  // codes 15, 0, 7, 10
        float[] absmax = {2f};
        QuantizedWeight w = new QuantizedWeight("w", QuantType.NF4, 1, 3, 32, MemorySegment.ofArray(new byte[]{packed[0], packed[1]}),
                new QuantizedWeight.Scales.Absmax(MemorySegment.ofArray(absmax)), DType.F32);
        assertThat(w.toFloatArray()).containsExactly(2f, -2f, 0f);
        assertThat(w.code(3)).isEqualTo(10);                                          // the padding nibble
        assertThat(w.packed().get(ValueLayout.JAVA_BYTE, 1)).isEqualTo((byte) 0x7A);
    }
}
