package finetune4j.generate;

import finetune4j.ConfigException;
import finetune4j.model.GenerationConfig;
import finetune4j.model.ModelConfig;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * How to decode: transformers' {@code generate()} parameters with their meaning unchanged.
 * Greedy when {@code doSample} is false or {@code temperature == 0} (the llama.cpp / llama2.c
 * convention; transformers rejects temperature 0). Build with {@link #builder()} or start from a
 * model's {@code generation_config.json} with {@link #defaults}.
 *
 * @param maxNewTokens      tokens to generate at most (the eos token counts), &gt; 0
 * @param doSample          sample from the warped distribution (else argmax)
 * @param temperature       &gt;= 0; 1 leaves the logits unchanged
 * @param topK              keep the k largest logits (ties with the k-th kept); 0 disables
 * @param topP              keep the smallest set of top tokens with probability ≥ topP; 1 disables
 * @param minP              drop tokens with probability &lt; minP · max probability; 0 disables
 * @param repetitionPenalty divide positive / multiply negative logits of tokens already present
 *                          (prompt included); 1 disables
 * @param seed              seed of the sampler's {@link SplittableRandom}
 * @param eosTokenIds       generation stops after any of these ids
 * @param stopStrings       generation stops once the generated text contains any of these
 *                          (needs a decoder, see {@link Generator#generate(int[], GenerationParams,
 *                          java.util.function.Function, TokenListener)})
 */
public record GenerationParams(int maxNewTokens, boolean doSample, double temperature, int topK, double topP,
                               double minP, double repetitionPenalty, long seed, List<Integer> eosTokenIds,
                               List<String> stopStrings) {
    public GenerationParams {
        eosTokenIds = List.copyOf(eosTokenIds);
        stopStrings = List.copyOf(stopStrings);
        if (maxNewTokens <= 0) throw new ConfigException("max_new_tokens", maxNewTokens, "an integer > 0");
        if (!(temperature >= 0) || Double.isInfinite(temperature)) {
            throw new ConfigException("temperature", temperature, "a number >= 0 (0 = greedy)");
        }
        if (topK < 0) throw new ConfigException("top_k", topK, "an integer >= 0 (0 disables)");
        if (!(topP > 0 && topP <= 1)) throw new ConfigException("top_p", topP, "a number in (0, 1] (1 disables)");
        if (!(minP >= 0 && minP <= 1)) throw new ConfigException("min_p", minP, "a number in [0, 1] (0 disables)");
        if (!(repetitionPenalty > 0) || Double.isInfinite(repetitionPenalty)) {
            throw new ConfigException("repetition_penalty", repetitionPenalty, "a number > 0 (1 disables)");
        }
        for (String s : stopStrings) {
            if (s.isEmpty()) throw new ConfigException("stop", "", "non-empty stop strings");
        }
    }

    /** True when tokens are chosen by argmax (after the repetition penalty). */
    public boolean greedy() {
        return !doSample || temperature == 0;
    }

    /** A builder with transformers' defaults (greedy, top_k 50, ...), 256 new tokens, no eos, a random seed. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * A builder holding a model's decoding defaults: {@code generation_config.json} values, eos ids
     * from it (else from {@code config.json}), {@code max_new_tokens} from it when set (else 256).
     */
    public static Builder defaults(GenerationConfig gen, ModelConfig model) {
        Builder b = new Builder()
                .doSample(gen.doSample()).temperature(gen.temperature()).topK(gen.topK()).topP(gen.topP())
                .minP(gen.minP()).repetitionPenalty(gen.repetitionPenalty())
                .eosTokenIds(!gen.eosTokenIds().isEmpty() ? gen.eosTokenIds() : model.eosTokenIds());
        if (gen.maxNewTokens() > 0) b.maxNewTokens(gen.maxNewTokens());
        return b;
    }

    /** A copy as a builder. */
    public Builder toBuilder() {
        return new Builder().maxNewTokens(maxNewTokens).doSample(doSample).temperature(temperature).topK(topK)
                .topP(topP).minP(minP).repetitionPenalty(repetitionPenalty).seed(seed).eosTokenIds(eosTokenIds)
                .stopStrings(stopStrings);
    }

    /** Mutable builder; {@link #build()} validates. */
    public static final class Builder {
        private int maxNewTokens = 256;
        private boolean doSample = false;
        private double temperature = 1.0;
        private int topK = 50;
        private double topP = 1.0;
        private double minP = 0.0;
        private double repetitionPenalty = 1.0;
        private long seed = new SplittableRandom().nextLong();
        private List<Integer> eosTokenIds = new ArrayList<>();
        private List<String> stopStrings = new ArrayList<>();

        private Builder() {
        }

        public Builder maxNewTokens(int v) {
            maxNewTokens = v;
            return this;
        }

        public Builder doSample(boolean v) {
            doSample = v;
            return this;
        }

        public Builder temperature(double v) {
            temperature = v;
            return this;
        }

        public Builder topK(int v) {
            topK = v;
            return this;
        }

        public Builder topP(double v) {
            topP = v;
            return this;
        }

        public Builder minP(double v) {
            minP = v;
            return this;
        }

        public Builder repetitionPenalty(double v) {
            repetitionPenalty = v;
            return this;
        }

        public Builder seed(long v) {
            seed = v;
            return this;
        }

        public Builder eosTokenIds(List<Integer> v) {
            eosTokenIds = new ArrayList<>(v);
            return this;
        }

        public Builder stopStrings(List<String> v) {
            stopStrings = new ArrayList<>(v);
            return this;
        }

        public GenerationParams build() {
            return new GenerationParams(maxNewTokens, doSample, temperature, topK, topP, minP, repetitionPenalty, seed,
                    eosTokenIds, stopStrings);
        }
    }
}
