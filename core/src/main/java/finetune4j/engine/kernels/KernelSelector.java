package finetune4j.engine.kernels;

import finetune4j.ConfigException;

import java.util.Locale;

/**
 * Chooses the {@link Kernels} implementation: {@code scalar} (reference), {@code vector} (Java
 * Vector API, the default where the incubator module is present) or {@code auto}. The choice
 * comes from an explicit name (CLI {@code --kernels}) or the system property
 * {@code finetune4j.kernels}.
 */
public final class KernelSelector {
    public static final String PROPERTY = "finetune4j.kernels";

    private static volatile Kernels defaultKernels;

    private KernelSelector() {
    }

    /** The process-wide default, from {@value #PROPERTY} (or {@code auto}). */
    public static Kernels get() {
        Kernels k = defaultKernels;
        if (k == null) {
            synchronized (KernelSelector.class) {
                k = defaultKernels;
                if (k == null) {
                    k = byName(System.getProperty(PROPERTY, "auto"));
                    defaultKernels = k;
                }
            }
        }
        return k;
    }

    /** Resolves a backend name; throws {@link ConfigException} for an unknown one. */
    public static Kernels byName(String name) {
        String n = name == null ? "auto" : name.trim().toLowerCase(Locale.ROOT);
        return switch (n) {
            case "scalar" -> new ScalarKernels();
            case "vector", "java" -> vector(true);
            case "auto" -> vector(false);
            default -> throw new ConfigException("kernels", name, "one of [auto, java, vector, scalar]");
        };
    }

    private static Kernels vector(boolean required) {
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()) {
            return new finetune4j.engine.kernels.vector.VectorKernels();
        }
        if (required) {
            throw new ConfigException("kernels = vector needs the JVM flag --add-modules jdk.incubator.vector"
                    + " (the ./finetune4j launcher sets it)");
        }
        System.err.println("finetune4j: jdk.incubator.vector is not enabled; using the scalar reference kernels (slow)."
                + " Run with --add-modules jdk.incubator.vector.");
        return new ScalarKernels();
    }
}
