package finetune4j.engine.kernels;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@link KernelThreads}: every chunk exactly once, failures reach the caller, nesting and concurrent callers. */
class KernelThreadsTest {

    @Test
    void runsEveryChunkExactlyOnce() {
        for (int chunks : new int[]{0, 1, 2, 3, 17, 1000}) {
            AtomicIntegerArray seen = new AtomicIntegerArray(Math.max(1, chunks));
            for (int rep = 0; rep < 20; rep++) KernelThreads.run(chunks, seen::incrementAndGet);
            for (int c = 0; c < chunks; c++) assertThat(seen.get(c)).as("chunk %d of %d", c, chunks).isEqualTo(20);
        }
    }

    @Test
    void rethrowsTheFailureOfAChunkAfterAllHaveEnded() {
        AtomicInteger done = new AtomicInteger();
        assertThatThrownBy(() -> KernelThreads.run(8, c -> {
            if (c == 5) throw new IllegalStateException("chunk 5 failed");
            done.incrementAndGet();
        })).isInstanceOf(IllegalStateException.class).hasMessage("chunk 5 failed");
        assertThat(done.get()).isEqualTo(7);
        KernelThreads.run(4, c -> done.incrementAndGet());          // the pool still works
        assertThat(done.get()).isEqualTo(11);
    }

    @Test
    void nestedCallsRunInline() {
        AtomicInteger inner = new AtomicInteger();
        KernelThreads.run(4, c -> KernelThreads.run(3, d -> inner.incrementAndGet()));
        assertThat(inner.get()).isEqualTo(12);
    }

    @Test
    void concurrentCallersEachGetAllTheirChunks() throws InterruptedException {
        AtomicIntegerArray seen = new AtomicIntegerArray(3 * 64);
        Thread[] callers = new Thread[3];
        for (int t = 0; t < callers.length; t++) {
            int base = t * 64;
            callers[t] = new Thread(() -> {
                for (int rep = 0; rep < 200; rep++) KernelThreads.run(64, c -> seen.incrementAndGet(base + c));
            });
            callers[t].start();
        }
        for (Thread t : callers) t.join();
        for (int i = 0; i < seen.length(); i++) assertThat(seen.get(i)).isEqualTo(200);
    }

    @Test
    void parallelismIsAtLeastOne() {
        assertThat(KernelThreads.parallelism()).isGreaterThanOrEqualTo(1);
    }
}
