package finetune4j.quant;

import finetune4j.ConfigException;
import finetune4j.engine.tensor.QuantType;
import finetune4j.engine.tensor.QuantizedWeight;

/**
 * How to quantize linear weights to 4 bits: transformers' {@code BitsAndBytesConfig(load_in_4bit=True,
 * bnb_4bit_quant_type=..., bnb_4bit_use_double_quant=...)} plus the block size (bitsandbytes'
 * {@code blocksize}, 64 by default on CUDA and CPU).
 *
 * @param type        NF4 or FP4
 * @param blocksize   elements per absmax block: a power of two in [32, 4096]
 * @param doubleQuant quantize the absmax values too (8-bit, blocks of 256): ~0.37 bit per weight saved
 */
public record QuantSpec(QuantType type, int blocksize, boolean doubleQuant) {
    /** bitsandbytes' default block size. */
    public static final int DEFAULT_BLOCKSIZE = 64;

    public QuantSpec {
        if (type == null) throw new ConfigException("quant type", null, "nf4 or fp4");
        if (!QuantizedWeight.isSupportedBlocksize(blocksize)) {
            throw new ConfigException("blocksize", blocksize, "a power of two from " + QuantizedWeight.MIN_BLOCKSIZE
                    + " to " + QuantizedWeight.MAX_BLOCKSIZE + " (bitsandbytes' block sizes; 64 is its default)");
        }
    }

    /** QLoRA's recipe: NF4, blocks of 64, double quantization. */
    public static QuantSpec qlora() {
        return new QuantSpec(QuantType.NF4, DEFAULT_BLOCKSIZE, true);
    }

    /** Parses {@code nf4} / {@code fp4}. */
    public static QuantType parseType(String s) {
        QuantType t = QuantType.parse(s);
        if (t == null) throw new ConfigException("quant type", s, "nf4 or fp4");
        return t;
    }
}
