package finetune4j.model;

import finetune4j.engine.kernels.Kernels;
import finetune4j.engine.tensor.Weight;

/**
 * A frozen dense {@code nn.Linear}: weight {@code (N, K)} in its stored dtype (F32/BF16/F16,
 * usually memory-mapped), optional FP32 bias {@code (N)}; products in FP32 through
 * {@link Kernels#linear}. Its backward pass only propagates to the input
 * ({@link Kernels#linearBackward}): a frozen base never produces weight gradients
 * ({@link TrainableLinear} is the slot for full fine-tuning).
 */
public final class DenseLinear implements FrozenLinear {
    private final String name;
    private final Weight weight; // (N, K)
    private final float[] bias;  // (N) or null
    private final Kernels kernels;

    /**
     * @param name   HF module name (the weight is {@code name + ".weight"}, unless tied)
     * @param weight (out_features, in_features)
     * @param bias   (out_features) or null
     */
    public DenseLinear(String name, Weight weight, float[] bias, Kernels kernels) {
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

    /** The weight (N, K) as stored. */
    @Override
    public Weight weight() {
        return weight;
    }

    /** The bias (N), or null. Not a copy: do not modify. */
    @Override
    public float[] bias() {
        return bias;
    }

    @Override
    public Kernels kernels() {
        return kernels;
    }

    @Override
    public long parameterCount() {
        return (long) weight.rows() * weight.cols() + (bias == null ? 0 : bias.length);
    }

    @Override
    public long weightBytes() {
        return weight.data().byteSize() + (bias == null ? 0 : 4L * bias.length);
    }
}
