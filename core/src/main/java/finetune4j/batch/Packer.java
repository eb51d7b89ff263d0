package finetune4j.batch;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Packs examples into rows of at most {@code seqLen} tokens, several examples per row, so that
 * batches carry little padding ({@code --packing}). Best-fit decreasing, as TRL's
 * {@code pack_dataset(strategy="bfd")}: examples by decreasing length (stable), each into the open
 * row with the least room that still fits it, else a new row. Deterministic. Attention must not
 * cross examples: see the contract of {@link Batch} (segment and position ids), which
 * {@link Batch#fill} derives from each row's {@link Tokenized#starts()}.
 */
public final class Packer {
    private Packer() {
    }

    /**
     * The packed rows, in the order they were opened.
     *
     * @throws IllegalArgumentException when an example is longer than {@code seqLen} (cut them first)
     */
    public static List<Tokenized> pack(List<Tokenized> examples, int seqLen) {
        Integer[] order = new Integer[examples.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
            if (examples.get(i).length() > seqLen) {
                throw new IllegalArgumentException(examples.get(i).source() + ": " + examples.get(i).length() + " tokens > seqLen " + seqLen);
            }
        }
        java.util.Arrays.sort(order, (a, b) -> Integer.compare(examples.get(b).length(), examples.get(a).length()));
        List<List<Tokenized>> rows = new ArrayList<>();
        List<Integer> room = new ArrayList<>();
        TreeMap<Integer, TreeSet<Integer>> byRoom = new TreeMap<>();       // room left → rows with that room
        for (int idx : order) {
            Tokenized t = examples.get(idx);
            var fit = byRoom.ceilingEntry(t.length());
            int row;
            if (fit == null) {
                row = rows.size();
                rows.add(new ArrayList<>());
                room.add(seqLen);
            } else {
                row = fit.getValue().first();
                remove(byRoom, fit.getKey(), row);
            }
            rows.get(row).add(t);
            int left = room.get(row) - t.length();
            room.set(row, left);
            if (left > 0) byRoom.computeIfAbsent(left, k -> new TreeSet<>()).add(row);
        }
        List<Tokenized> out = new ArrayList<>(rows.size());
        for (List<Tokenized> r : rows) out.add(r.size() == 1 ? r.getFirst() : Tokenized.concat(r));
        return out;
    }

    private static void remove(TreeMap<Integer, TreeSet<Integer>> byRoom, int key, int row) {
        TreeSet<Integer> s = byRoom.get(key);
        s.remove(row);
        if (s.isEmpty()) byRoom.remove(key);
    }
}
