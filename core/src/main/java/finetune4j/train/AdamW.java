package finetune4j.train;

import finetune4j.ConfigException;
import finetune4j.engine.tensor.NamedParam;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * AdamW with exactly the arithmetic of {@code torch.optim.AdamW} (non-fused, non-foreach, no
 * amsgrad: {@code torch/optim/adam.py _single_tensor_adam} with {@code decoupled_weight_decay=True};
 * Loshchilov &amp; Hutter, <a href="https://arxiv.org/abs/1711.05101">arXiv:1711.05101</a>).
 * For step {@code t} (1-based), per element, in float32 unless noted:
 * <pre>
 *   p  ← p · (float)(1 − lr·wd)                 decoupled decay first (skipped when wd = 0)
 *   m  ← lerp(m, g, (float)(1 − β1))            torch lerp_: fma(w, g − m, m) for w &lt; 0.5
 *   v  ← fma((float)(1 − β2)·g, g, v·(float)β2)  mul_(β2).addcmul_(g, g, 1 − β2)
 *   bc1 = 1 − β1^t,  bc2 = 1 − β2^t              (double)
 *   denom = sqrt(v) / (float)sqrt(bc2) + (float)eps
 *   p  ← p + ((float)(−lr/bc1) · m) / denom     addcdiv_(m, denom, value = −lr/bc1)
 * </pre>
 * The fused multiply-adds are where torch's CPU kernels (Vectorized {@code lerp}, and
 * {@code addcmul} as compiled) round once; with them this class reproduces torch 2.13's parameter
 * and moment trajectories bit for bit (OptimGoldenTest). The moments are torch's {@code exp_avg}
 * and {@code exp_avg_sq}.
 *
 * <p>Weight decay is per parameter through {@link WeightDecay} (e.g. the Hugging Face Trainer's
 * exclusion of biases and norm weights, which torch expresses as a second param group with
 * {@code weight_decay=0}).
 */
public final class AdamW implements Optimizer {
    private final Config config;
    private final WeightDecay weightDecay;
    private final ParamBinding binding = new ParamBinding("exp_avg", "exp_avg_sq");
    private double[] decay;          // per bound parameter: weight decay rate after exclusions
    private long steps;

    /**
     * torch AdamW hyperparameters besides lr and weight decay.
     *
     * @param beta1 decay of the first moment, in [0, 1)
     * @param beta2 decay of the second moment, in [0, 1)
     * @param eps   added to the denominator, &gt;= 0
     */
    public record Config(double beta1, double beta2, double eps) {
        public Config {
            if (!(beta1 >= 0 && beta1 < 1)) throw new ConfigException("adam beta1", beta1, "a number in [0, 1)");
            if (!(beta2 >= 0 && beta2 < 1)) throw new ConfigException("adam beta2", beta2, "a number in [0, 1)");
            if (!(eps >= 0) || Double.isInfinite(eps)) throw new ConfigException("adam epsilon", eps, "a finite number >= 0");
        }

        /** torch's defaults: betas (0.9, 0.999), eps 1e-8 (also the Hugging Face Trainer's). */
        public static Config defaults() {
            return new Config(0.9, 0.999, 1e-8);
        }
    }

    public AdamW(Config config, WeightDecay weightDecay) {
        this.config = config;
        this.weightDecay = weightDecay;
    }

    public Config config() {
        return config;
    }

    public WeightDecay weightDecay() {
        return weightDecay;
    }

    @Override
    public String type() {
        return "adamw";
    }

    @Override
    public long steps() {
        return steps;
    }

    private void bind(List<NamedParam> params) {
        boolean fresh = !binding.isBound();
        binding.bindOrCheck(params);
        if (fresh) {
            decay = new double[params.size()];
            for (int i = 0; i < decay.length; i++) decay[i] = weightDecay.rateFor(params.get(i).name());
        }
    }

    @Override
    public void step(List<NamedParam> params, double lr) {
        if (!(lr >= 0) || Double.isInfinite(lr)) throw new IllegalArgumentException("lr must be a finite number >= 0, got " + lr);
        bind(params);
        long t = ++steps;
        final double beta1 = config.beta1(), beta2 = config.beta2();
        final double bc1 = 1 - StrictMath.pow(beta1, t);
        final double bc2 = 1 - StrictMath.pow(beta2, t);
        final float stepSizeNeg = (float) -(lr / bc1);
        final float bc2Sqrt = (float) Math.sqrt(bc2);
        final float eps = (float) config.eps();
        final float w1 = (float) (1 - beta1);              // lerp weight
        final boolean smallWeight = Math.abs(w1) < 0.5f;   // torch is_lerp_weight_small
        final float w1m1 = w1 - 1f;
        final float b2 = (float) beta2;
        final float c2 = (float) (1 - beta2);
        float[][] ms = binding.buffers[0], vs = binding.buffers[1];
        for (int i = 0, n = params.size(); i < n; i++) {
            NamedParam p = params.get(i);
            float[] x = p.data(), g = p.grad(), m = ms[i], v = vs[i];
            boolean decays = decay[i] != 0;
            float mul = (float) (1 - lr * decay[i]);
            for (int j = 0; j < x.length; j++) {
                float xj = decays ? x[j] * mul : x[j];
                float gj = g[j];
                float mj = m[j];
                mj = smallWeight ? Math.fma(w1, gj - mj, mj) : Math.fma(w1m1, gj - mj, gj);
                float vj = Math.fma(c2 * gj, gj, v[j] * b2);
                m[j] = mj;
                v[j] = vj;
                float denom = (float) Math.sqrt(vj) / bc2Sqrt + eps;
                x[j] = xj + (stepSizeNeg * mj) / denom;
            }
        }
    }

    @Override
    public OptimizerState state(List<NamedParam> params) {
        bind(params);
        return new OptimizerState(type(), steps, settings(), binding.views());
    }

    private Map<String, String> settings() {
        Map<String, String> s = new LinkedHashMap<>();
        s.put("beta1", Double.toString(config.beta1()));
        s.put("beta2", Double.toString(config.beta2()));
        s.put("eps", Double.toString(config.eps()));
        s.put("weight_decay", Double.toString(weightDecay.rate()));
        s.put("no_decay_patterns", String.join(" ", weightDecay.excludePatterns()));
        return s;
    }

    @Override
    public void load(OptimizerState state, List<NamedParam> params, String source) {
        bind(params);
        binding.load(type(), state, params, source);
        steps = state.step();
    }
}
