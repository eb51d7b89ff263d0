/**
 * The kernel door ({@link finetune4j.engine.kernels.Kernels}) and its implementations.
 *
 * <p>Dimension alphabet used in shape comments across finetune4j: B batch, T sequence, C hidden
 * size, H attention heads, KVH key/value heads, D head dim, F FFN (intermediate) size, V vocab,
 * R LoRA rank, P virtual tokens; M = B·T rows of a matrix product, K its reduced dimension, N its
 * output columns.
 *
 * <p>Only {@code finetune4j.engine.kernels.vector} may import {@code jdk.incubator.vector}
 * (checked by a test).
 */
package finetune4j.engine.kernels;
