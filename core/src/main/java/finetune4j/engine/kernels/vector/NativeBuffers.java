package finetune4j.engine.kernels.vector;

import finetune4j.engine.tensor.DType;
import finetune4j.engine.tensor.QuantizedWeight;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * Moves activations between the heap {@code float[]} buffers of the engine and the off-heap
 * buffers a native backend computes on (the oneDNN kernels of module {@code native}), a vector at
 * a time: FP32 to BF16 on the way in (4-bit weights decoded first), FP32 (plain or added) on the way out. Lives here because
 * only this package may use the Vector API. Single-threaded; callers split large ranges.
 */
public final class NativeBuffers {
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final int L = Convert.L;

    private NativeBuffers() {
    }

    /**
     * Elements {@code [first, first + n)} of a 4-bit weight's row-major flattening, dequantized to
     * FP32 into {@code out[off ..]} with the SIMD decoder ({@link QuantizedWeight#dequantize}'s
     * values exactly): for a native backend that multiplies 4-bit weights in bf16.
     */
    public static void dequantize(QuantizedWeight w, long first, int n, float[] out, int off) {
        Dequant4.toFloat(w, first, n, out, off);
    }

    /**
     * {@code dst[i] = bf16(src[srcOff + i])} for {@code i < n}, 2 bytes each from byte offset
     * {@code dstByteOff}: round to nearest even, NaN kept quiet; bit-identical to
     * {@link DType#floatToBf16} (and to torch's {@code .bfloat16()}).
     */
    public static void floatToBf16(float[] src, int srcOff, MemorySegment dst, long dstByteOff, int n) {
        int i = 0;
        for (int upper = Convert.F.loopBound(n); i < upper; i += L) {
            bf16Bits(FloatVector.fromArray(Convert.F, src, srcOff + i)).intoMemorySegment(dst, dstByteOff + 2L * i, LE);
        }
        if (i < n) {
            VectorMask<Float> m = Convert.F.indexInRange(i, n);
            bf16Bits(FloatVector.fromArray(Convert.F, src, srcOff + i, m))
                    .intoMemorySegment(dst, dstByteOff + 2L * i, LE, m.cast(Convert.H));
        }
    }

    /** {@code out[outOff + i] += src[i]} for {@code n} little-endian FP32 values of {@code src} from byte offset {@code srcByteOff}. */
    public static void addFloats(float[] out, int outOff, MemorySegment src, long srcByteOff, int n) {
        int i = 0;
        for (int upper = Convert.F.loopBound(n); i < upper; i += L) {
            FloatVector.fromArray(Convert.F, out, outOff + i)
                    .add(FloatVector.fromMemorySegment(Convert.F, src, srcByteOff + 4L * i, LE))
                    .intoArray(out, outOff + i);
        }
        for (; i < n; i++) out[outOff + i] += src.get(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, srcByteOff + 4L * i);
    }

    /** FP32 lanes to their BF16 bits (round to nearest even; NaN → its top half with the quiet bit set). */
    private static ShortVector bf16Bits(FloatVector v) {
        IntVector x = v.reinterpretAsInts();
        IntVector rounded = x.add(x.lanewise(VectorOperators.LSHR, 16).and(1).add(0x7FFF)).lanewise(VectorOperators.LSHR, 16);
        VectorMask<Integer> nan = x.and(0x7FFF_FFFF).compare(VectorOperators.GT, 0x7F80_0000);
        IntVector bits = rounded.blend(x.lanewise(VectorOperators.LSHR, 16).or(0x0040), nan);
        return (ShortVector) bits.convertShape(VectorOperators.I2S, Convert.H, 0);
    }
}
