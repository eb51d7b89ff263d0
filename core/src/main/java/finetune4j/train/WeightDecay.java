package finetune4j.train;

import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

import finetune4j.ConfigException;

/**
 * Weight decay rate and the parameters it skips.
 *
 * <p>The Hugging Face Trainer puts parameters whose lower-cased name matches any of
 * {@link #HF_NO_DECAY_PATTERNS} (biases and norm weights) into a param group with weight decay 0
 * ({@code transformers/trainer.py get_decay_parameter_names}, searched with {@code re.search});
 * {@link #hf(double)} reproduces that. Matching is a regex {@code find} on the lower-cased
 * parameter name, as there.
 *
 * @param rate            the decay coefficient (torch {@code weight_decay}); 0 disables decay
 * @param excludePatterns regexes; a parameter whose lower-cased name contains a match is not decayed
 */
public record WeightDecay(double rate, List<String> excludePatterns) {
    /** transformers 5.x {@code Trainer.get_decay_parameter_names} forbidden name patterns. */
    public static final List<String> HF_NO_DECAY_PATTERNS =
            List.of("bias", "layernorm", "rmsnorm", "(?:^|\\.)norm(?:$|\\.)", "_norm(?:$|\\.)");

    /** No weight decay at all. */
    public static final WeightDecay NONE = new WeightDecay(0.0, List.of());

    public WeightDecay {
        if (!(rate >= 0) || Double.isInfinite(rate)) throw new ConfigException("weight_decay", rate, "a finite number >= 0");
        excludePatterns = List.copyOf(excludePatterns);
        for (String p : excludePatterns) {
            try {
                Pattern.compile(p);
            } catch (PatternSyntaxException e) {
                throw new ConfigException("weight decay exclude pattern", p, "a valid regular expression (" + e.getDescription() + ")");
            }
        }
    }

    /** Decay {@code rate} on every parameter except biases and norm weights (Hugging Face Trainer). */
    public static WeightDecay hf(double rate) {
        return new WeightDecay(rate, HF_NO_DECAY_PATTERNS);
    }

    /** Decay {@code rate} on every parameter (a single torch param group). */
    public static WeightDecay all(double rate) {
        return new WeightDecay(rate, List.of());
    }

    /** The rate applied to {@code paramName}: {@link #rate()} or 0 when an exclude pattern matches. */
    public double rateFor(String paramName) {
        if (rate == 0) return 0;
        String lower = paramName.toLowerCase(Locale.ROOT);
        for (String p : excludePatterns) {
            if (Pattern.compile(p).matcher(lower).find()) return 0;
        }
        return rate;
    }
}
