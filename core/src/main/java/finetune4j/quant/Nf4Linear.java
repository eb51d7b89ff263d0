package finetune4j.quant;

import finetune4j.engine.kernels.Kernels;
import finetune4j.engine.tensor.QuantizedWeight;
import finetune4j.model.FrozenLinear;

/**
 * A frozen linear layer over a 4-bit weight (bitsandbytes {@code Linear4bit}, NF4 or FP4): the base
 * of QLoRA. The forward {@code y = x·Wᵀ (+ bias)} and the backward to the input
 * {@code dx = dy·W} go through {@link Kernels#linear} / {@link Kernels#linearBackward}, which
 * dequantize W block by block while packing (a KC-element piece per weight row per GEMM panel,
 * a slab of rows for the backward): no full-precision copy of W is ever made, and the 4-bit data
 * stays where it is (a memory-mapped checkpoint or off-heap memory). Products in FP32; no weight
 * gradient (QLoRA trains only the adapters: {@code new LoraLinear(new Nf4Linear(...))}).
 */
public final class Nf4Linear implements FrozenLinear {
    private final String name;
    private final QuantizedWeight weight; // (N, K) 4-bit
    private final float[] bias;           // (N) or null
    private final Kernels kernels;

    /**
     * @param name   HF module name ({@code model.layers.0.self_attn.q_proj})
     * @param weight (out_features, in_features), 4-bit
     * @param bias   (out_features) FP32, or null
     */
    public Nf4Linear(String name, QuantizedWeight weight, float[] bias, Kernels kernels) {
        FrozenLinear.checkBias(name, bias, weight.rows());
        this.name = name;
        this.weight = weight;
        this.bias = bias;
        this.kernels = kernels;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public QuantizedWeight weight() {
        return weight;
    }

    @Override
    public float[] bias() {
        return bias;
    }

    @Override
    public Kernels kernels() {
        return kernels;
    }


    /** Parameters as the unquantized layer has them, as PEFT counts a Params4bit (whose torch numel is half: two codes a byte). */
    @Override
    public long parameterCount() {
        return weight.numel() + (bias == null ? 0 : bias.length);
    }

    @Override
    public long weightBytes() {
        return weight.storedBytes() + (bias == null ? 0 : 4L * bias.length);
    }

    @Override
    public String toString() {
        return "Nf4Linear[" + name + ", " + weight.type() + " (" + weight.rows() + ", " + weight.cols() + "), blocksize "
                + weight.blocksize() + (weight.scales() instanceof QuantizedWeight.Scales.Nested ? ", double-quantized" : "") + "]";
    }
}
