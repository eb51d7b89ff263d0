package finetune4j.model;

import finetune4j.engine.tensor.LinearWeight;

/**
 * A frozen base linear layer whose weight adapters may read: DoRA needs the rows of W for its
 * norm, merging needs W itself. Implemented by {@link DenseLinear} (F32/BF16/F16) and by the
 * 4-bit {@code finetune4j.quant.Nf4Linear}, whose rows are dequantized on request.
 */
public interface FrozenLinear extends LinearSlot {
    /** The weight {@code (out_features, in_features)} as stored. */
    LinearWeight weight();

    /** The bias {@code (out_features)}, or null. Not a copy: do not modify. */
    float[] bias();
}
