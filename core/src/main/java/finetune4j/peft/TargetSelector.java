package finetune4j.peft;

import finetune4j.ConfigException;
import finetune4j.peft.LoraConfig.Targets;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Resolves a spec's {@code target_modules} / {@code exclude_modules} against a model's
 * linear-module names, as PEFT 0.21's {@code check_target_module_exists} and
 * {@code _maybe_include_all_linear_layers} do:
 * <ul>
 *   <li>names: a module is targeted when its full name equals an entry or ends with
 *       {@code "." + entry} ({@code "q_proj"} and {@code "self_attn.q_proj"} match
 *       {@code model.layers.0.self_attn.q_proj}; {@code "proj"} matches nothing);</li>
 *   <li>a regex must match the whole name ({@code re.fullmatch});</li>
 *   <li>{@code all-linear}: every linear layer except the output head {@code lm_head};</li>
 *   <li>unset: PEFT's Llama default {@code ["q_proj", "v_proj"]};</li>
 *   <li>{@code layers_to_transform} / {@code layers_pattern} restrict a name list to some layers;</li>
 *   <li>excluded modules (same name / regex rules) are never targeted.</li>
 * </ul>
 * When nothing is targeted a {@link ConfigException} lists the modules that exist. In strict
 * mode (new adapters) each entry of a name list must match at least one module, so a typo beside
 * a valid name ({@code q_proj,v_porj}) is an error instead of a silently smaller adapter; PEFT
 * (and the lenient mode used for adapter files) only fails when the whole list matches nothing.
 */
final class TargetSelector {
    private static final Pattern LAYER = Pattern.compile("model\\.layers\\.(\\d+)\\.(.+)");

    private TargetSelector() {
    }

    /**
     * The targeted module names, in model order.
     *
     * @param modules every linear module name of the model, in model order
     * @param head    the output head's name ({@code lm_head}), left out by {@code all-linear}
     * @param strict  every entry of a name list must match (else PEFT's rule: the list as a whole)
     */
    static List<String> select(List<String> modules, LoraSpec spec, String head, boolean strict) {
        Targets targets = spec.targets() instanceof Targets.Unset
                ? new Targets.Names(LoraConfig.LLAMA_DEFAULT_TARGETS) : spec.targets();
        List<String> matched = new ArrayList<>();
        switch (targets) {
            case Targets.AllLinear a -> {
                for (String m : modules) if (!m.equals(head)) matched.add(m);
            }
            case Targets.Regex(String p) -> {
                Pattern re = LoraConfig.compile("target_modules", p);
                for (String m : modules) if (re.matcher(m).matches()) matched.add(m);
                if (matched.isEmpty()) {
                    throw new ConfigException("target_modules", p, "a regex matching whole module names; it matches none of "
                            + describe(modules) + " (hint: the regex must match the full name, e.g. '.*\\.q_proj')");
                }
            }
            case Targets.Names(List<String> names) -> {
                for (String m : modules) {
                    if (names.stream().anyMatch(t -> matchesName(m, t)) && inLayers(spec, m)) matched.add(m);
                }
                Set<String> unmatched = new LinkedHashSet<>();
                for (String t : names) if (modules.stream().noneMatch(m -> matchesName(m, t))) unmatched.add(t);
                if (!unmatched.isEmpty() && (strict || matched.isEmpty())) {
                    throw new ConfigException("target_modules", names, "names of linear modules; " + unmatched
                            + " match" + (unmatched.size() == 1 ? "es" : "") + " none of " + describe(modules)
                            + " (a name matches a module equal to it or ending in '.' + name, e.g. 'q_proj' or 'self_attn.q_proj')");
                }
            }
            case Targets.Unset u -> throw new IllegalStateException("unreachable");
        }
        List<String> out = new ArrayList<>();
        for (String m : matched) if (!excluded(spec.exclude(), m)) out.add(m);
        if (out.isEmpty()) {
            throw new ConfigException("exclude_modules", excludeText(spec.exclude()), "exclusions that leave some targeted module; "
                    + "all of " + matched + " are excluded");
        }
        return out;
    }

    /**
     * PEFT's {@code layers_to_transform} filter for name-list targets: the layer index is the first
     * {@code .<digits>.} after {@code <layers_pattern>} (or, without a pattern, after the second
     * dotted segment), and must be one of the listed indices.
     */
    static boolean inLayers(LoraSpec spec, String module) {
        if (spec.layersToTransform().isEmpty()) return true;
        String index = null;
        if (spec.layersPattern().isEmpty()) {
            Matcher m = Pattern.compile(".*?\\.[^.]*\\.(?<idx>\\d+)\\.").matcher(module);
            if (m.lookingAt()) index = m.group("idx");
        } else {
            for (String p : spec.layersPattern()) {
                Matcher m = LoraConfig.compile("layers_pattern", "(?:^|.*?\\.)" + p + "\\.(?<idx>\\d+)\\.").matcher(module);
                if (m.lookingAt()) {
                    index = m.group("idx");
                    break;
                }
            }
        }
        return index != null && spec.layersToTransform().contains(Integer.parseInt(index));
    }

    /** PEFT: {@code key in target_modules or key.endswith("." + target)}. */
    static boolean matchesName(String module, String target) {
        return module.equals(target) || module.endsWith("." + target);
    }

    private static boolean excluded(Targets exclude, String module) {
        return switch (exclude) {
            case Targets.Names(List<String> names) -> names.stream().anyMatch(t -> matchesName(module, t));
            case Targets.Regex(String p) -> LoraConfig.compile("exclude_modules", p).matcher(module).matches();
            default -> false;
        };
    }

    private static Object excludeText(Targets exclude) {
        return switch (exclude) {
            case Targets.Names(List<String> names) -> names;
            case Targets.Regex(String p) -> p;
            default -> null;
        };
    }

    /**
     * A compact list of module names: {@code [model.layers.{0..31}.{self_attn.q_proj, ...}, lm_head]}.
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
