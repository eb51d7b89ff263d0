package finetune4j.text.jinja;

import java.time.Clock;
import java.time.LocalDateTime;

/**
 * What one render needs beyond Jinjava's own context: the deadline, the limits, the clock for
 * {@code strftime_now}, whether {@code {% generation %}} spans are tracked, and the first abort.
 * Held in a thread-local for the duration of {@link JinjaTemplate#render}, because Jinjava calls
 * filters, tests and functions statically; never stored in the template context, where a template
 * could read it.
 */
final class RenderState {
    private static final ThreadLocal<RenderState> CURRENT = new ThreadLocal<>();

    final RenderLimits limits;
    final String origin;
    private final long deadlineNanos;
    private final Clock clock;
    final boolean trackGeneration;
    private PyErrors.Abort abort;

    RenderState(RenderLimits limits, Clock clock, String origin, boolean trackGeneration) {
        this.limits = limits;
        this.clock = clock;
        this.origin = origin;
        this.trackGeneration = trackGeneration;
        this.deadlineNanos = System.nanoTime() + limits.maxRenderTime().toNanos();
    }

    static RenderState current() {
        RenderState s = CURRENT.get();
        if (s == null) throw new IllegalStateException("no template render in progress on this thread");
        return s;
    }

    static RenderState currentOrNull() {
        return CURRENT.get();
    }

    void enter() {
        if (CURRENT.get() != null) throw new IllegalStateException("nested template render on one thread");
        CURRENT.set(this);
    }

    void exit() {
        CURRENT.remove();
    }

    void recordAbort(PyErrors.Abort a) {
        if (abort == null) abort = a;
    }

    PyErrors.Abort abort() {
        return abort;
    }

    /** Rethrows a recorded abort and enforces the deadline; called at every node and access. */
    void check() {
        if (abort != null) throw abort;
        if (System.nanoTime() - deadlineNanos > 0 || Thread.currentThread().isInterrupted()) {
            throw PyErrors.limit("rendering took longer than " + limits.maxRenderTime().toMillis() + " ms",
                    "the template probably loops over a huge range; raise RenderLimits.maxRenderTime only if it is legitimate");
        }
    }

    static void checkCurrent() {
        RenderState s = CURRENT.get();
        if (s != null) s.check();
    }

    LocalDateTime now() {
        return LocalDateTime.now(clock);
    }

    /** Refuses a string or list about to exceed {@link RenderLimits#maxOutputChars}. */
    void checkSize(long size, String what) {
        if (size > limits.maxOutputChars()) {
            throw PyErrors.limit(what + " would hold " + size + " items, more than the limit of "
                    + limits.maxOutputChars(), "RenderLimits.maxOutputChars bounds strings and lists built by a template");
        }
    }
}
