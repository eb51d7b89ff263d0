package finetune4j.peft;

import finetune4j.ConfigException;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Resolves {@link Targets} against a model's linear-module names, as PEFT's
 * {@code check_target_module_exists} and {@code _maybe_include_all_linear_layers} do, and fails
 * with a {@link ConfigException} that lists what exists when something matches nothing.
 *
 * <p>One deliberate difference: PEFT only fails when the whole list matches nothing; here each
 * entry of a name list must match at least one module, so a typo next to a valid name
 * ({@code q_proj,v_porj}) is an error instead of a silently smaller adapter.
 */
final class TargetSelector {
    private static final Pattern LAYER = Pattern.compile("model\\.layers\\.(\\d+)\\.(.+)");

    private TargetSelector() {
    }

    /**
     * The targeted module names, in model order.
     *
     * @param modules every linear module name of the model, in model order
     * @param head    the output head's name ({@code lm_head}), excluded by {@code all-linear}
     */
    static List<String> select(List<String> modules, Targets targets, String head) {
        List<String> out = new ArrayList<>();
        switch (targets) {
            case Targets.AllLinear ignored -> {
                for (String m : modules) if (!m.equals(head)) out.add(m);
            }
            case Targets.Regex re -> {
                Pattern p = re.compiled();
                for (String m : modules) if (p.matcher(m).matches()) out.add(m);
                if (out.isEmpty()) {
                    throw new ConfigException("target_modules", re.pattern(), "a regex matching a whole module name; it matches none of "
                            + describe(modules) + " (hint: the regex must match the full name, e.g. '.*\\.q_proj')");
                }
            }
            case Targets.Names names -> {
                for (String m : modules) {
                    if (names.names().stream().anyMatch(t -> matchesName(m, t))) out.add(m);
                }
                Set<String> unmatched = new LinkedHashSet<>();
                for (String t : names.names()) {
                    if (modules.stream().noneMatch(m -> matchesName(m, t))) unmatched.add(t);
                }
                if (!unmatched.isEmpty()) {
                    throw new ConfigException("target_modules", names.names(), "names of linear modules; " + unmatched
                            + " match" + (unmatched.size() == 1 ? "es" : "") + " none of " + describe(modules)
                            + " (a name matches a module equal to it or ending in '.' + name, e.g. 'q_proj' or 'self_attn.q_proj')");
                }
            }
        }
        return out;
    }

    /** PEFT: {@code key in target_modules or key.endswith("." + target)}. */
    static boolean matchesName(String module, String target) {
        return module.equals(target) || module.endsWith("." + target);
    }

    /**
     * A compact list of module names: {@code model.layers.{0..31}.{self_attn.q_proj, ...}, lm_head}.
     */
    static String describe(List<String> modules) {
        Set<String> suffixes = new LinkedHashSet<>();
        TreeSet<Integer> layers = new TreeSet<>();
        List<String> other = new ArrayList<>();
        for (String m : modules) {
            Matcher mm = LAYER.matcher(m);
            if (mm.matches()) {
                layers.add(Integer.parseInt(mm.group(1)));
                suffixes.add(mm.group(2));
            } else {
                other.add(m);
            }
        }
        StringBuilder sb = new StringBuilder("[");
        if (!layers.isEmpty()) {
            sb.append("model.layers.{").append(layers.first()).append("..").append(layers.last()).append("}.{")
                    .append(String.join(", ", suffixes)).append('}');
        }
        for (String o : other) sb.append(sb.length() > 1 ? ", " : "").append(o);
        return sb.append(']').toString();
    }
}
