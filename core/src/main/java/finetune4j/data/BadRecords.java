package finetune4j.data;

import finetune4j.ConfigException;
import finetune4j.InvalidDataException;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * What happens to an unusable record ({@code --on-bad-record fail|skip}): with {@link Policy#FAIL}
 * the first one stops everything (its {@link InvalidDataException} names {@code path:line}, the field
 * and the reason); with {@link Policy#SKIP} each is recorded here, counted and reported, never
 * dropped silently.
 */
public final class BadRecords {
    public enum Policy {
        FAIL, SKIP;

        public static Policy parse(String s) {
            return switch (s.trim().toLowerCase(java.util.Locale.ROOT)) {
                case "fail" -> FAIL;
                case "skip" -> SKIP;
                default -> throw new ConfigException("--on-bad-record", s, "fail or skip");
            };
        }
    }

    private final Policy policy;
    private final List<InvalidDataException> skipped = new ArrayList<>();

    public BadRecords(Policy policy) {
        this.policy = policy;
    }

    public Policy policy() {
        return policy;
    }

    /** Throws {@code e} (FAIL) or records it (SKIP). */
    public void report(InvalidDataException e) {
        if (policy == Policy.FAIL) throw e;
        synchronized (skipped) {
            skipped.add(e);
        }
    }

    /** The records skipped so far, in the order met. */
    public List<InvalidDataException> skipped() {
        synchronized (skipped) {
            return Collections.unmodifiableList(new ArrayList<>(skipped));
        }
    }

    public int count() {
        synchronized (skipped) {
            return skipped.size();
        }
    }
}
