package finetune4j.model;

import finetune4j.engine.kernels.Kernels;
import finetune4j.engine.tensor.LinearWeight;

/**
 * A frozen base linear layer whose weight adapters may read: DoRA needs the rows of W for its
 * norm, merging needs W itself. Implemented by {@link DenseLinear} (F32/BF16/F16) and by the
 * 4-bit {@code finetune4j.quant.Nf4Linear}, whose rows are dequantized on request. Both compute
 * the same way, here: {@code y = x·Wᵀ (+ bias)} through {@link Kernels#linear}, which reads W in
 * its stored form, and only the gradient to the input on the way back (a frozen weight has none).
 */
public interface FrozenLinear extends LinearSlot {
    /** The weight {@code (out_features, in_features)} as stored. */
    LinearWeight weight();

    /** The bias {@code (out_features)}, or null. Not a copy: do not modify. */
    float[] bias();

    /** The kernels the products run on. */
    Kernels kernels();

    @Override
    default int inFeatures() {
        return weight().cols();
    }

    @Override
    default int outFeatures() {
        return weight().rows();
    }

    @Override
    default void forward(float[] out, int outOff, float[] x, int xOff, int m) {
        kernels().linear(out, outOff, x, xOff, weight(), m, false);
        float[] bias = bias();
        if (bias != null) {
            // bias add: a plain loop (the kernel door has no broadcast add; cost is M·N, negligible next to M·N·K)
            int n = bias.length;
            for (int i = 0; i < m; i++) {
                int row = outOff + i * n;
                for (int j = 0; j < n; j++) out[row + j] += bias[j];
            }
        }
    }

    /** {@code dx (+)= dy · W}; no parameter gradients (the weight is frozen). */
    @Override
    default void backward(float[] dx, int dxOff, boolean accumulate, float[] dy, int dyOff, float[] x, int xOff, int m) {
        if (dx != null) kernels().linearBackward(dx, dxOff, dy, dyOff, weight(), m, accumulate);
    }

    /** Checks that a bias (or null) fits a weight of {@code rows} outputs. */
    static void checkBias(String name, float[] bias, int rows) {
        if (bias != null && bias.length != rows) {
            throw new IllegalArgumentException(name + ": bias of " + bias.length + " for " + rows + " outputs");
        }
    }
}
