package finetune4j.engine.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Locale;

/**
 * Element types of stored tensors, named as safetensors names them.
 *
 * <p>The declaration order is the safetensors (Rust) {@code Dtype} enum order, "in increasing
 * alignment order"; the reference writer sorts tensors by this order descending, then by name,
 * so {@link #ordinal()} is part of the byte-exact writer contract (SPECS.md §3d).
 * {@code bits} is the storage width; sub-byte types (F4, F6) are packed.
 */
public enum DType {
    BOOL(8), F4(4), F6_E2M3(6), F6_E3M2(6), U8(8), I8(8), F8_E5M2(8), F8_E4M3(8), F8_E8M0(8),
    F8_E4M3FNUZ(8), F8_E5M2FNUZ(8), I16(16), U16(16), F16(16), BF16(16), I32(32), U32(32), F32(32),
    C64(64), F64(64), I64(64), U64(64);

    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED;

    private final int bits;

    DType(int bits) {
        this.bits = bits;
    }

    /** Storage width of one element in bits. */
    public int bits() {
        return bits;
    }

    /** Bytes taken by {@code numel} elements, or -1 when that is not a whole number of bytes. */
    public long byteSize(long numel) {
        long b = numel * bits;
        return b % 8 == 0 ? b / 8 : -1;
    }

    /** True for the float types the engine computes with directly (converted to FP32 on read). */
    public boolean isComputeFloat() {
        return this == F32 || this == F16 || this == BF16;
    }

    /** Parses a safetensors dtype string ("F32", "BF16", ...); returns null when unknown. */
    public static DType parse(String s) {
        if (s == null) return null;
        try {
            return DType.valueOf(s.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    /** Reads element {@code index} of a little-endian F32/F16/BF16 segment as float. */
    public float getFloat(MemorySegment seg, long index) {
        return switch (this) {
            case F32 -> seg.get(F32_LE, index * 4);
            case BF16 -> bf16ToFloat(seg.get(I16_LE, index * 2));
            case F16 -> Float.float16ToFloat(seg.get(I16_LE, index * 2));
            default -> throw new IllegalStateException(this + " is not a float compute type");
        };
    }

    /** Writes element {@code index} of a little-endian F32/F16/BF16 segment, rounding to nearest-even. */
    public void setFloat(MemorySegment seg, long index, float v) {
        switch (this) {
            case F32 -> seg.set(F32_LE, index * 4, v);
            case BF16 -> seg.set(I16_LE, index * 2, floatToBf16(v));
            case F16 -> seg.set(I16_LE, index * 2, Float.floatToFloat16(v));
            default -> throw new IllegalStateException(this + " is not a float compute type");
        }
    }

    /** bfloat16 bits to float: the high 16 bits of an IEEE float. */
    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /** float to bfloat16 bits with round-to-nearest-even, NaN kept quiet (as torch does). */
    public static short floatToBf16(float v) {
        int x = Float.floatToRawIntBits(v);
        if ((x & 0x7F800000) == 0x7F800000 && (x & 0x007FFFFF) != 0) {
            return (short) ((x >>> 16) | 0x0040);
        }
        int rounding = 0x7FFF + ((x >>> 16) & 1);
        return (short) ((x + rounding) >>> 16);
    }
}
