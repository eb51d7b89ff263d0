package finetune4j.engine.kernels.onednn;

import finetune4j.engine.kernels.KernelProvider;
import finetune4j.engine.kernels.Kernels;
import finetune4j.engine.kernels.ScalarKernels;

/**
 * Registers the {@code native} backend ({@link NativeKernels}) with the kernel selector through
 * {@code META-INF/services/finetune4j.engine.kernels.KernelProvider}.
 *
 * <p>Available when the oneDNN library loads ({@link OneDnnLibrary}: Linux x86-64, the artifact on
 * the class path) and its CPU engine starts. Under {@code auto} it outranks the Java kernels (200
 * against 100) only where oneDNN dispatches to AMX: measured on this project's machine without
 * AMX (AVX-512-BF16 only), oneDNN's bf16 products ran no faster than the Java FP32 kernels, and a
 * bf16 dot instruction there has half the FLOP rate of an FP32 FMA, so it declines there (one
 * line says so) and {@code --kernels native} still forces it.
 */
public final class NativeKernelProvider implements KernelProvider {
    /** Binds the library once per process; never throws. */
    private static final class Runtime {
        static final OneDnn DNN;
        static final String REASON;

        static {
            OneDnn dnn = null;
            String reason = null;
            OneDnnLibrary.Result r = OneDnnLibrary.get();
            if (!r.loaded()) {
                reason = r.reason();
            } else {
                try {
                    dnn = new OneDnn(r.lookup());
                } catch (RuntimeException | LinkageError e) {
                    reason = "oneDNN from " + r.dir() + " did not start: " + e.getMessage();
                }
            }
            DNN = dnn;
            REASON = reason;
        }
    }

    @Override
    public String name() {
        return "native";
    }

    @Override
    public int priority() {
        return 200;
    }

    @Override
    public boolean isAvailable() {
        return Runtime.DNN != null;
    }

    @Override
    public String unavailableReason() {
        return Runtime.REASON == null ? "" : Runtime.REASON;
    }

    @Override
    public String autoDeclineReason() {
        int isa = Runtime.DNN.effectiveIsa();
        if (OneDnn.includes(isa, OneDnn.ISA_AVX512_CORE_AMX)) return null;
        return "oneDNN finds no AMX on this CPU (it dispatches to " + OneDnn.isaName(isa)
                + "), where its bf16 products are no faster than the Java kernels; --kernels native forces it";
    }

    @Override
    public Kernels create() {
        return new NativeKernels(Runtime.DNN, javaKernels(), NativeKernels.DEFAULT_MIN_ROWS);
    }

    /** The backend the native kernels delegate to: the Vector API kernels, or the scalar ones without the incubator module. */
    static Kernels javaKernels() {
        return ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()
                ? new finetune4j.engine.kernels.vector.VectorKernels() : new ScalarKernels();
    }

    /** The bound library, or null (with {@link #unavailableReason()}) where it cannot load. */
    static OneDnn runtime() {
        return Runtime.DNN;
    }
}
