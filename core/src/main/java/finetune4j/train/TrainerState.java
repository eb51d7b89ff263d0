package finetune4j.train;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Everything besides weights and optimizer moments that a resumed run needs to continue exactly
 * where the interrupted one stopped; saved as {@code trainer_state.json} in a checkpoint.
 *
 * @param step       optimizer steps done
 * @param lr         the learning rate of the last step (for the record; the schedule recomputes it)
 * @param rng        named random generator states (e.g. {@code "dropout"}), each as its state words
 * @param data       where the data iterator stands
 * @param configHash hash of the settings that must not change across a resume ({@link Checkpoint#hash})
 * @param tokensSeen tokens processed so far
 * @param elapsedS   training seconds so far
 */
public record TrainerState(long step, double lr, Map<String, long[]> rng, DataPosition data, String configHash,
                           long tokensSeen, double elapsedS) {
    public TrainerState {
        if (step < 0) throw new IllegalArgumentException("step must be >= 0, got " + step);
        Map<String, long[]> r = new LinkedHashMap<>();
        rng.forEach((k, v) -> r.put(k, v.clone()));
        rng = Collections.unmodifiableMap(r);
        if (data == null) throw new IllegalArgumentException("data position is null");
        if (configHash == null) configHash = "";
    }

    /**
     * The data iterator's position: the next batch is batch {@code index} of epoch {@code epoch}
     * in the order given by {@code shuffleSeed}.
     *
     * @param epoch       0-based epoch
     * @param index       next position within the epoch (records or batches, as the iterator counts)
     * @param shuffleSeed the seed the epoch's order was drawn with
     */
    public record DataPosition(long epoch, long index, long shuffleSeed) {
        public DataPosition {
            if (epoch < 0 || index < 0) throw new IllegalArgumentException("epoch and index must be >= 0, got " + epoch + ", " + index);
        }
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof TrainerState t) || t.step != step || Double.compare(t.lr, lr) != 0 || !t.data.equals(data)
                || !t.configHash.equals(configHash) || t.tokensSeen != tokensSeen || Double.compare(t.elapsedS, elapsedS) != 0
                || !t.rng.keySet().equals(rng.keySet())) {
            return false;
        }
        for (Map.Entry<String, long[]> e : rng.entrySet()) if (!java.util.Arrays.equals(e.getValue(), t.rng.get(e.getKey()))) return false;
        return true;
    }

    @Override
    public int hashCode() {
        return Long.hashCode(step) * 31 + data.hashCode();
    }
}
