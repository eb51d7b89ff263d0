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
        if (bias != null && bias.length != weight.rows()) {
            throw new IllegalArgumentException(name + ": bias of " + bias.length + " for " + weight.rows() + " outputs");
        }
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
    public int inFeatures() {
        return weight.cols();
    }

    @Override
    public int outFeatures() {
        return weight.rows();
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
    public void forward(float[] out, int outOff, float[] x, int xOff, int m) {
        kernels.linear(out, outOff, x, xOff, weight, m, false);
        if (bias != null) {
            // bias add: a plain loop (the kernel door has no broadcast add; cost is M·N, negligible next to M·N·K)
            int n = bias.length;
            for (int i = 0; i < m; i++) {
                int row = outOff + i * n;
                for (int j = 0; j < n; j++) out[row + j] += bias[j];
            }
        }
    }

    @Override
    public long parameterCount() {
        return (long) weight.rows() * weight.cols() + (bias == null ? 0 : bias.length);
    }

    @Override
    public long weightBytes() {
        return weight.data().byteSize() + (bias == null ? 0 : 4L * bias.length);
    }

    /** {@code dx (+)= dy · W}; no parameter gradients (the weight is frozen). */
    @Override
    public void backward(float[] dx, int dxOff, boolean accumulate, float[] dy, int dyOff, float[] x, int xOff, int m) {
        if (dx != null) kernels.linearBackward(dx, dxOff, dy, dyOff, weight, m, accumulate);
    }
}
