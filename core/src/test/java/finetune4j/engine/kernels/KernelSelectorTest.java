package finetune4j.engine.kernels;

import finetune4j.ConfigException;
import finetune4j.engine.kernels.vector.VectorKernels;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link KernelSelector}: the built-in names, {@code auto} by priority among available
 * providers, and extra backends found through {@code ServiceLoader} (two test providers are
 * declared in this module's test {@code META-INF/services}: one available at a priority below
 * every built-in, one whose device is missing).
 */
class KernelSelectorTest {

    @Test
    void builtInNamesSelectTheirImplementations() {
        assertThat(KernelSelector.byName("scalar")).isInstanceOf(ScalarKernels.class);
        assertThat(KernelSelector.byName("vector")).isInstanceOf(VectorKernels.class);
        assertThat(KernelSelector.byName(" Java ")).isInstanceOf(VectorKernels.class);
    }

    @Test
    void autoPicksTheAvailableProviderWithTheHighestPriority() {
        // Tests run with --add-modules jdk.incubator.vector: vector (100) beats scalar (0) and the
        // test provider (-1); the unavailable one (1000) is skipped.
        assertThat(KernelSelector.byName("auto")).isInstanceOf(VectorKernels.class);
        assertThat(KernelSelector.byName(null)).isInstanceOf(VectorKernels.class);
        KernelProvider fast = new Fake("native", 200, true);
        KernelProvider broken = new Fake("gpu", 300, false);
        List<KernelProvider> ps = List.of(new Fake("scalar", 0, true), fast, broken);
        assertThat(KernelSelector.choose(ps, "auto")).isSameAs(fast);
    }

    @Test
    void serviceLoaderProvidersAreFoundByName() {
        assertThat(KernelSelector.providers()).extracting(KernelProvider::name)
                .contains("scalar", "vector", "recording", "missing-device");
        int before = RecordingProvider.created;
        assertThat(KernelSelector.byName("recording")).isInstanceOf(ScalarKernels.class);
        assertThat(RecordingProvider.created).isEqualTo(before + 1);
    }

    @Test
    void unknownOrUnavailableBackendsAreConfigErrors() {
        assertThatThrownBy(() -> KernelSelector.byName("cuda"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("kernels = 'cuda' is not allowed")
                .hasMessageContaining("scalar, vector, recording, missing-device");
        assertThatThrownBy(() -> KernelSelector.byName("missing-device"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("kernels = missing-device cannot run here: no device (hint: test provider)");
    }

    @Test
    void theProcessDefaultIsCreatedOnce() {
        assertThat(KernelSelector.get()).isSameAs(KernelSelector.get());
    }

    /** Available, lower priority than every built-in: never chosen by auto. */
    public static final class RecordingProvider extends Fake {
        static volatile int created;

        public RecordingProvider() {
            super("recording", -1, true);
        }

        @Override
        public Kernels create() {
            created++;
            return super.create();
        }
    }

    /** Not available: must be refused with its reason. */
    public static final class MissingDeviceProvider extends Fake {
        public MissingDeviceProvider() {
            super("missing-device", 1000, false);
        }
    }

    static class Fake implements KernelProvider {
        private final String name;
        private final int priority;
        private final boolean available;

        Fake(String name, int priority, boolean available) {
            this.name = name;
            this.priority = priority;
            this.available = available;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public int priority() {
            return priority;
        }

        @Override
        public boolean isAvailable() {
            return available;
        }

        @Override
        public String unavailableReason() {
            return "no device (hint: test provider)";
        }

        @Override
        public Kernels create() {
            return new ScalarKernels();                  // a real backend returns its own implementation
        }
    }
}
