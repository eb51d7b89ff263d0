/**
 * 4-bit weights as bitsandbytes defines them (SPECS.md §3b): QLoRA's frozen base.
 *
 * <ul>
 *   <li>{@link finetune4j.quant.Nf4Codec}: blockwise NF4 / FP4 quantization (CUDA's decision trees
 *       and tie rule), double quantization of the block scales with the signed dynamic 8-bit map —
 *       the same bytes as bitsandbytes for the same input (goldens: {@code tools/golden/nf4_reference.py}).
 *       The weight it produces, {@link finetune4j.engine.tensor.QuantizedWeight}, lives in the engine so
 *       the kernels can dequantize it block by block while packing GEMM panels.</li>
 *   <li>{@link finetune4j.quant.Nf4Linear}: the frozen 4-bit linear slot (forward and backward to the
 *       input, no weight gradient); LoRA / DoRA wrap it like any base ({@code --method qlora}).</li>
 *   <li>Checkpoints: Hugging Face bitsandbytes 4-bit layout ({@code weight}, {@code weight.absmax},
 *       {@code weight.quant_map}, {@code weight.nested_*}, {@code weight.quant_state.bitsandbytes__nf4|fp4},
 *       {@code quantization_config} in config.json), read memory-mapped with every key checked and
 *       written byte-identical to transformers' save ({@link finetune4j.quant.QuantizedModels},
 *       {@link finetune4j.quant.QuantizationConfig}).</li>
 *   <li>Quantize on load ({@code --load-in-4bit}) into off-heap memory, and random 4-bit models built
 *       without their full-precision weights (7B-shaped benchmarks).</li>
 * </ul>
 */
package finetune4j.quant;
