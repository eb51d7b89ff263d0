package finetune4j.engine.tensor;

import java.util.Locale;

/**
 * The bitsandbytes 4-bit data types (SPECS.md §3b), each a table of 16 values indexed by the
 * 4-bit code: {@code value = code[nibble] · absmax(block)}.
 *
 * <ul>
 *   <li>{@link #NF4}: NormalFloat4 (QLoRA, arXiv 2305.14314): quantiles of N(0, 1) scaled to
 *   [-1, 1], with an exact zero ({@code functional.py create_normal_map(0.9677083)}; the values
 *   below are bitsandbytes' {@code get_4bit_type("nf4")}, exactly representable in FP32).</li>
 *   <li>{@link #FP4}: 1 sign, 2 exponent, 1 mantissa bit, in bit-pattern order, divided by 12
 *   ({@code get_4bit_type("fp4")}; entry 8 is +0.0 because the Python source writes the integer
 *   {@code -0}).</li>
 * </ul>
 */
public enum QuantType {
    NF4(new float[]{-1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
            -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
            0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
            0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f}),
    FP4(new float[]{0f, 0.0625f / 12f, 8f / 12f, 12f / 12f, 4f / 12f, 6f / 12f, 2f / 12f, 3f / 12f,
            0f, -0.0625f / 12f, -8f / 12f, -12f / 12f, -4f / 12f, -6f / 12f, -2f / 12f, -3f / 12f});

    private final float[] code;

    QuantType(float[] code) {
        this.code = code;
    }

    /** The 16 code values (a copy). */
    public float[] code() {
        return code.clone();
    }

    /** Code value {@code c} (0..15). */
    public float value(int c) {
        return code[c];
    }

    /** The bitsandbytes name: {@code nf4} or {@code fp4}. */
    public String bnbName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The type named {@code nf4} / {@code fp4} (any case), or null. */
    public static QuantType parse(String s) {
        if (s == null) return null;
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "nf4" -> NF4;
            case "fp4" -> FP4;
            default -> null;
        };
    }
}
