package finetune4j.train;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The exportable state of an {@link Optimizer}, for checkpoints.
 *
 * <p>{@code buffers} maps {@code <parameter name>.<state name>} to that buffer, with torch's state
 * names: {@code exp_avg} and {@code exp_avg_sq} (AdamW), {@code momentum_buffer} (SGD with
 * momentum). Each buffer has the parameter's element count and layout. Buffers returned by
 * {@link Optimizer#state()} are the optimizer's live arrays (no copy): write them out before the
 * next step.
 *
 * @param type     {@link Optimizer#type()} of the optimizer that produced it ("adamw", "sgd")
 * @param step     optimizer steps taken (torch's per-parameter {@code step}; equal for all parameters)
 * @param settings hyperparameters as text (for the record and for checks on resume)
 * @param buffers  state buffers by {@code <param>.<state>}, in parameter order
 */
public record OptimizerState(String type, long step, Map<String, String> settings, Map<String, float[]> buffers) {
    public OptimizerState {
        if (step < 0) throw new IllegalArgumentException("step must be >= 0, got " + step);
        settings = Collections.unmodifiableMap(new LinkedHashMap<>(settings));
        buffers = Collections.unmodifiableMap(new LinkedHashMap<>(buffers));
    }
}
