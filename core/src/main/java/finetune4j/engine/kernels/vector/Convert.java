package finetune4j.engine.kernels.vector;

import finetune4j.engine.tensor.DType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Stored weight elements (little-endian F32, BF16, F16 in a possibly unaligned memory segment) to
 * FP32, a vector at a time. Used while packing GEMM panels and while streaming a GEMV row, so a
 * weight is never materialised as a whole FP32 matrix.
 *
 * <p>BF16 is the high half of an FP32: widen to int, shift left by 16. F16 has no Vector API
 * conversion, so it is decoded with integer operations (bit-identical to
 * {@link Float#float16ToFloat} for all 65 536 patterns, with no subnormal float arithmetic): normal and inf/NaN
 * exponents are rebased by shifting and adding, subnormals are {@code mantissa · 2⁻²⁴}.
 */
final class Convert {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;
    /** Shorts with as many lanes as {@link #F}: half its bit size. */
    static final VectorSpecies<Short> H = VectorSpecies.of(short.class,
            VectorShape.forBitSize(F.vectorBitSize() / 2));
    static final int L = F.length();

    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private Convert() {
    }

    /**
     * {@code dst[dstOff + i] = element (elem + i)} of {@code seg} in dtype {@code dt}, for
     * {@code i < n}; {@code elem} counts elements (not bytes) from the segment start.
     */
    static void toFloat(DType dt, MemorySegment seg, long elem, float[] dst, int dstOff, int n) {
        switch (dt) {
            case F32 -> MemorySegment.copy(seg, F32_LE, elem * 4, dst, dstOff, n);
            case BF16 -> bf16ToFloat(seg, elem * 2, dst, dstOff, n);
            case F16 -> f16ToFloat(seg, elem * 2, dst, dstOff, n);
            default -> throw new IllegalArgumentException(dt + " is not a float compute type");
        }
    }

    /** {@code n} BF16 values from byte offset {@code byteOff} of {@code seg}. */
    static void bf16ToFloat(MemorySegment seg, long byteOff, float[] dst, int dstOff, int n) {
        int i = 0;
        for (int upper = F.loopBound(n); i < upper; i += L) {
            bf16(ShortVector.fromMemorySegment(H, seg, byteOff + 2L * i, LE)).intoArray(dst, dstOff + i);
        }
        if (i < n) {
            VectorMask<Short> m = H.indexInRange(i, n);
            bf16(ShortVector.fromMemorySegment(H, seg, byteOff + 2L * i, LE, m))
                    .intoArray(dst, dstOff + i, m.cast(F));
        }
    }

    /** {@code n} F16 values from byte offset {@code byteOff} of {@code seg}. */
    static void f16ToFloat(MemorySegment seg, long byteOff, float[] dst, int dstOff, int n) {
        int i = 0;
        for (int upper = F.loopBound(n); i < upper; i += L) {
            f16(ShortVector.fromMemorySegment(H, seg, byteOff + 2L * i, LE)).intoArray(dst, dstOff + i);
        }
        if (i < n) {
            VectorMask<Short> m = H.indexInRange(i, n);
            f16(ShortVector.fromMemorySegment(H, seg, byteOff + 2L * i, LE, m))
                    .intoArray(dst, dstOff + i, m.cast(F));
        }
    }

    /**
     * {@code Σ x[xo+i] · w[i]} for i &lt; n, with w the BF16 ({@code bf16}) or F16 values at byte
     * offset {@code byteOff} of {@code seg}, converted in registers (the decode GEMV for one row of
     * x: each weight element is loaded once and never stored as FP32).
     */
    static float dotHalf(boolean bf16, MemorySegment seg, long byteOff, float[] x, int xo, int n) {
        FloatVector s0 = FloatVector.zero(F), s1 = s0;
        int i = 0;
        for (; i <= n - 2 * L; i += 2 * L) {
            ShortVector h0 = ShortVector.fromMemorySegment(H, seg, byteOff + 2L * i, LE);
            ShortVector h1 = ShortVector.fromMemorySegment(H, seg, byteOff + 2L * (i + L), LE);
            s0 = (bf16 ? bf16(h0) : f16(h0)).fma(FloatVector.fromArray(F, x, xo + i), s0);
            s1 = (bf16 ? bf16(h1) : f16(h1)).fma(FloatVector.fromArray(F, x, xo + i + L), s1);
        }
        for (; i < n; i += L) {
            VectorMask<Short> m = H.indexInRange(i, n);
            ShortVector h = ShortVector.fromMemorySegment(H, seg, byteOff + 2L * i, LE, m);
            s0 = (bf16 ? bf16(h) : f16(h)).fma(FloatVector.fromArray(F, x, xo + i, m.cast(F)), s0);
        }
        return Vec.sumLanes(s0.add(s1));
    }

    /** BF16 bits (one per lane) to the FP32 values. */
    static FloatVector bf16(ShortVector bits) {
        return ((IntVector) bits.convertShape(VectorOperators.S2I, I, 0))
                .lanewise(VectorOperators.LSHL, 16)
                .reinterpretAsFloats();
    }

    /** IEEE half bits (one per lane) to the FP32 values; exact, NaN payloads kept (and quietened). */
    static FloatVector f16(ShortVector bits) {
        IntVector h = (IntVector) bits.convertShape(VectorOperators.S2I, I, 0);
        IntVector sign = h.and(0x8000).lanewise(VectorOperators.LSHL, 16);
        IntVector em = h.and(0x7FFF);                              // exponent and mantissa
        // Normal: rebias the exponent from 15 to 127 (add 112 << 23 after moving into place).
        IntVector normal = em.lanewise(VectorOperators.LSHL, 13).add(112 << 23);
        // Inf / NaN (exponent 31): exponent must become 255, so rebias by a further 112.
        normal = normal.blend(normal.add(112 << 23), em.compare(VectorOperators.GE, 0x7C00));
        // NaN comes out quiet, as the hardware conversion (and Float.float16ToFloat) makes it.
        normal = normal.lanewise(VectorOperators.OR, 0x0040_0000, em.compare(VectorOperators.GT, 0x7C00));
        // Subnormal or zero (exponent 0): value is mantissa · 2^-24, computed on normal floats.
        FloatVector sub = ((FloatVector) em.convert(VectorOperators.I2F, 0)).mul(0x1p-24f);
        FloatVector mag = normal.reinterpretAsFloats()
                .blend(sub, em.compare(VectorOperators.LT, 0x0400).cast(F));
        return mag.reinterpretAsInts().or(sign).reinterpretAsFloats();
    }
}
