package finetune4j.engine.kernels.vector;

import finetune4j.engine.tensor.DType;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link NativeBuffers}: the vector FP32 → BF16 conversion is bit-identical to the scalar
 * {@link DType#floatToBf16} (round to nearest even, ties, NaN, infinities, subnormals, signed
 * zeros, random bit patterns) for every length around the vector width and at odd offsets, and
 * writes nothing outside its range; the FP32 add-from-segment equals the scalar sum.
 */
class NativeBuffersTest {
    static final float[] SPECIAL = {0f, -0f, 1f, -1f, Float.MIN_VALUE, -Float.MIN_VALUE, Float.MIN_NORMAL,
            Float.MAX_VALUE, -Float.MAX_VALUE, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN,
            Float.intBitsToFloat(0x7F80_0001), Float.intBitsToFloat(0xFFC0_1234), Float.intBitsToFloat(0x7FFF_FFFF),
            Float.intBitsToFloat(0x3F80_8000),          // a tie, even below: rounds down
            Float.intBitsToFloat(0x3F81_8000),          // a tie, odd below: rounds up
            Float.intBitsToFloat(0x3F80_8001), Float.intBitsToFloat(0x3F80_7FFF),
            Float.intBitsToFloat(0x7F7F_FFFF),          // rounds up to infinity
            1e-40f, -3.3e-39f, 65504f, 0.1f};

    @Test
    void floatToBf16IsBitIdenticalToTheScalarConversion() {
        SplittableRandom rnd = new SplittableRandom(1);
        try (Arena arena = Arena.ofConfined()) {
            for (int n = 0; n <= 3 * Convert.L + 1; n++) {
                for (int off : new int[]{0, 3}) {
                    float[] src = new float[off + n];
                    for (int i = 0; i < n; i++) {
                        src[off + i] = i < SPECIAL.length && (n % 2 == 0) ? SPECIAL[i] : Float.intBitsToFloat(rnd.nextInt());
                    }
                    MemorySegment dst = arena.allocate(2L * n + 6);
                    dst.fill((byte) 0x5A);
                    NativeBuffers.floatToBf16(src, off, dst, 2, n);
                    for (int i = 0; i < n; i++) {
                        short want = DType.floatToBf16(src[off + i]), got = dst.get(ValueLayout.JAVA_SHORT_UNALIGNED, 2 + 2L * i);
                        assertThat(got).as("n=%d off=%d element %d bits %08x", n, off, i, Float.floatToRawIntBits(src[off + i]))
                                .isEqualTo(want);
                    }
                    assertThat(dst.get(ValueLayout.JAVA_SHORT_UNALIGNED, 0)).isEqualTo((short) 0x5A5A);
                    assertThat(dst.get(ValueLayout.JAVA_SHORT_UNALIGNED, 2 + 2L * n)).isEqualTo((short) 0x5A5A);
                }
            }
        }
    }

    @Test
    void addFloatsAddsEveryElementOnce() {
        SplittableRandom rnd = new SplittableRandom(2);
        try (Arena arena = Arena.ofConfined()) {
            for (int n = 0; n <= 3 * Convert.L + 1; n++) {
                MemorySegment src = arena.allocate(4L * n + 4);
                float[] out = new float[n + 2], want = new float[n + 2];
                for (int i = 0; i < n + 2; i++) want[i] = out[i] = (float) rnd.nextDouble();
                for (int i = 0; i < n; i++) {
                    float v = (float) (rnd.nextDouble() * 2 - 1);
                    src.set(ValueLayout.JAVA_FLOAT_UNALIGNED, 4 + 4L * i, v);
                    want[1 + i] += v;
                }
                NativeBuffers.addFloats(out, 1, src, 4, n);
                assertThat(out).as("n=%d", n).containsExactly(want);
            }
        }
    }
}
