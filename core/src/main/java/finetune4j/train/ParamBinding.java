package finetune4j.train;

import finetune4j.ModelFormatException;
import finetune4j.engine.tensor.NamedParam;
import finetune4j.internal.Messages;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The parameter list an optimizer is bound to, and its per-parameter state buffers
 * ({@code buffers[s][i]}: state {@code s} of parameter {@code i}, {@code numel(i)} floats),
 * allocated once on bind. Shared by {@link AdamW} and {@link Sgd}.
 */
final class ParamBinding {
    private final String[] stateNames;
    private String[] names;          // bound parameter names, in order
    private int[] sizes;             // their element counts
    float[][][] buffers;             // [state][param] -> (numel)

    ParamBinding(String... stateNames) {
        this.stateNames = stateNames.clone();
    }

    boolean isBound() {
        return names != null;
    }

    /** Binds on first use (allocating zeroed buffers), afterwards checks that {@code params} is the bound list. */
    void bindOrCheck(List<NamedParam> params) {
        if (names == null) {
            bind(params);
            return;
        }
        int n = params.size();
        if (n != names.length) {
            throw new IllegalArgumentException("optimizer is bound to " + names.length + " parameters, got " + n);
        }
        for (int i = 0; i < n; i++) {
            NamedParam p = params.get(i);
            if (!p.name().equals(names[i]) || p.numel() != sizes[i]) {
                throw new IllegalArgumentException("optimizer parameter " + i + " is bound to '" + names[i] + "' ("
                        + sizes[i] + " elements), got '" + p.name() + "' (" + p.numel() + ")");
            }
        }
    }

    private void bind(List<NamedParam> params) {
        int n = params.size();
        Set<String> seen = new TreeSet<>();
        names = new String[n];
        sizes = new int[n];
        for (int i = 0; i < n; i++) {
            NamedParam p = params.get(i);
            if (!seen.add(p.name())) throw new IllegalArgumentException("parameter '" + p.name() + "' is listed twice");
            names[i] = p.name();
            sizes[i] = p.numel();
        }
        buffers = new float[stateNames.length][n][];
        for (int s = 0; s < stateNames.length; s++) {
            for (int i = 0; i < n; i++) buffers[s][i] = new float[sizes[i]];
        }
    }

    /** Live views {@code <param>.<state>} → buffer, in parameter order. */
    Map<String, float[]> views() {
        Map<String, float[]> m = new LinkedHashMap<>();
        if (names == null) return m;
        for (int i = 0; i < names.length; i++) {
            for (int s = 0; s < stateNames.length; s++) m.put(names[i] + "." + stateNames[s], buffers[s][i]);
        }
        return m;
    }

    /** Copies {@code state.buffers()} into this binding (binding {@code params} first); every key must match. */
    void load(String type, OptimizerState state, List<NamedParam> params, String source) {
        if (!type.equals(state.type())) {
            throw new ModelFormatException(source, "optimizer state is for '" + state.type() + "', this run uses '" + type
                    + "' (hint: resume with the optimizer the checkpoint was written with)");
        }
        bindOrCheck(params);
        Map<String, float[]> in = state.buffers();
        List<String> missing = new ArrayList<>(), wrongSize = new ArrayList<>();
        Set<String> unexpected = new TreeSet<>(in.keySet());
        for (int i = 0; i < names.length; i++) {
            for (int s = 0; s < stateNames.length; s++) {
                String key = names[i] + "." + stateNames[s];
                float[] b = in.get(key);
                unexpected.remove(key);
                if (b == null) missing.add(key);
                else if (b.length != sizes[i]) wrongSize.add(key + " has " + b.length + " elements, expected " + sizes[i]);
            }
        }
        if (!missing.isEmpty() || !unexpected.isEmpty() || !wrongSize.isEmpty()) {
            StringBuilder sb = new StringBuilder("optimizer state does not match the trainable parameters:");
            if (!missing.isEmpty()) sb.append(" missing keys ").append(Messages.abbreviate(missing)).append(';');
            if (!unexpected.isEmpty()) sb.append(" unexpected keys ").append(Messages.abbreviate(unexpected)).append(';');
            if (!wrongSize.isEmpty()) sb.append(" wrong sizes ").append(Messages.abbreviate(wrongSize)).append(';');
            sb.append(" (hint: the checkpoint was written for another adapter configuration)");
            throw new ModelFormatException(source, sb.toString());
        }
        for (int i = 0; i < names.length; i++) {
            for (int s = 0; s < stateNames.length; s++) {
                float[] b = in.get(names[i] + "." + stateNames[s]);
                if (b != buffers[s][i]) System.arraycopy(b, 0, buffers[s][i], 0, sizes[i]);
            }
        }
    }
}
