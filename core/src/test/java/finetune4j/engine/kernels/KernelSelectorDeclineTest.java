package finetune4j.engine.kernels;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link KernelProvider#autoDeclineReason()}: a backend that can run but declines is passed over
 * by {@code auto} with one line saying why, and still runs when named.
 */
class KernelSelectorDeclineTest {
    /** Available at a high priority, but declining auto (like native kernels on a CPU without AMX). */
    static final class Declining extends KernelSelectorTest.Fake {
        Declining() {
            super("native", 200, true);
        }

        @Override
        public String autoDeclineReason() {
            return "no AMX here (hint: --kernels native forces it)";
        }
    }

    static String stderrOf(Runnable r) {
        PrintStream old = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            r.run();
        } finally {
            System.setErr(old);
        }
        return buf.toString(StandardCharsets.UTF_8);
    }

    @Test
    void autoPassesOverADecliningBackendWithOneLineAndTheNameStillSelectsIt() {
        KernelProvider vector = new KernelSelectorTest.Fake("vector", 100, true), declining = new Declining();
        List<KernelProvider> ps = List.of(new KernelSelectorTest.Fake("scalar", 0, true), vector, declining);
        KernelProvider[] chosen = new KernelProvider[1];
        String err = stderrOf(() -> chosen[0] = KernelSelector.choose(ps, "auto"));
        assertThat(chosen[0]).isSameAs(vector);
        assertThat(err.lines().toList()).containsExactly(
                "finetune4j: native kernels not used (kernels = auto runs vector): no AMX here (hint: --kernels native forces it)");
        assertThat(KernelSelector.choose(ps, "native")).isSameAs(declining);
    }

    @Test
    void aBackendBelowTheChoiceOrNotDecliningPrintsNothing() {
        KernelProvider fast = new KernelSelectorTest.Fake("native", 200, true);
        List<KernelProvider> ps = List.of(new KernelSelectorTest.Fake("vector", 100, true), fast,
                new KernelSelectorTest.Fake("slow", 50, false));
        KernelProvider[] chosen = new KernelProvider[1];
        assertThat(stderrOf(() -> chosen[0] = KernelSelector.choose(ps, "auto"))).isEmpty();
        assertThat(chosen[0]).isSameAs(fast);
    }
}
