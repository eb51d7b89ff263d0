package finetune4j.train;

import finetune4j.ConfigException;
import finetune4j.engine.tensor.NamedParam;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Stochastic gradient descent with exactly the arithmetic of {@code torch.optim.SGD}
 * ({@code torch/optim/sgd.py _single_tensor_sgd}), per element in float32:
 * <pre>
 *   g ← fma(p, (float)wd, g)                               grad.add(p, alpha=wd), when wd ≠ 0
 *   b ← g on the first step, else fma(g, (float)(1 − dampening), b·(float)μ)   when μ ≠ 0
 *   g ← nesterov ? fma(b, (float)μ, g) : b
 *   p ← fma(g, (float)(−lr), p)                            p.add_(g, alpha=−lr)
 * </pre>
 * (torch's CPU {@code add} with {@code alpha} is a fused multiply-add.) The buffer is torch's
 * {@code momentum_buffer}; the gradient arrays are left unchanged. Reproduces torch 2.13 bit for
 * bit (OptimGoldenTest).
 */
public final class Sgd implements Optimizer {
    private final Config config;
    private final WeightDecay weightDecay;
    private final ParamBinding binding;
    private float[] decay;           // per bound parameter: (float) weight decay after exclusions
    private long steps;

    /**
     * torch SGD hyperparameters besides lr and weight decay.
     *
     * @param momentum  μ &gt;= 0 (0 = plain SGD, no buffer)
     * @param dampening applied to the gradient in the momentum update, after the first step
     * @param nesterov  Nesterov momentum (needs μ &gt; 0 and dampening 0, as in torch)
     */
    public record Config(double momentum, double dampening, boolean nesterov) {
        public Config {
            if (!(momentum >= 0) || Double.isInfinite(momentum)) throw new ConfigException("sgd momentum", momentum, "a finite number >= 0");
            if (Double.isNaN(dampening) || Double.isInfinite(dampening)) throw new ConfigException("sgd dampening", dampening, "a finite number");
            if (nesterov && (momentum <= 0 || dampening != 0)) {
                throw new ConfigException("Nesterov momentum requires a momentum > 0 and zero dampening (got momentum "
                        + momentum + ", dampening " + dampening + ")");
            }
        }

        /** Plain SGD: no momentum. */
        public static Config plain() {
            return new Config(0, 0, false);
        }
    }

    public Sgd(Config config, WeightDecay weightDecay) {
        this.config = config;
        this.weightDecay = weightDecay;
        this.binding = config.momentum() != 0 ? new ParamBinding("momentum_buffer") : new ParamBinding();
    }

    public Config config() {
        return config;
    }

    @Override
    public String type() {
        return "sgd";
    }

    @Override
    public long steps() {
        return steps;
    }

    private void bind(List<NamedParam> params) {
        boolean fresh = !binding.isBound();
        binding.bindOrCheck(params);
        if (fresh) {
            decay = new float[params.size()];
            for (int i = 0; i < decay.length; i++) decay[i] = (float) weightDecay.rateFor(params.get(i).name());
        }
    }

    @Override
    public void step(List<NamedParam> params, double lr) {
        if (!(lr >= 0) || Double.isInfinite(lr)) throw new IllegalArgumentException("lr must be a finite number >= 0, got " + lr);
        bind(params);
        final boolean momentum = config.momentum() != 0;
        final boolean first = steps == 0;
        final float mu = (float) config.momentum();
        final float keep = (float) (1 - config.dampening());
        final boolean nesterov = config.nesterov();
        final float negLr = (float) -lr;
        for (int i = 0, n = params.size(); i < n; i++) {
            NamedParam p = params.get(i);
            float[] x = p.data(), g = p.grad();
            float[] b = momentum ? binding.buffers[0][i] : null;
            float wd = decay[i];
            for (int j = 0; j < x.length; j++) {
                float gj = wd != 0 ? Math.fma(x[j], wd, g[j]) : g[j];
                if (momentum) {
                    float bj = first ? gj : Math.fma(gj, keep, b[j] * mu);
                    b[j] = bj;
                    gj = nesterov ? Math.fma(bj, mu, gj) : bj;
                }
                x[j] = Math.fma(gj, negLr, x[j]);
            }
        }
        steps++;
    }

    @Override
    public OptimizerState state(List<NamedParam> params) {
        bind(params);
        Map<String, String> s = new LinkedHashMap<>();
        s.put("momentum", Double.toString(config.momentum()));
        s.put("dampening", Double.toString(config.dampening()));
        s.put("nesterov", Boolean.toString(config.nesterov()));
        s.put("weight_decay", Double.toString(weightDecay.rate()));
        s.put("no_decay_patterns", String.join(" ", weightDecay.excludePatterns()));
        return new OptimizerState(type(), steps, s, binding.views());
    }

    @Override
    public void load(OptimizerState state, List<NamedParam> params, String source) {
        bind(params);
        binding.load(type(), state, params, source);
        steps = state.step();
    }
}
