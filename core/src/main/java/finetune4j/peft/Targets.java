package finetune4j.peft;

import finetune4j.ConfigException;

import java.util.List;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Which linear layers a LoRA adapter wraps: PEFT's {@code target_modules}, in its three forms
 * ({@code tuners_utils.check_target_module_exists}, {@code _maybe_include_all_linear_layers}).
 *
 * <ul>
 *   <li>{@link Names}: a list; a module is targeted when its full name equals an entry or ends
 *       with {@code "." + entry} ({@code "q_proj"} matches {@code model.layers.0.self_attn.q_proj},
 *       {@code "self_attn.q_proj"} too, {@code "proj"} matches nothing).</li>
 *   <li>{@link Regex}: a single string other than {@code all-linear}; a module is targeted when
 *       the regex matches its whole name ({@code re.fullmatch}; Java's {@link java.util.regex}
 *       agrees with Python's {@code re} on the usual syntax).</li>
 *   <li>{@link AllLinear}: every linear layer except the output head {@code lm_head}.</li>
 * </ul>
 */
public sealed interface Targets {
    /** {@code target_modules: ["q_proj", "v_proj"]}. */
    record Names(List<String> names) implements Targets {
        public Names {
            if (names == null || names.isEmpty()) {
                throw new ConfigException("target_modules", names, "a non-empty list of module names, a regex, or 'all-linear'");
            }
            for (String n : names) {
                if (n == null || n.isBlank()) {
                    throw new ConfigException("target_modules", names, "module names without empty entries");
                }
            }
            names = List.copyOf(names);
        }
    }

    /** {@code target_modules: ".*\\.(q_proj|v_proj)"}: matched against the whole module name. */
    record Regex(String pattern) implements Targets {
        public Regex {
            compile(pattern);
        }

        /** The compiled pattern (matched with {@link java.util.regex.Matcher#matches()}, i.e. fullmatch). */
        public Pattern compiled() {
            return compile(pattern);
        }

        private static Pattern compile(String p) {
            if (p == null || p.isEmpty()) {
                throw new ConfigException("target_modules", p, "a non-empty regular expression, a list of names, or 'all-linear'");
            }
            try {
                return Pattern.compile(p);
            } catch (PatternSyntaxException e) {
                throw new ConfigException("target_modules", p, "a valid regular expression (" + e.getDescription() + ")");
            }
        }
    }

    /** {@code target_modules: "all-linear"}: every linear layer but {@code lm_head}. */
    record AllLinear() implements Targets {
    }

    static Targets names(String... names) {
        return new Names(List.of(names));
    }

    static Targets regex(String pattern) {
        return new Regex(pattern);
    }

    static Targets allLinear() {
        return new AllLinear();
    }

    /**
     * PEFT's reading of a {@code target_modules} string: {@code "all-linear"} (any case) or a regex.
     */
    static Targets ofString(String s) {
        return s.equalsIgnoreCase("all-linear") ? new AllLinear() : new Regex(s);
    }
}
