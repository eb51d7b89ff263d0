package finetune4j.peft;

/**
 * One adapter's contribution to a slot at inference: its module weights and a multiplier
 * ({@code --adapter DIR:0.5}). Several adapters on one module add their weighted deltas:
 * {@code y = base(x) + Σₐ wₐ·(yₐ(x) − base(x))}, i.e. merged {@code W' = W + Σₐ wₐ·(W'ₐ − W)}
 * (for plain LoRA {@code W'ₐ − W = sₐ·Bₐ·Aₐ}; for DoRA {@code W'ₐ = mₐ/‖W + ΔWₐ‖ ⊙ (W + ΔWₐ)}).
 *
 * @param lora   the adapter's weights on this module
 * @param weight the multiplier (1 for a single adapter and for training)
 */
public record WeightedLora(LoraWeights lora, float weight) {
    public WeightedLora {
        if (!Float.isFinite(weight)) throw new IllegalArgumentException(lora.module() + ": adapter weight " + weight);
    }
}
