package finetune4j.engine.kernels;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * The fixed pool on which kernel implementations run the chunks of one call in parallel. Model,
 * adapter and trainer code never uses it: it calls {@link Kernels}, and a kernel decides how to
 * cut its work into chunks (row panels, column slabs, heads) and hands them to {@link #run}.
 *
 * <p>Design, for low latency on small calls (a decode-time GEMV takes tens of microseconds):
 * <ul>
 *   <li>{@link #parallelism()} threads in all: the calling thread plus {@code parallelism − 1}
 *       daemon workers started once. The caller always works on its own job, so a call makes
 *       progress even while the workers are busy with another caller's job.</li>
 *   <li>Chunks are claimed from an atomic counter (dynamic balancing: a worker that wakes late
 *       simply gets fewer chunks).</li>
 *   <li>Idle workers spin for a few microseconds before parking, so back-to-back kernel calls
 *       do not pay a wake-up each.</li>
 *   <li>A call made from inside a chunk (nested) runs its chunks inline on that thread.</li>
 * </ul>
 *
 * <p>The size is {@code -Dfinetune4j.threads=N}, default {@code Runtime.availableProcessors()}.
 * The first exception thrown by a chunk is rethrown to the caller once all chunks have ended.
 */
public final class KernelThreads {
    /** Property naming the number of kernel threads (caller included). */
    public static final String PROPERTY = "finetune4j.threads";

    /** How long an idle worker spins before parking, in nanoseconds. */
    private static final long SPIN_NANOS = 50_000;

    private static final int PARALLELISM = Math.max(1,
            Integer.getInteger(PROPERTY, Runtime.getRuntime().availableProcessors()));
    private static final ConcurrentLinkedQueue<Job> JOBS = new ConcurrentLinkedQueue<>();
    private static final Worker[] WORKERS = startWorkers(PARALLELISM - 1);

    private KernelThreads() {
    }

    /** One chunk of a parallel kernel call; {@code chunk} is in {@code [0, chunks)}. */
    @FunctionalInterface
    public interface ChunkTask {
        void run(int chunk);
    }

    /** Number of threads a call may use, the caller included (at least 1). */
    public static int parallelism() {
        return PARALLELISM;
    }

    /**
     * Runs {@code task.run(c)} once for every {@code c} in {@code [0, chunks)}, spread over the
     * pool, and returns when all have finished. Chunks must write disjoint outputs.
     */
    public static void run(int chunks, ChunkTask task) {
        if (chunks <= 0) return;
        if (chunks == 1 || WORKERS.length == 0 || Thread.currentThread() instanceof Worker) {
            for (int c = 0; c < chunks; c++) task.run(c);
            return;
        }
        Job job = new Job(task, chunks, Thread.currentThread());
        JOBS.add(job);
        int wake = Math.min(WORKERS.length, chunks - 1);
        for (int w = 0; w < wake; w++) LockSupport.unpark(WORKERS[w]);
        job.work();
        JOBS.remove(job);
        job.awaitAll();
        Throwable t = job.failure;
        if (t instanceof RuntimeException re) throw re;
        if (t instanceof Error e) throw e;
        if (t != null) throw new IllegalStateException("kernel chunk failed", t);
    }

    /** One parallel call: a task, a counter of chunks handed out, a counter of chunks not yet done. */
    private static final class Job {
        final ChunkTask task;
        final int chunks;
        final Thread owner;
        final AtomicInteger next = new AtomicInteger();
        final AtomicInteger pending;
        volatile Throwable failure;

        Job(ChunkTask task, int chunks, Thread owner) {
            this.task = task;
            this.chunks = chunks;
            this.owner = owner;
            this.pending = new AtomicInteger(chunks);
        }

        boolean exhausted() {
            return next.get() >= chunks;
        }

        /** Claims and runs chunks until none is left. */
        void work() {
            int c;
            while ((c = next.getAndIncrement()) < chunks) {
                try {
                    task.run(c);
                } catch (Throwable t) {
                    if (failure == null) failure = t;
                } finally {
                    if (pending.decrementAndGet() == 0 && Thread.currentThread() != owner) {
                        LockSupport.unpark(owner);
                    }
                }
            }
        }

        /** Called by the owner after its own share: waits for chunks still running elsewhere. */
        void awaitAll() {
            long spinUntil = System.nanoTime() + SPIN_NANOS;
            while (pending.get() != 0) {
                if (System.nanoTime() < spinUntil) Thread.onSpinWait();
                else LockSupport.park(this);
            }
        }
    }

    private static final class Worker extends Thread {
        Worker(int index) {
            super("finetune4j-kernel-" + index);
            setDaemon(true);
        }

        @Override
        public void run() {
            while (true) {
                Job job = JOBS.peek();
                if (job == null) {
                    idle();
                    continue;
                }
                job.work();
                if (job.exhausted()) JOBS.remove(job);
            }
        }

        /** Spins briefly for the next job, then parks until a caller unparks this worker. */
        private static void idle() {
            long spinUntil = System.nanoTime() + SPIN_NANOS;
            while (JOBS.isEmpty()) {
                if (System.nanoTime() < spinUntil) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.park(KernelThreads.class);
                    return;
                }
            }
        }
    }

    private static Worker[] startWorkers(int n) {
        Worker[] ws = new Worker[n];
        for (int i = 0; i < n; i++) {
            ws[i] = new Worker(i + 1);
            ws[i].start();
        }
        return ws;
    }
}
