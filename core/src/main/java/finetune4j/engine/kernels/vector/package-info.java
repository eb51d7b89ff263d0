/**
 * The Java Vector API implementation of the kernel door ({@link finetune4j.engine.kernels.vector.VectorKernels}),
 * the only package of finetune4j that may import {@code jdk.incubator.vector} (a test checks it).
 *
 * <p>Layout, from the door inwards:
 * <ul>
 *   <li>{@code VectorKernels}: argument checks, the choice of path, elementwise and row kernels
 *       (rmsnorm, rope, siluMul, add) split over {@link finetune4j.engine.kernels.KernelThreads}.</li>
 *   <li>{@code Gemm}: the packed, cache-blocked FP32 product for {@code linear} (M &gt; 8) and
 *       {@code gemm}; {@code MicroKernel}: its 6 × 4-vector register tile; {@code PanelTranspose}:
 *       B panels from row-major weights; {@code Convert}: BF16/F16 to FP32 while packing.</li>
 *   <li>{@code Gemv}: {@code linear} for M ≤ 8 (decode), streaming each weight once.</li>
 *   <li>{@code Attention}: causal GQA attention, dot-product path for few query rows, GEMM path
 *       for many; {@code Vec}: the row primitives they share (dot, softmax, ...).</li>
 *   <li>{@code Checks}: programmer-error checks with the values in the message.</li>
 * </ul>
 *
 * <p>Every kernel has its definition in {@link finetune4j.engine.kernels.ScalarKernels} and a
 * parity test against it on awkward shapes. The JVM must run C2 only
 * ({@code -XX:-TieredCompilation}): a large Vector API method left to C1 runs ~100× slower.
 */
package finetune4j.engine.kernels.vector;
