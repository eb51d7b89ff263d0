package finetune4j.cli;

import finetune4j.engine.kernels.KernelSelector;
import finetune4j.engine.kernels.Kernels;
import picocli.CommandLine.Option;

/** {@code --kernels auto|java|scalar}: which kernel backend computes. */
final class KernelsOption {
    @Option(names = "--kernels", paramLabel = "BACKEND", defaultValue = "auto",
            description = "Kernel backend: auto (default: the fastest available), java (Vector API), scalar (reference, slow).")
    String kernels;

    Kernels get() {
        return "auto".equals(kernels) ? KernelSelector.get() : KernelSelector.byName(kernels);
    }
}
