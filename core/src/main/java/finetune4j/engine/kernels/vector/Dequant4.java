package finetune4j.engine.kernels.vector;

import finetune4j.engine.tensor.QuantType;
import finetune4j.engine.tensor.QuantizedWeight;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * 4-bit (NF4 / FP4) weights to FP32 for the packing and streaming loops of the vector kernels:
 * the same bits as {@link QuantizedWeight#get} ({@code code[nibble] · scale(block)}, one FP32
 * product per element).
 *
 * <p>With 16 float lanes (AVX-512), 32 elements at a time: 16 packed bytes are widened to 16 int
 * lanes, split into high and low nibbles, and each nibble vector picks its values from the block's
 * 16-entry table {@code code · scale} held in one register ({@code selectFrom}, a vpermd); two
 * two-source permutes then interleave high and low values (element 2j is the high nibble of byte j)
 * into 32 consecutive floats. A 32-element group aligned to 32 never straddles a block (block sizes
 * are multiples of 32). Unaligned heads and tails, and other vector widths, take the scalar loop of
 * {@link QuantizedWeight#dequantize}.
 */
final class Dequant4 {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final boolean VECTOR = F.length() == 16;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_512;
    private static final VectorSpecies<Byte> B = ByteVector.SPECIES_128;
    private static final FloatVector ZIP_LO = VECTOR ? zipIndices(0) : null;
    private static final FloatVector ZIP_HI = VECTOR ? zipIndices(8) : null;
    private static final FloatVector[] CODES = new FloatVector[QuantType.values().length];

    static {
        if (VECTOR) for (QuantType t : QuantType.values()) CODES[t.ordinal()] = FloatVector.fromArray(F, t.code(), 0);
    }

    private Dequant4() {
    }

    /** {@code out[off + i]} = element {@code first + i} of the row-major flattening of {@code w}, for {@code i < n}. */
    static void toFloat(QuantizedWeight w, long first, int n, float[] out, int off) {
        if (!VECTOR || n < 64) {
            w.dequantize(first, n, out, off);
            return;
        }
        long end = first + n;
        long a = (first + 31) & ~31L;                       // first 32-aligned element
        long z = end & ~31L;                                // last aligned group ends here
        if (a > first) w.dequantize(first, (int) (a - first), out, off);
        MemorySegment packed = w.packed();
        FloatVector code = CODES[w.type().ordinal()];
        QuantizedWeight.Scales scales = w.scales();
        int shift = Integer.numberOfTrailingZeros(w.blocksize());
        long e = a;
        while (e < z) {
            int block = (int) (e >>> shift);
            long blockEnd = Math.min(z, (block + 1L) << shift);
            IntVector table = code.mul(scales.scale(block)).reinterpretAsInts();
            for (; e < blockEnd; e += 32) {
                IntVector bytes = (IntVector) ByteVector.fromMemorySegment(B, packed, e >> 1, ByteOrder.LITTLE_ENDIAN)
                        .convertShape(VectorOperators.B2I, I, 0);
                FloatVector hi = bytes.lanewise(VectorOperators.ASHR, 4).and(0xF).selectFrom(table).reinterpretAsFloats();
                FloatVector lo = bytes.and(0xF).selectFrom(table).reinterpretAsFloats();
                int o = off + (int) (e - first);
                ZIP_LO.selectFrom(hi, lo).intoArray(out, o);
                ZIP_HI.selectFrom(hi, lo).intoArray(out, o + 16);
            }
        }
        if (end > z) w.dequantize(Math.max(z, a), (int) (end - Math.max(z, a)), out, off + (int) (Math.max(z, a) - first));
    }

    /** {@code [h, 16+h, h+1, 17+h, ...]}: with {@code selectFrom(a, b)}, interleaves lanes h .. h+7 of a and b. */
    private static FloatVector zipIndices(int h) {
        float[] idx = new float[16];
        for (int i = 0; i < 8; i++) {
            idx[2 * i] = h + i;
            idx[2 * i + 1] = 16 + h + i;
        }
        return FloatVector.fromArray(F, idx, 0);
    }
}
