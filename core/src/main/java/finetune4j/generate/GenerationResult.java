package finetune4j.generate;

/**
 * The outcome of {@link Generator#generate}.
 *
 * @param promptIds    the prompt as given
 * @param generatedIds the new tokens, in order; ends with the eos id when {@code stopReason} is EOS
 * @param stopReason   why generation ended
 * @param stopString   the stop string found (reason STOP), else null
 * @param seed         the seed the sampler used (reproduces a sampled run)
 * @param prefillNanos wall time of the prompt pass
 * @param decodeNanos  wall time of the token-by-token passes (and sampling)
 */
public record GenerationResult(int[] promptIds, int[] generatedIds, StopReason stopReason, String stopString,
                               long seed, long prefillNanos, long decodeNanos) {

    /** Prompt tokens per second of the prefill. */
    public double prefillTokensPerSecond() {
        return prefillNanos == 0 ? 0 : promptIds.length * 1e9 / prefillNanos;
    }

    /**
     * Generated tokens per second after the first one (the first comes out of the prefill, the
     * others each cost one decode step).
     */
    public double decodeTokensPerSecond() {
        int steps = generatedIds.length - 1;
        return steps <= 0 || decodeNanos == 0 ? 0 : steps * 1e9 / decodeNanos;
    }
}
