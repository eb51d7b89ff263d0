package finetune4j.cli;

import finetune4j.engine.kernels.Kernels;
import finetune4j.model.LlamaModel;
import finetune4j.quant.QuantSpec;
import finetune4j.quant.QuantizedModels;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/**
 * {@code --load-in-4bit [--quant-type nf4|fp4] [--quant-blocksize 64] [--no-double-quant]}: quantize
 * the linear layers while loading (bitsandbytes NF4/FP4, as transformers'
 * {@code load_in_4bit=True}); the defaults are QLoRA's (NF4, blocks of 64, double quantization).
 * A directory whose config.json has a {@code quantization_config} always loads in 4 bits.
 */
final class QuantOption {
    @Option(names = "--load-in-4bit", description = "Quantize the linear layers (all but lm_head) to 4 bits while loading."
            + " A 4-bit checkpoint (config.json with quantization_config) loads in 4 bits anyway.")
    boolean loadIn4bit;

    @Option(names = "--quant-type", defaultValue = "nf4", paramLabel = "nf4|fp4",
            description = "4-bit type for --load-in-4bit (default: ${DEFAULT-VALUE}).")
    String quantType;

    @Option(names = "--quant-blocksize", defaultValue = "64", paramLabel = "N",
            description = "Elements per absmax block for --load-in-4bit: a power of two from 32 to 4096 (default: ${DEFAULT-VALUE}).")
    int blocksize;

    @Option(names = "--no-double-quant", description = "With --load-in-4bit: keep the block scales in FP32 (default: quantize them too).")
    boolean noDoubleQuant;

    /** The quantization asked for, or null. */
    QuantSpec spec() {
        return loadIn4bit ? spec(true) : null;
    }

    /** The quantization these flags describe, whether or not --load-in-4bit was given. */
    QuantSpec spec(boolean always) {
        return new QuantSpec(QuantSpec.parseType(quantType), blocksize, !noDoubleQuant);
    }

    /** The model of {@code dir}: 4-bit when stored so or asked for, else as stored. */
    LlamaModel load(Path dir, Kernels kernels) {
        return QuantizedModels.open(dir, kernels, spec());
    }
}
