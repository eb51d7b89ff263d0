/**
 * Parameter-efficient fine-tuning on the model's linear slots: LoRA, rsLoRA and DoRA as
 * Hugging Face PEFT 0.21 defines them ({@code tuners/lora/layer.py}, {@code dora.py},
 * {@code variants.py}).
 *
 * <ul>
 *   <li>{@link finetune4j.peft.LoraSpec} + {@link finetune4j.peft.Targets}: what to build (rank,
 *       alpha, dropout, rsLoRA, DoRA, targets by names / regex / all-linear, rank and alpha patterns).</li>
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
