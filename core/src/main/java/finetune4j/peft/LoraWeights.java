package finetune4j.peft;

import finetune4j.engine.tensor.NamedParam;

/**
 * The parameters of one adapter on one linear module (PEFT's {@code lora_A[name]},
 * {@code lora_B[name]}, {@code lora_magnitude_vector[name]} of a {@code lora.Linear}), named
 * with their adapter-file keys minus the {@code base_model.model.} prefix:
 *
 * <pre>
 * a          {module}.lora_A.weight           (R, K)   nn.Linear(K, R) weight
 * b          {module}.lora_B.weight           (N, R)   nn.Linear(R, N) weight
 * magnitude  {module}.lora_magnitude_vector   (N)      DoRA only, else null; PEFT holds it in
 *            memory as {@code lora_magnitude_vector.default.weight} and drops the ".weight" on save
 * </pre>
 *
 * The arrays are updated in place by the optimizer and read by every forward call.
 *
 * @param module  HF module name, e.g. {@code model.layers.0.self_attn.q_proj}
 * @param r       rank R
 * @param in      K, the module's input width
 * @param out     N, the module's output width
 * @param scaling {@code s}: {@code alpha/r} or {@code alpha/√r}
 * @param dropout {@code lora_dropout} probability (training only)
 */
public record LoraWeights(String module, int r, int in, int out, float scaling, double dropout,
                          NamedParam a, NamedParam b, NamedParam magnitude) {
    public LoraWeights {
        if (r <= 0) throw new IllegalArgumentException(module + ": rank " + r);
        if (a.numel() != (long) r * in) throw new IllegalArgumentException(module + ": lora_A holds " + a.numel() + ", not (" + r + ", " + in + ")");
        if (b.numel() != (long) out * r) throw new IllegalArgumentException(module + ": lora_B holds " + b.numel() + ", not (" + out + ", " + r + ")");
        if (magnitude != null && magnitude.numel() != out) {
            throw new IllegalArgumentException(module + ": magnitude holds " + magnitude.numel() + ", not " + out);
        }
        if (!(dropout >= 0 && dropout < 1)) throw new IllegalArgumentException(module + ": dropout " + dropout);
    }

    /** Fresh zero parameters of the right shapes and names (magnitude only when {@code dora}). */
    public static LoraWeights zeros(String module, int r, int in, int out, float scaling, double dropout, boolean dora) {
        return new LoraWeights(module, r, in, out, scaling, dropout,
                NamedParam.zeros(module + ".lora_A.weight", r, in),
                NamedParam.zeros(module + ".lora_B.weight", out, r),
                dora ? NamedParam.zeros(module + ".lora_magnitude_vector", out) : null);
    }

    public boolean isDora() {
        return magnitude != null;
    }

    /** A (R, K), row-major. */
    public float[] aData() {
        return a.data();
    }

    /** B (N, R), row-major. */
    public float[] bData() {
        return b.data();
    }

    /** Trainable parameter count: {@code R·K + N·R (+ N)}. */
    public long parameterCount() {
        return (long) r * in + (long) out * r + (magnitude == null ? 0 : out);
    }
}
