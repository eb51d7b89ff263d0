package finetune4j.model;

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
 * allocate per call. The backward pass ({@code dx}, and {@code dW} for trainable slots) is added
 * with the training code.
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
}
