package finetune4j.engine.kernels.onednn;

import finetune4j.engine.tensor.DType;
import finetune4j.engine.tensor.Weight;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.ref.ReferenceQueue;
import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The frozen weights converted to bf16 and reordered into the blocked layouts the matmul
 * primitives want, made once per {@link Weight} and direction and kept while the weight lives.
 *
 * <p>Keyed by the identity of the {@code Weight} object (a record's {@code equals} compares its
 * segment by value, which is not what a cache of packed copies means), weakly: when a model and
 * its weights become unreachable, the next lookup after a garbage collection frees their packed
 * copies. Every copy's bytes are counted in {@link #bytes()}.
 *
 * <p>Usually one layout serves every M of a direction; a plan whose primitive wants another one
 * gets its own copy (counted too).
 *
 * <p>For plans in the plain layout ({@link MatmulPlan.Key#plain}) a weight needs no blocked copy:
 * a BF16 weight is used as stored (no copy at all), an F32/F16 one gets a single bf16 row-major
 * copy that serves both directions ({@link #plain}).
 *
 * <p>Not thread-safe: {@link NativeKernels} calls it under its lock.
 */
final class PackedWeights {
    /** A packed copy: its layout (owned descriptor), data and the arena that holds the data. */
    record Packed(MemorySegment md, MemorySegment data, Arena arena) {
    }

    /** All packed copies of one weight. */
    private static final class Entry {
        final List<Packed> forward = new ArrayList<>(1), backward = new ArrayList<>(1);
        Packed plain;                                  // bf16 (N, K) row-major, or null
    }

    /** A weak reference compared by the identity of its referent. */
    private static final class Ref extends WeakReference<Weight> {
        final int hash;

        Ref(Weight w, ReferenceQueue<Weight> q) {
            super(w, q);
            hash = System.identityHashCode(w);
        }

        @Override
        public int hashCode() {
            return hash;
        }

        @Override
        public boolean equals(Object o) {
            if (this == o) return true;
            if (!(o instanceof Ref r)) return false;
            Weight w = get();
            return w != null && w == r.get();
        }
    }

    private final OneDnn dnn;
    private final Map<Ref, Entry> map = new HashMap<>();
    private final ReferenceQueue<Weight> queue = new ReferenceQueue<>();
    private long bytes;
    private int copies;

    PackedWeights(OneDnn dnn) {
        this.dnn = dnn;
    }

    /** Bytes of native memory the packed copies take. */
    long bytes() {
        return bytes;
    }

    /** Number of packed copies held. */
    int copies() {
        return copies;
    }

    /**
     * The copy of {@code w} in {@code plan}'s weight layout, made on first use: W (N, K) in its
     * stored dtype, read as the plan direction's plain (P, Q) layout, converted to bf16 and
     * reordered by oneDNN.
     */
    MemorySegment get(Weight w, MatmulPlan plan) {
        if (plan.key.plain()) return plain(w);
        Entry e = entry(w);
        List<Packed> list = plan.key.direction() == MatmulPlan.Direction.FORWARD ? e.forward : e.backward;
        for (Packed p : list) {
            if (dnn.equal(p.md(), plan.weightsMd)) return p.data();
        }
        Packed p = convert(w, dnn.cloneMd(plan.weightsMd), plan.weightsBytes, plan.key.p(), plan.key.q(),
                plan.key.direction().plainTag);
        list.add(p);
        bytes += p.data().byteSize();
        copies++;
        return p.data();
    }

    /**
     * W (N, K) as bf16 row-major, which both directions read in their plain layouts (forward as
     * (K, N) column-major): a BF16 weight's own data, else one converted copy made on first use.
     */
    MemorySegment plain(Weight w) {
        if (w.dtype() == DType.BF16) return w.data();
        Entry e = entry(w);
        if (e.plain == null) {
            e.plain = convert(w, dnn.md(w.rows(), w.cols(), OneDnn.BF16, OneDnn.TAG_AB), 2L * w.rows() * w.cols(),
                    w.rows(), w.cols(), OneDnn.TAG_AB);
            bytes += e.plain.data().byteSize();
            copies++;
        }
        return e.plain.data();
    }

    private Entry entry(Weight w) {
        expunge();
        Entry e = map.get(new Ref(w, null));
        if (e == null) {
            e = new Entry();
            map.put(new Ref(w, queue), e);
        }
        return e;
    }

    /** Frees the copies of weights that were garbage-collected. */
    void expunge() {
        for (Object r; (r = queue.poll()) != null; ) {
            Entry e = map.remove((Ref) r);
            if (e != null) freeAll(e);
        }
    }

    /** Frees every copy. */
    void clear() {
        for (Entry e : map.values()) freeAll(e);
        map.clear();
    }

    private void freeAll(Entry e) {
        for (Packed p : e.forward) free(p);
        for (Packed p : e.backward) free(p);
        e.forward.clear();
        e.backward.clear();
        if (e.plain != null) free(e.plain);
        e.plain = null;
    }

    private void free(Packed p) {
        bytes -= p.data().byteSize();
        copies--;
        dnn.destroyMd(p.md());
        p.arena().close();
    }

    /**
     * W (N, K) in its stored dtype, read as (P, Q) with {@code tag}, converted to bf16 and
     * reordered by oneDNN into {@code layout} ({@code layoutBytes}; the copy owns the descriptor).
     */
    private Packed convert(Weight w, MemorySegment layout, long layoutBytes, int p, int q, int tag) {
        Arena arena = Arena.ofShared();
        Arena tmp = Arena.ofConfined();
        MemorySegment plainMd = null, reorder = null;
        try {
            MemorySegment data = arena.allocate(layoutBytes, 4096);
            MemorySegment plainData = w.data();
            int plainType = dtype(w.dtype());
            if (plainType >= 0) {
                plainMd = dnn.md(p, q, plainType, tag);
                reorder = dnn.tryReorder(plainMd, layout);
            }
            if (reorder == null) {
                // a stored type oneDNN cannot reorder to bf16 directly: convert to f32 first
                if (plainMd != null) dnn.destroyMd(plainMd);
                long n = (long) w.rows() * w.cols();
                MemorySegment f32 = tmp.allocate(4 * n, 64);
                for (long i = 0; i < n; i++) f32.setAtIndex(ValueLayout.JAVA_FLOAT, i, w.dtype().getFloat(plainData, i));
                plainData = f32;
                plainMd = dnn.md(p, q, OneDnn.F32, tag);
                reorder = dnn.tryReorder(plainMd, layout);
                if (reorder == null) throw new IllegalStateException("oneDNN has no f32 -> bf16 reorder for " + w.name());
            }
            MemorySegment from = dnn.memory(plainMd, plainData), to = dnn.memory(layout, data);
            MemorySegment prim = dnn.primitive(reorder);
            try {
                dnn.execute(prim, 2, OneDnn.execArgs(tmp, new int[]{OneDnn.ARG_FROM, OneDnn.ARG_TO}, new MemorySegment[]{from, to}));
            } finally {
                dnn.destroyPrimitive(prim);
                dnn.destroyMemory(from);
                dnn.destroyMemory(to);
            }
            return new Packed(layout, data, arena);
        } catch (RuntimeException | Error e) {
            arena.close();
            dnn.destroyMd(layout);
            throw e;
        } finally {
            if (reorder != null) dnn.destroyPd(reorder);
            if (plainMd != null) dnn.destroyMd(plainMd);
            tmp.close();
        }
    }

    /** The oneDNN data type of a stored weight dtype, or -1 when it has none. */
    private static int dtype(DType t) {
        return switch (t) {
            case F32 -> OneDnn.F32;
            case BF16 -> OneDnn.BF16;
            case F16 -> OneDnn.F16;
            default -> -1;
        };
    }
}
