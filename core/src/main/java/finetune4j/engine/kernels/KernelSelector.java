package finetune4j.engine.kernels;

import finetune4j.ConfigException;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.ServiceLoader;
import java.util.stream.Collectors;

/**
 * Chooses the {@link Kernels} implementation by name: {@code scalar} (the reference),
 * {@code vector} (alias {@code java}: the Java Vector API, the default where the incubator module
 * is enabled), any backend found through {@link ServiceLoader} as a {@link KernelProvider}, or
 * {@code auto}: the available provider with the highest priority that does not decline
 * ({@link KernelProvider#autoDeclineReason()}), with one line on stderr for each faster backend
 * passed over. The name comes from the CLI
 * ({@code --kernels}) or the system property {@value #PROPERTY}.
 */
public final class KernelSelector {
    public static final String PROPERTY = "finetune4j.kernels";

    private static volatile Kernels defaultKernels;

    private KernelSelector() {
    }

    /** The process-wide default, from {@value #PROPERTY} (or {@code auto}); created once. */
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

    /**
     * A new instance of the backend {@code name} ({@code null} or blank means {@code auto}).
     *
     * @throws ConfigException for an unknown name (listing the known ones), or a backend that
     *                         cannot run here (with its reason)
     */
    public static Kernels byName(String name) {
        return choose(providers(), name).create();
    }

    /** Every provider known to this JVM: the built-in ones, then those from {@link ServiceLoader}. */
    public static List<KernelProvider> providers() {
        List<KernelProvider> all = new ArrayList<>(List.of(new ScalarProvider(), new VectorProvider()));
        for (KernelProvider p : ServiceLoader.load(KernelProvider.class, KernelSelector.class.getClassLoader())) {
            all.add(p);
        }
        return all;
    }

    /** The provider that {@code name} selects among {@code providers}. */
    static KernelProvider choose(List<KernelProvider> providers, String name) {
        String n = name == null || name.isBlank() ? "auto" : name.trim().toLowerCase(Locale.ROOT);
        if (n.equals("java")) n = "vector";
        if (n.equals("auto")) {
            KernelProvider best = providers.stream().filter(p -> p.isAvailable() && p.autoDeclineReason() == null)
                    .max(Comparator.comparingInt(KernelProvider::priority))
                    .orElseThrow(() -> new ConfigException("kernels = auto: no kernel backend can run here"));
            boolean scalar = best.priority() <= 0;
            if (scalar) {
                System.err.println("finetune4j: using the scalar reference kernels (slow): "
                        + providers.stream().filter(p -> p.name().equals("vector")).findFirst()
                        .map(KernelProvider::unavailableReason).orElse("no faster backend is available"));
            }
            for (KernelProvider p : providers) {                // one line per faster backend passed over
                if (p == best || p.priority() <= best.priority() || (scalar && p.name().equals("vector"))) continue;
                String why = p.isAvailable() ? p.autoDeclineReason() : p.unavailableReason();
                System.err.println("finetune4j: " + p.name() + " kernels not used (kernels = auto runs " + best.name()
                        + "): " + why);
            }
            return best;
        }
        for (KernelProvider p : providers) {
            if (p.name().equals(n)) {
                if (!p.isAvailable()) throw new ConfigException("kernels = " + n + " cannot run here: " + p.unavailableReason());
                return p;
            }
        }
        String known = providers.stream().map(KernelProvider::name).collect(Collectors.joining(", "));
        throw new ConfigException("kernels", name, "one of [auto, " + known + ", java]");
    }

    /** The readable reference: always available, never preferred. */
    private static final class ScalarProvider implements KernelProvider {
        @Override
        public String name() {
            return "scalar";
        }

        @Override
        public int priority() {
            return 0;
        }

        @Override
        public boolean isAvailable() {
            return true;
        }

        @Override
        public String unavailableReason() {
            return "";
        }

        @Override
        public Kernels create() {
            return new ScalarKernels();
        }
    }

    /**
     * The Java Vector API kernels. The class {@code VectorKernels} is only loaded by
     * {@link #create()}, after the incubator module was found, so a JVM without
     * {@code --add-modules jdk.incubator.vector} never touches it.
     */
    private static final class VectorProvider implements KernelProvider {
        @Override
        public String name() {
            return "vector";
        }

        @Override
        public int priority() {
            return 100;
        }

        @Override
        public boolean isAvailable() {
            return ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
        }

        @Override
        public String unavailableReason() {
            return "the JVM runs without --add-modules jdk.incubator.vector (the ./finetune4j launcher sets it)";
        }

        @Override
        public Kernels create() {
            return new finetune4j.engine.kernels.vector.VectorKernels();
        }
    }
}
