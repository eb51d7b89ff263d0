package finetune4j.cli;

import finetune4j.engine.kernels.KernelSelector;
import finetune4j.engine.kernels.Kernels;
import picocli.CommandLine.Option;

/** {@code --kernels auto|java|native|scalar}: which kernel backend computes. */
final class KernelsOption {
    @Option(names = "--kernels", paramLabel = "BACKEND", defaultValue = "auto",
            description = "Kernel backend: auto (default: the fastest available; native where oneDNN finds AMX),"
                    + " java (Vector API, FP32), native (oneDNN bf16 products over the frozen base, Linux x86-64),"
                    + " scalar (reference, slow).")
    String kernels;

    Kernels get() {
        return "auto".equals(kernels) ? KernelSelector.get() : KernelSelector.byName(kernels);
    }
}
