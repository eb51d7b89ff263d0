package finetune4j.data;

import finetune4j.ConfigException;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * How records are read: the format (null: detected per record), key renames applied to each record
 * before detection ({@code --map old=new}, e.g. {@code question=instruction}), and the
 * OpenAssistant thread options.
 *
 * @param format  the format every record must have, or null to detect it from each record's keys
 * @param renames top-level keys to rename, {@code old → new}, applied in order
 * @param oasst   how OpenAssistant trees become conversations
 */
public record DataOptions(DataFormat format, Map<String, String> renames, OasstOptions oasst) {
    public static final DataOptions DEFAULT = new DataOptions(null, Map.of(), OasstOptions.DEFAULT);

    public DataOptions {
        renames = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(renames));
        if (oasst == null) oasst = OasstOptions.DEFAULT;
    }

    /**
     * Options for OpenAssistant trees.
     *
     * @param allThreads    every root-to-leaf thread (true), or only the best-ranked reply chain (false)
     * @param keepDeleted   keep messages flagged {@code deleted} (else they and their replies are dropped)
     * @param keepSynthetic keep messages flagged {@code synthetic} (model-written)
     * @param langs         keep only messages whose {@code lang} is in this set (empty: all)
     */
    public record OasstOptions(boolean allThreads, boolean keepDeleted, boolean keepSynthetic, Set<String> langs) {
        public static final OasstOptions DEFAULT = new OasstOptions(false, false, true, Set.of());

        public OasstOptions {
            langs = Set.copyOf(langs);
        }
    }

    /** Parses {@code old=new} pairs (the values of {@code --map}). */
    public static Map<String, String> parseRenames(Iterable<String> pairs) {
        Map<String, String> out = new LinkedHashMap<>();
        if (pairs == null) return out;
        for (String p : pairs) {
            int eq = p.indexOf('=');
            if (eq <= 0 || eq == p.length() - 1) {
                throw new ConfigException("--map", p, "OLD=NEW, a record key and the key it stands for (e.g. question=instruction)");
            }
            out.put(p.substring(0, eq).trim(), p.substring(eq + 1).trim());
        }
        return out;
    }
}
