package finetune4j.model;

/**
 * Rotary position embedding tables, computed the way transformers computes them so that the
 * angles agree bit for bit where float32 allows:
 *
 * <pre>
 * inv_freq[i] = 1 / (base ** (arange(0, D, 2).float() / D))          // float32, i &lt; D/2
 * (llama3 / linear rope_scaling rewrite inv_freq, modeling_rope_utils.py)
 * angle[t, i] = float(t) * inv_freq[i]                                 // float32 product
 * cos[t, i] = cos(angle[t, i]),  sin[t, i] = sin(angle[t, i])          // rounded to float32
 * </pre>
 *
 * HF's {@code emb = cat(freqs, freqs)} duplicates the D/2 angles for the two halves of the
 * rotate-half layout; the kernel door ({@code Kernels.rope}) takes the D/2 table once.
 * Reference: Su et al. 2021, https://arxiv.org/abs/2104.09864 ; transformers
 * {@code LlamaRotaryEmbedding} and {@code _compute_llama3_parameters}.
 *
 * <p>Tables start small and grow (doubling, up to {@link ModelConfig#maxContext()}) when a
 * longer sequence is requested, before any per-token loop runs, so a 128k-context model does
 * not pay 64 MB of tables for a short chat.
 */
public final class Rope {
    /** cos/sin of shape (positions, D/2), row t for position t. */
    public record Tables(int positions, float[] cos, float[] sin) {
    }

    private static final int INITIAL_POSITIONS = 4096;

    private final float[] invFreq; // (D/2)
    private final int maxPositions;
    private volatile Tables tables;

    Rope(ModelConfig config) {
        this.invFreq = invFreq(config);
        this.maxPositions = config.maxContext();
        this.tables = build(invFreq, Math.min(maxPositions, INITIAL_POSITIONS));
    }

    /** Tables covering at least positions {@code [0, positions)}; grows them if needed. */
    Tables ensure(int positions) {
        Tables t = tables;
        if (t.positions() >= positions) return t;
        synchronized (this) {
            t = tables;
            if (t.positions() < positions) {
                int n = Math.min(maxPositions, Math.max(positions, 2 * t.positions()));
                t = build(invFreq, n);
                tables = t;
            }
            return t;
        }
    }

    /** The D/2 inverse frequencies in float32, as transformers computes them for this config. */
    public static float[] invFreq(ModelConfig c) {
        int dim = c.headDim();
        float base = (float) c.ropeTheta();
        float[] inv = new float[dim / 2];
        for (int i = 0; i < dim / 2; i++) {
            float exponent = (float) (2 * i) / (float) dim;                 // arange(0, dim, 2).float() / dim
            float pow = (float) Math.pow(base, exponent);                     // base ** exponent, float32 result
            inv[i] = 1.0f / pow;
        }
        RopeScaling s = c.ropeScaling();
        if (s == null) return inv;
        float factor = (float) s.factor();
        if (RopeScaling.LINEAR.equals(s.ropeType())) {
            for (int i = 0; i < inv.length; i++) inv[i] = inv[i] / factor;  // _compute_linear_scaling_rope_parameters
            return inv;
        }
        // _compute_llama3_parameters, every tensor op in float32 with python scalars cast to float32.
        int old = s.originalMaxPositionEmbeddings();
        float lowFreqWavelen = (float) (old / s.lowFreqFactor());
        float highFreqWavelen = (float) (old / s.highFreqFactor());
        float twoPi = (float) (2 * Math.PI);
        float lowF = (float) s.lowFreqFactor();
        float span = (float) (s.highFreqFactor() - s.lowFreqFactor());
        for (int i = 0; i < inv.length; i++) {
            float wavelen = (1.0f / inv[i]) * twoPi;                          // 2*pi / inv_freq (reciprocal * scalar)
            float invLlama = wavelen > lowFreqWavelen ? inv[i] / factor : inv[i];
            float smooth = ((1.0f / wavelen) * (float) old - lowF) / span;    // (old / wavelen - low) / (high - low)
            float smoothed = (1.0f - smooth) * invLlama / factor + smooth * invLlama;
            boolean medium = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
            inv[i] = medium ? smoothed : invLlama;
        }
        return inv;
    }

    private static Tables build(float[] invFreq, int positions) {
        int half = invFreq.length;
        float[] cos = new float[positions * half];
        float[] sin = new float[positions * half];
        for (int t = 0; t < positions; t++) {
            for (int i = 0; i < half; i++) {
                float angle = (float) t * invFreq[i];                          // inv_freq @ position_ids, float32
                cos[t * half + i] = (float) Math.cos(angle);
                sin[t * half + i] = (float) Math.sin(angle);
            }
        }
        return new Tables(positions, cos, sin);
    }
}
