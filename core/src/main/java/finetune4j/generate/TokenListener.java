package finetune4j.generate;

/**
 * Receives each generated token as soon as it is chosen (streaming). Called on the generating
 * thread; keep it quick. {@link TextStreamer} turns ids into text deltas.
 */
@FunctionalInterface
public interface TokenListener {
    /**
     * @param tokenId the new token (an end-of-sequence id is reported too, as the last one)
     * @param index   0 for the first generated token
     */
    void onToken(int tokenId, int index);

    /** A listener that ignores everything. */
    static TokenListener none() {
        return (id, i) -> {
        };
    }
}
