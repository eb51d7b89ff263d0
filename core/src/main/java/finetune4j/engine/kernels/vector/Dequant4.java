package finetune4j.engine.kernels.vector;

import finetune4j.engine.tensor.QuantType;
import finetune4j.engine.tensor.QuantizedWeight;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * 4-bit (NF4 / FP4) weights to FP32 for the packing and streaming loops of the vector kernels:
 * the same values as {@link QuantizedWeight#dequantize} (one FP32 product
 * {@code code[nibble] · scale(block)} per element), computed a block at a time from bytes copied
 * out of the (mapped) segment in bulk, two elements per byte, high nibble first.
 */
final class Dequant4 {
    private static final float[][] CODES = new float[QuantType.values().length][];

    static {
        for (QuantType t : QuantType.values()) CODES[t.ordinal()] = t.code();
    }

    private Dequant4() {
    }

    /**
     * {@code out[off + i]} = element {@code first + i} of the row-major flattening of {@code w}, for
     * {@code i < n}; {@code bytes} is scratch of at least {@code n / 2 + 2} entries.
     */
    static void toFloat(QuantizedWeight w, long first, int n, float[] out, int off, byte[] bytes) {
        if (n <= 0) return;
        MemorySegment packed = w.packed();
        long b0 = first >> 1, b1 = (first + n - 1) >> 1;
        int nb = (int) (b1 - b0 + 1);
        MemorySegment.copy(packed, ValueLayout.JAVA_BYTE, b0, bytes, 0, nb);
        float[] code = CODES[w.type().ordinal()];
        QuantizedWeight.Scales scales = w.scales();
        int shift = Integer.numberOfTrailingZeros(w.blocksize());
        long e = first;
        int i = 0;
        while (i < n) {
            int block = (int) (e >>> shift);
            int take = (int) Math.min(n - i, ((block + 1L) << shift) - e);
            float s = scales.scale(block);
            int o = off + i, end = o + take;
            int bi = (int) ((e >> 1) - b0);
            if ((e & 1) != 0) out[o++] = code[bytes[bi++] & 0xF] * s;
            for (; o + 1 < end; o += 2, bi++) {
                int b = bytes[bi];
                out[o] = code[(b >> 4) & 0xF] * s;
                out[o + 1] = code[b & 0xF] * s;
            }
            if (o < end) out[o] = code[(bytes[bi] >> 4) & 0xF] * s;
            e += take;
            i += take;
        }
    }
}
