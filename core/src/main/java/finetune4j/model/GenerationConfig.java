package finetune4j.model;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import finetune4j.ConfigException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Decoding defaults shipped with a model in {@code generation_config.json} (optional file).
 * Absent keys take transformers' {@code GenerationConfig} defaults: greedy ({@code do_sample =
 * false}), {@code temperature = 1}, {@code top_k = 50}, {@code top_p = 1}, no {@code min_p},
 * {@code repetition_penalty = 1}.
 *
 * @param bosTokenId        {@code bos_token_id}, -1 when absent
 * @param eosTokenIds       {@code eos_token_id} (int or list; generation stops on any), possibly empty
 * @param padTokenId        {@code pad_token_id}, -1 when absent
 * @param doSample          sample (true) or take the argmax (false)
 * @param temperature       &gt; 0
 * @param topK              0 disables
 * @param topP              in (0, 1]; 1 disables
 * @param minP              in [0, 1]; 0 disables
 * @param repetitionPenalty &gt; 0; 1 disables
 * @param maxNewTokens      {@code max_new_tokens}, -1 when absent
 * @param maxLength         {@code max_length} (prompt + new tokens), -1 when absent
 */
public record GenerationConfig(int bosTokenId, List<Integer> eosTokenIds, int padTokenId, boolean doSample,
                               double temperature, int topK, double topP, double minP, double repetitionPenalty,
                               int maxNewTokens, int maxLength) {
    public GenerationConfig {
        eosTokenIds = List.copyOf(eosTokenIds);
        if (!(temperature > 0)) throw new ConfigException("temperature", temperature, "a number > 0 (use do_sample = false for greedy)");
        if (topK < 0) throw new ConfigException("top_k", topK, "an integer >= 0 (0 disables)");
        if (!(topP > 0 && topP <= 1)) throw new ConfigException("top_p", topP, "a number in (0, 1]");
        if (!(minP >= 0 && minP <= 1)) throw new ConfigException("min_p", minP, "a number in [0, 1]");
        if (!(repetitionPenalty > 0)) throw new ConfigException("repetition_penalty", repetitionPenalty, "a number > 0");
    }

    /** transformers' defaults, with no special tokens. */
    public static GenerationConfig defaults() {
        return new GenerationConfig(-1, List.of(), -1, false, 1.0, 50, 1.0, 0.0, 1.0, -1, -1);
    }

    /** Reads {@code dir/generation_config.json}, or returns {@link #defaults()} when the file is absent. */
    public static GenerationConfig load(Path dir) {
        Path p = dir.resolve("generation_config.json");
        if (!Files.exists(p)) return defaults();
        return from(ConfigJson.read(p));
    }

    /** Parses generation_config.json text; {@code file} names it in errors. */
    public static GenerationConfig parse(String file, String json) {
        return from(ConfigJson.parse(file, json));
    }

    private static GenerationConfig from(ConfigJson j) {
        try {
            List<Integer> bos = j.optInts("bos_token_id");
            List<Integer> pad = j.optInts("pad_token_id");
            return new GenerationConfig(bos.isEmpty() ? -1 : bos.getFirst(), j.optInts("eos_token_id"),
                    pad.isEmpty() ? -1 : pad.getFirst(), j.optBool("do_sample", false),
                    j.optDouble("temperature", 1.0), j.optInt("top_k", 50), j.optDouble("top_p", 1.0),
                    j.optDouble("min_p", 0.0), j.optDouble("repetition_penalty", 1.0),
                    j.optInt("max_new_tokens", -1), j.optInt("max_length", -1));
        } catch (ConfigException e) {
            throw new ConfigException(j.file() + ": " + e.getMessage());
        }
    }

    /** As transformers writes it (only the keys that differ from the defaults, plus token ids). */
    public ObjectNode toJson() {
        ObjectNode n = ConfigJson.MAPPER.createObjectNode();
        if (bosTokenId >= 0) n.put("bos_token_id", bosTokenId);
        if (eosTokenIds.size() == 1) {
            n.put("eos_token_id", eosTokenIds.getFirst());
        } else if (!eosTokenIds.isEmpty()) {
            ArrayNode a = n.putArray("eos_token_id");
            eosTokenIds.forEach(a::add);
        }
        if (padTokenId >= 0) n.put("pad_token_id", padTokenId);
        if (doSample) n.put("do_sample", true);
        if (temperature != 1.0) n.put("temperature", temperature);
        if (topK != 50) n.put("top_k", topK);
        if (topP != 1.0) n.put("top_p", topP);
        if (minP != 0.0) n.put("min_p", minP);
        if (repetitionPenalty != 1.0) n.put("repetition_penalty", repetitionPenalty);
        if (maxNewTokens >= 0) n.put("max_new_tokens", maxNewTokens);
        if (maxLength >= 0) n.put("max_length", maxLength);
        return n;
    }

    /** Writes {@code dir/generation_config.json} (sorted keys, indent 2, via a temporary file). */
    public void write(Path dir) {
        ConfigJson.write(dir.resolve("generation_config.json"), toJson());
    }
}
