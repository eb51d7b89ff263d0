package finetune4j.engine.tensor;

import java.util.Arrays;

/**
 * A trainable FP32 parameter with its gradient: the unit the optimizer, gradient clipping,
 * checkpoints and adapter files work on. {@code name} is the HF / PEFT key the parameter is saved
 * under (e.g. {@code model.layers.0.self_attn.q_proj.lora_A.weight}); {@code data} and
 * {@code grad} hold {@code numel} floats, row-major in {@code shape}.
 *
 * @param name  HF parameter name
 * @param shape PyTorch shape, e.g. {@code [r, in_features]} for {@code lora_A}
 * @param data  the values (updated in place by the optimizer)
 * @param grad  the gradient, same layout (accumulated by backward passes, zeroed per step)
 */
public record NamedParam(String name, long[] shape, float[] data, float[] grad) {
    public NamedParam {
        long n = 1;
        for (long d : shape) n *= d;
        if (n != data.length || n != grad.length) {
            throw new IllegalArgumentException(name + ": shape " + Arrays.toString(shape) + " holds " + n
                    + " elements but data has " + data.length + " and grad " + grad.length);
        }
        shape = shape.clone();
    }

    /** A zero-initialised parameter of the given shape. */
    public static NamedParam zeros(String name, long... shape) {
        long n = 1;
        for (long d : shape) n *= d;
        return new NamedParam(name, shape, new float[Math.toIntExact(n)], new float[Math.toIntExact(n)]);
    }

    public int numel() {
        return data.length;
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }
}
