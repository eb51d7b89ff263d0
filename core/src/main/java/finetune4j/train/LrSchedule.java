package finetune4j.train;

import finetune4j.ConfigException;

import java.util.Arrays;
import java.util.Locale;

/**
 * Learning rate as a function of the optimizer step, exactly transformers' {@code get_scheduler}
 * lambdas ({@code transformers/optimization.py}) times the base lr, in double:
 * <pre>
 *   constant              1                                        (warmup ignored, as get_scheduler does)
 *   constant_with_warmup  s &lt; w ? s / max(1, w) : 1
 *   linear                s &lt; w ? s / max(1, w) : max(0, (T − s) / max(1, T − w))
 *   cosine                s &lt; w ? s / max(1, w) : max(0, ½(1 + cos(π · 2·0.5 · (s − w) / max(1, T − w))))
 * </pre>
 * {@code s} is the number of optimizer steps already taken (the lr used by step {@code s+1}, as
 * {@code LambdaLR} stepped once per optimizer step gives it), {@code w} the warmup steps and
 * {@code T} the total steps. Cosine uses {@code num_cycles = 0.5}.
 *
 * @param kind         the schedule
 * @param baseLr       the peak learning rate (the optimizer's {@code lr})
 * @param warmupSteps  linear warmup from 0 over this many steps (ignored by {@link Kind#CONSTANT})
 * @param totalSteps   the run's optimizer steps (used by linear and cosine)
 */
public record LrSchedule(Kind kind, double baseLr, long warmupSteps, long totalSteps) {
    /** The schedules, named as transformers' {@code SchedulerType}. */
    public enum Kind {
        CONSTANT("constant"), CONSTANT_WITH_WARMUP("constant_with_warmup"), LINEAR("linear"), COSINE("cosine");

        private final String hfName;

        Kind(String hfName) {
            this.hfName = hfName;
        }

        /** The transformers / CLI name, e.g. {@code constant_with_warmup}. */
        public String hfName() {
            return hfName;
        }

        /**
         * Parses a transformers scheduler name (case-insensitive, {@code -} accepted for {@code _}).
         *
         * @throws ConfigException listing the names allowed
         */
        public static Kind parse(String name) {
            String n = name.trim().toLowerCase(Locale.ROOT).replace('-', '_');
            for (Kind k : values()) if (k.hfName.equals(n)) return k;
            throw new ConfigException("schedule", name, "one of " + Arrays.stream(values()).map(Kind::hfName).toList());
        }
    }

    public LrSchedule {
        if (kind == null) throw new IllegalArgumentException("kind is null");
        if (!(baseLr >= 0) || Double.isInfinite(baseLr)) throw new ConfigException("lr", baseLr, "a finite number >= 0");
        if (warmupSteps < 0) throw new ConfigException("warmup", warmupSteps, "a number of steps >= 0");
        if (totalSteps < 0) throw new ConfigException("steps", totalSteps, "a number of steps >= 0");
    }

    /** A constant learning rate. */
    public static LrSchedule constant(double lr) {
        return new LrSchedule(Kind.CONSTANT, lr, 0, 0);
    }

    /** The multiplier of {@link #baseLr()} before optimizer step {@code step + 1} (step 0 is the first). */
    public double factor(long step) {
        if (step < 0) throw new IllegalArgumentException("step must be >= 0, got " + step);
        if (kind == Kind.CONSTANT) return 1;
        if (step < warmupSteps) return (double) step / (double) Math.max(1, warmupSteps);
        return switch (kind) {
            case CONSTANT_WITH_WARMUP -> 1.0;
            case LINEAR -> Math.max(0.0, (double) (totalSteps - step) / (double) Math.max(1, totalSteps - warmupSteps));
            case COSINE -> {
                double progress = (double) (step - warmupSteps) / (double) Math.max(1, totalSteps - warmupSteps);
                yield Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * 0.5 * 2.0 * progress)));
            }
            case CONSTANT -> throw new AssertionError();
        };
    }

    /** The learning rate for optimizer step {@code step + 1}: {@code baseLr · factor(step)}. */
    public double lr(long step) {
        return baseLr * factor(step);
    }
}
