/**
 * Parameter-efficient fine-tuning formats and rules, as Hugging Face PEFT 0.21 defines them:
 * {@link finetune4j.peft.LoraConfig} (LoRA, rsLoRA, DoRA; {@code adapter_config.json} read and
 * written byte for byte; target, rank and alpha pattern matching) and
 * {@link finetune4j.peft.PeftAdapter} (an adapter's tensors under their PEFT keys, read from a
 * PEFT directory, checked against a base model's linear modules). Writing lives in
 * {@link finetune4j.export.PeftAdapterWriter}. Formats: SPECS.md §3a.
 */
package finetune4j.peft;
