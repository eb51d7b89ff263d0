package finetune4j.model;

import finetune4j.engine.kernels.Kernels;
import finetune4j.engine.tensor.NamedParam;
import finetune4j.engine.tensor.Weight;

import java.util.ArrayList;
import java.util.List;

/**
 * A dense {@code nn.Linear} for full fine-tuning: the weight {@code (N, K)} and/or the bias
 * {@code (N)} are trainable FP32 parameters with gradients (a trainable weight is copied once from
 * the base weight in its stored dtype into a heap {@code float[]}; a frozen one stays as stored).
 *
 * <pre>
 *   forward   out(M, N) = x(M, K) · Wᵀ (+ b)
 *   backward  dx(M, K) (+)= dy(M, N) · W           Kernels.linearBackward
 *             dW(N, K)  += dy(M, N)ᵀ · x(M, K)     Kernels.gemm (transA)     when the weight is trainable
 *             db(N)     += Σ_rows dy               when the bias is trainable
 * </pre>
 *
 * A slot {@link #sharing} a parameter (the lm_head of a model with tied embeddings) computes with
 * and accumulates into that parameter but does not list it in {@link #trainableParameters()}: the
 * embedding owns it, as in transformers' {@code named_parameters()}.
 */
public final class TrainableLinear implements LinearSlot {
    private final String name;
    private final Weight weight;        // (N, K): a heap FP32 view of w when trainable, else as stored
    private final float[] w, dw;        // (N, K) trainable weight and its gradient, or null when frozen
    private final float[] bias, dbias;  // (N) bias and its gradient (null: no bias / frozen bias)
    private final boolean shared;       // w, dw belong to another parameter (tied head)
    private final Kernels kernels;

    private TrainableLinear(String name, Weight weight, float[] w, float[] dw, float[] bias, float[] dbias,
                            boolean shared, Kernels kernels) {
        this.name = name;
        this.weight = weight;
        this.w = w;
        this.dw = dw;
        this.bias = bias;
        this.dbias = dbias;
        this.shared = shared;
        this.kernels = kernels;
    }

    /**
     * A trainable copy of {@code base}: the weight becomes FP32 (converted from its stored dtype)
     * when {@code trainWeight}; the bias gets a gradient when {@code trainBias} (it must exist).
     */
    public static TrainableLinear of(DenseLinear base, boolean trainWeight, boolean trainBias, Kernels kernels) {
        if (trainBias && base.bias() == null) throw new IllegalArgumentException(base.name() + " has no bias to train");
        Weight bw = base.weight();
        float[] w = null, dw = null;
        Weight weight = bw;
        if (trainWeight) {
            w = bw.toFloatArray();
            dw = new float[w.length];
            weight = Weight.ofArray(base.name() + ".weight", w, bw.rows(), bw.cols());
        }
        float[] bias = base.bias() == null ? null : base.bias().clone();
        return new TrainableLinear(base.name(), weight, w, dw, bias, trainBias ? new float[bias.length] : null, false, kernels);
    }

    /**
     * A slot over another trainable parameter {@code p} of shape (N, K) — the tied lm_head over
     * {@code model.embed_tokens.weight}: it reads {@code p.data()} and adds its weight gradient to
     * {@code p.grad()}, and reports no parameters of its own.
     */
    public static TrainableLinear sharing(String name, NamedParam p, Kernels kernels) {
        long[] shape = p.shape();
        if (shape.length != 2) throw new IllegalArgumentException(p.name() + " is not a matrix");
        Weight weight = Weight.ofArray(p.name(), p.data(), (int) shape[0], (int) shape[1]);
        return new TrainableLinear(name, weight, p.data(), p.grad(), null, null, true, kernels);
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

    /** The weight (N, K): an FP32 heap view of the trainable values, or the stored weight when frozen. */
    public Weight weight() {
        return weight;
    }

    /** The bias (N), or null. Not a copy. */
    public float[] bias() {
        return bias;
    }

    @Override
    public void forward(float[] out, int outOff, float[] x, int xOff, int m) {
        kernels.linear(out, outOff, x, xOff, weight, m, false);
        if (bias != null) {
            int n = bias.length;
            for (int i = 0; i < m; i++) {
                int row = outOff + i * n;
                for (int j = 0; j < n; j++) out[row + j] += bias[j];
            }
        }
    }

    @Override
    public void backward(float[] dx, int dxOff, boolean accumulate, float[] dy, int dyOff, float[] x, int xOff, int m) {
        int n = weight.rows(), k = weight.cols();
        if (dx != null) kernels.linearBackward(dx, dxOff, dy, dyOff, weight, m, accumulate);
        if (dw != null) {
            // dW(N, K) += dy(M, N)ᵀ · x(M, K)
            kernels.gemm(true, false, n, k, m, 1f, dy, dyOff, n, x, xOff, k, 1f, dw, 0, k);
        }
        if (dbias != null) {
            // db(N) += Σ_rows dy: a column sum, M·N adds (negligible next to the products)
            for (int i = 0; i < m; i++) {
                int row = dyOff + i * n;
                for (int j = 0; j < n; j++) dbias[j] += dy[row + j];
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

    @Override
    public List<NamedParam> trainableParameters() {
        List<NamedParam> out = new ArrayList<>(2);
        if (dw != null && !shared) out.add(new NamedParam(name + ".weight", new long[]{weight.rows(), weight.cols()}, w, dw));
        if (dbias != null) out.add(new NamedParam(name + ".bias", new long[]{bias.length}, bias, dbias));
        return out;
    }
}
