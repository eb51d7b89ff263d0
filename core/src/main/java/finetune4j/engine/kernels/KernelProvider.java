package finetune4j.engine.kernels;

/**
 * A backend behind the kernel door, as {@link KernelSelector} sees it. The two built-in ones are
 * {@code scalar} (the reference) and {@code vector} (Java Vector API). More backends (oneDNN
 * through FFM, a GPU) are plain jars on the class path that declare their provider in
 * {@code META-INF/services/finetune4j.engine.kernels.KernelProvider}; nothing else changes, and
 * model code never names a backend class.
 *
 * <p>{@link #isAvailable()} must be cheap and must not throw: it checks that the backend can run
 * here (a JVM module, a native library, a device) without creating it. {@code auto} picks the
 * available provider with the highest {@link #priority()} that does not
 * {@linkplain #autoDeclineReason() decline}; a provider of higher priority that was passed over
 * gets one line on stderr saying why.
 */
public interface KernelProvider {
    /** The name users give ({@code --kernels NAME}, {@code -Dfinetune4j.kernels=NAME}), lower case. */
    String name();

    /** Higher wins under {@code auto}: scalar is 0, vector 100; a native backend would say e.g. 200. */
    int priority();

    /** True when {@link #create()} can succeed on this machine and JVM. */
    boolean isAvailable();

    /** Why the backend cannot run here, with a hint (shown when it was asked for by name). */
    String unavailableReason();

    /**
     * Why {@code auto} should not pick this backend on this machine although it can run (e.g. its
     * products would be slower here than a lower-priority backend's), one line with a hint; null
     * (the default) when {@code auto} may pick it. Selecting it by name still works. Called only
     * when {@link #isAvailable()}; cheap and never throws.
     */
    default String autoDeclineReason() {
        return null;
    }

    /** A new instance of the backend. Called only when {@link #isAvailable()}. */
    Kernels create();
}
