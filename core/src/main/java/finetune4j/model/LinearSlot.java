package finetune4j.model;

import finetune4j.engine.tensor.NamedParam;

import java.util.List;

/**
 * The single attach point for adapters: every linear layer of the model (q/k/v/o projections,
 * gate/up/down, lm_head) is a slot. The model ships {@link DenseLinear}; an adapter wraps the
 * slot it targets and calls the wrapped one, exactly as PEFT's {@code LoraLayer.base_layer}:
 *
 * {@snippet :
 * model.replaceLinear("model.layers.0.self_attn.q_proj", base -> new LoraLinear(base, r, alpha));
 * }
 *
 * <p>Shapes (llm.c order, outputs first): {@code out(M, N) = x(M, K) · Wᵀ (+ bias)} with
 * {@code K = inFeatures()}, {@code N = outFeatures()}, rows contiguous. Implementations must not
 * allocate per call (buffers sized on first use are allowed).
 *
 * <p>Training contract: {@link #backward} is called after {@link #forward} with the same
 * {@code x}; a slot that needs intermediate results of its forward (LoRA's {@code x·Aᵀ}, a dropout
 * mask) keeps them from the latest forward call. With gradient checkpointing the model calls
 * {@code forward} again on the same rows right before {@code backward}, so anything random in the
 * forward (dropout) must be reproducible for the same step (a counter-based RNG, not a stream).
 */
public interface LinearSlot {
    /** HF module name, e.g. {@code model.layers.0.self_attn.q_proj} or {@code lm_head}. */
    String name();

    /** K: the input width. */
    int inFeatures();

    /** N: the output width. */
    int outFeatures();

    /**
     * {@code out[outOff + i·N + j] = Σ_p x[xOff + i·K + p] · W[j, p] (+ bias[j])} for {@code i < m}.
     * {@code out} and {@code x} must not overlap.
     */
    void forward(float[] out, int outOff, float[] x, int xOff, int m);

    /** Parameters held by this slot (weight and bias; for a wrapper, base plus adapter). */
    long parameterCount();

    /** Bytes of parameters read by one forward call (stored dtype): the memory traffic of a decode step. */
    long weightBytes();

    /**
     * Backward of {@code forward(x)}: given {@code dy (M, N)} and the same {@code x (M, K)} the
     * forward saw, writes {@code dx (M, K) = dy · W} (adds it when {@code accumulate}; skipped
     * when {@code dx} is null) and accumulates ({@code +=}) the gradients of this slot's trainable
     * parameters into their {@link NamedParam#grad()}.
     */
    default void backward(float[] dx, int dxOff, boolean accumulate, float[] dy, int dyOff, float[] x, int xOff, int m) {
        throw new UnsupportedOperationException(name() + ": " + getClass().getSimpleName() + " has no backward pass");
    }

    /** The trainable parameters of this slot with their HF names (empty for a frozen base). */
    default List<NamedParam> trainableParameters() {
        return List.of();
    }
}
