package finetune4j.model;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Where the time of training steps goes: wall-clock nanoseconds per part of the step, summed over
 * layers and steps, measured by {@link LlamaModel#forwardBackward} when its buffers carry a
 * profile ({@link TrainingBuffers#profile(StepProfile)}). A linear part (e.g. {@link Part#QKV})
 * includes whatever its slots do: the base product and, under LoRA, the adapter's products and
 * dropout. Off by default; when on, it costs two {@code System.nanoTime()} calls per part.
 */
public final class StepProfile {
    /** The parts of a step, in step order. */
    public enum Part {
        EMBED("embedding lookup"),
        NORM("rmsnorm (input, post-attention)"),
        QKV("q, k, v projections"),
        ROPE("rope"),
        ATTENTION("attention"),
        O("o projection"),
        RESIDUAL("residual adds"),
        GATE_UP("gate, up projections"),
        SILU("silu·mul"),
        DOWN("down projection"),
        HEAD("head: norm, lm_head, cross-entropy, lm_head backward"),
        DOWN_BACK("down backward"),
        SILU_BACK("silu·mul backward (and its recompute)"),
        GATE_UP_BACK("gate, up backward"),
        NORM_BACK("rmsnorm backward (and ln recompute)"),
        ATTENTION_RECOMPUTE("attention recompute (probabilities)"),
        O_BACK("o backward"),
        ATTENTION_BACK("attention backward"),
        ROPE_BACK("rope backward"),
        QKV_BACK("q, k, v backward"),
        LAYER_RECOMPUTE("layer recompute (gradient checkpointing)"),
        EMBED_BACK("embedding backward");

        private final String label;

        Part(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }
    }

    final long[] nanos = new long[Part.values().length];

    /** Sets every part to zero. */
    public void reset() {
        Arrays.fill(nanos, 0);
    }

    /** Seconds per part, in step order (parts that never ran are left out). */
    public Map<Part, Double> seconds() {
        Map<Part, Double> out = new LinkedHashMap<>();
        for (Part p : Part.values()) if (nanos[p.ordinal()] > 0) out.put(p, nanos[p.ordinal()] / 1e9);
        return out;
    }

    /** One line per part: seconds, share of the profiled total, label; the largest first. */
    public String format(int steps) {
        long total = 0;
        for (long n : nanos) total += n;
        StringBuilder b = new StringBuilder();
        Part[] parts = Part.values().clone();
        Arrays.sort(parts, (x, y) -> Long.compare(nanos[y.ordinal()], nanos[x.ordinal()]));
        for (Part p : parts) {
            long n = nanos[p.ordinal()];
            if (n == 0) continue;
            b.append(String.format(Locale.ROOT, "  %7.3f s/step %5.1f%%  %s%n", n / 1e9 / Math.max(1, steps),
                    100.0 * n / total, p.label()));
        }
        return b.toString();
    }

    /** The start of a timed part: now, or 0 when not profiling. */
    static long start(StepProfile p) {
        return p == null ? 0 : System.nanoTime();
    }

    /** Adds the time since {@code t0} to {@code part}; returns now (the start of the next part). */
    static long add(StepProfile p, Part part, long t0) {
        if (p == null) return 0;
        long t = System.nanoTime();
        p.nanos[part.ordinal()] += t - t0;
        return t;
    }
}
