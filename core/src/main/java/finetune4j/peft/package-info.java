/**
 * Parameter-efficient fine-tuning as Hugging Face PEFT 0.21 defines it (SPECS.md §3a;
 * {@code tuners/lora/layer.py}, {@code dora.py}, {@code variants.py}).
 *
 * <p>Formats: {@link finetune4j.peft.LoraConfig} (LoRA, rsLoRA, DoRA; {@code adapter_config.json}
 * read and written byte for byte; target, rank and alpha pattern matching) and
 * {@link finetune4j.peft.PeftAdapter} (an adapter's tensors under their PEFT keys, read from a
 * PEFT directory, checked against a base model's linear modules). Writing lives in
 * {@link finetune4j.export.PeftAdapterWriter}.
 *
 * <p>Layers:
 * <ul>
 *   <li>{@link finetune4j.peft.LoraSpec}: what to build (rank, alpha, dropout, rsLoRA, DoRA,
 *       targets by names / regex / all-linear, excludes, rank and alpha patterns, init), mapped
 *       from a {@link finetune4j.peft.LoraConfig} by {@link finetune4j.peft.LoraSpec#from}.</li>
 *   <li>{@link finetune4j.peft.LoraAdapter#attach}: wraps the targeted slots of a
 *       {@link finetune4j.model.LlamaModel}, initialises A/B (and DoRA's magnitude) from a seed and
 *       returns the trainable parameter list.</li>
 *   <li>{@link finetune4j.peft.LoraLinear}: the slot (forward, backward, several weighted adapters).</li>
 *   <li>{@link finetune4j.peft.LoraMath}: pure FP32 delta / norm / merge functions for export.</li>
 * </ul>
 *
 * <p>Shapes use the engine alphabet: M rows (B·T), K input width, N output width, R rank.
 * Parameter names are PEFT adapter-file keys without {@code base_model.model.}
 * ({@code model.layers.0.self_attn.q_proj.lora_A.weight}, {@code ….lora_magnitude_vector}).
 */
package finetune4j.peft;
