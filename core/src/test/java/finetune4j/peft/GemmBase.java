package finetune4j.peft;

import finetune4j.engine.kernels.Kernels;
import finetune4j.engine.tensor.Weight;
import finetune4j.model.DenseLinear;
import finetune4j.model.LinearSlot;

/**
 * A frozen dense base with a backward pass ({@code dx = dy·W} through {@link Kernels#gemm} on an
 * FP32 copy of W), for the LoRA tests: the model's own {@code DenseLinear.backward} is written in
 * another branch; this keeps the adapter checks independent of it.
 */
final class GemmBase implements LinearSlot {
    final DenseLinear dense;
    private final float[] w; // (N, K) FP32 copy
    private final Kernels kernels;

    GemmBase(DenseLinear dense, Kernels kernels) {
        this.dense = dense;
        this.w = dense.weight().toFloatArray();
        this.kernels = kernels;
    }

    GemmBase(String name, Weight weight, float[] bias, Kernels kernels) {
        this(new DenseLinear(name, weight, bias, kernels), kernels);
    }

    /** A LoraLinear over this base (weight and bias handed over for DoRA). */
    LoraLinear lora() {
        return new LoraLinear(this, dense.weight(), dense.bias(), kernels);
    }

    @Override
    public String name() {
        return dense.name();
    }

    @Override
    public int inFeatures() {
        return dense.inFeatures();
    }

    @Override
    public int outFeatures() {
        return dense.outFeatures();
    }

    @Override
    public void forward(float[] out, int outOff, float[] x, int xOff, int m) {
        dense.forward(out, outOff, x, xOff, m);
    }

    @Override
    public long parameterCount() {
        return dense.parameterCount();
    }

    @Override
    public long weightBytes() {
        return dense.weightBytes();
    }

    @Override
    public void backward(float[] dx, int dxOff, boolean accumulate, float[] dy, int dyOff, float[] x, int xOff, int m) {
        if (dx == null) return;
        int n = outFeatures(), k = inFeatures();
        kernels.gemm(false, false, m, k, n, 1f, dy, dyOff, n, w, 0, k, accumulate ? 1f : 0f, dx, dxOff, k);
    }
}
