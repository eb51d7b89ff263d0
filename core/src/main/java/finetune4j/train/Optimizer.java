package finetune4j.train;

import finetune4j.engine.tensor.NamedParam;

import java.util.List;

/**
 * Updates trainable parameters from their gradients, with torch semantics ({@link AdamW}, {@link Sgd}).
 *
 * <p>An optimizer is bound to one parameter list: the first {@link #step} (or {@link #load})
 * allocates its state buffers once, and every later call must pass the same parameters in the
 * same order (checked by name and size; a different list is a programming error). Steps allocate
 * nothing.
 *
 * {@snippet :
 * Optimizer opt = new AdamW(AdamW.Config.of(0.9, 0.999, 1e-8), WeightDecay.hf(0.01));
 * for (long step = 0; step < total; step++) {
 *     // ... backward fills p.grad() for every p in trainable ...
 *     opt.step(trainable, schedule.lr(step));
 * }
 * }
 */
public sealed interface Optimizer permits AdamW, Sgd {
    /**
     * One update of every parameter from its gradient, in place. {@code lr} is a double because
     * torch computes lr-derived scalars ({@code lr/bias_correction1}, {@code 1 − lr·wd}) in double
     * before rounding them to float.
     */
    void step(List<NamedParam> params, double lr);

    /** Number of steps taken (including those restored by {@link #load}). */
    long steps();

    /** "adamw" or "sgd": the {@link OptimizerState#type()} this optimizer writes and accepts. */
    String type();

    /** The state as live views (no copy); {@code params} must be the bound list. */
    OptimizerState state(List<NamedParam> params);

    /**
     * Restores a state exported by an optimizer of the same type for the same parameters.
     *
     * @param source names the file the state was read from, for messages
     * @throws finetune4j.ModelFormatException naming {@code source} and the key when a buffer is
     *                                         missing, unexpected, of the wrong size, or the type differs
     */
    void load(OptimizerState state, List<NamedParam> params, String source);
}
