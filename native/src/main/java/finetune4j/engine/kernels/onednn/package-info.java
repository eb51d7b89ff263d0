/**
 * The native kernel backend: oneDNN's bf16 matrix products (AMX, AVX-512-BF16) called through
 * FFM, behind the kernel door ({@link finetune4j.engine.kernels.Kernels}); selected with
 * {@code --kernels native}, or by {@code auto} where the CPU has AMX.
 *
 * <p>Pieces: {@link finetune4j.engine.kernels.onednn.OneDnnLibrary} extracts and loads the shared
 * library from the {@code org.bytedeco:dnnl} jar; {@code OneDnn} binds the C API;
 * {@code MatmulPlan} is one primitive for one shape; {@code PackedWeights} caches the bf16 weights
 * in the primitives' layouts; {@link finetune4j.engine.kernels.onednn.NativeKernels} implements the
 * door; {@link finetune4j.engine.kernels.onednn.NativeKernelProvider} registers it.
 */
package finetune4j.engine.kernels.onednn;
