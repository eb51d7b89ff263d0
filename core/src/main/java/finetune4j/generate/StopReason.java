package finetune4j.generate;

/** Why generation ended. */
public enum StopReason {
    /** The model produced one of the end-of-sequence ids (the id is the last generated token). */
    EOS("eos"),
    /** {@code max_new_tokens} tokens were generated. */
    LENGTH("length"),
    /** The decoded text of the generated tokens contains a stop string. */
    STOP("stop");

    private final String label;

    StopReason(String label) {
        this.label = label;
    }

    /** "eos", "length" or "stop" (as OpenAI-style APIs and the CLI report it). */
    public String label() {
        return label;
    }
}
