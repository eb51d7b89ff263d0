package finetune4j.engine.kernels.vector;

import finetune4j.engine.tensor.DType;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The vectorised BF16 and F16 decoders against the JDK's scalar ones, bit for bit, on all 65 536
 * bit patterns (zeros, subnormals, normals, infinities, NaNs with payloads), read from a segment
 * at an odd byte offset, and with a count that leaves a masked tail.
 */
class ConvertTest {
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @Test
    void f16DecodesEveryBitPatternExactly() {
        float[] got = decodeAll(DType.F16);
        for (int bits = 0; bits < 65536; bits++) {
            float want = Float.float16ToFloat((short) bits);
            assertThat(Float.floatToRawIntBits(got[bits]))
                    .as("f16 0x%04x -> %s (want %s)", bits, got[bits], want)
                    .isEqualTo(Float.floatToRawIntBits(want));
        }
    }

    @Test
    void bf16DecodesEveryBitPatternExactly() {
        float[] got = decodeAll(DType.BF16);
        for (int bits = 0; bits < 65536; bits++) {
            assertThat(Float.floatToRawIntBits(got[bits])).as("bf16 0x%04x", bits).isEqualTo(bits << 16);
        }
    }

    @Test
    void f32CopiesLittleEndianValues() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(4L * 21 + 1).asSlice(1);
            for (int i = 0; i < 21; i++) DType.F32.setFloat(seg, i, i - 10.5f);
            float[] dst = new float[22];
            Convert.toFloat(DType.F32, seg, 1, dst, 2, 20);
            for (int i = 0; i < 20; i++) assertThat(dst[2 + i]).isEqualTo(i + 1 - 10.5f);
        }
    }

    /** All 65 536 patterns from byte offset 1, plus one element of tail so the count is odd. */
    private static float[] decodeAll(DType dt) {
        try (Arena arena = Arena.ofConfined()) {
            int n = 65536 + 1;
            MemorySegment seg = arena.allocate(2L * n + 1).asSlice(1);
            for (int i = 0; i < n; i++) seg.set(LE16, 2L * i, (short) i);
            float[] dst = new float[n + 3];
            Convert.toFloat(dt, seg, 0, dst, 3, n);
            float[] out = new float[65536];
            System.arraycopy(dst, 3, out, 0, 65536);
            return out;
        }
    }
}
