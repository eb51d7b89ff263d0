/**
 * Examples to training rows. {@link finetune4j.batch.ExampleTokenizer} renders a conversation with a
 * chat template ({@link finetune4j.text.ChatTemplates}: the model's, a named one, or a Jinja file),
 * finds the trained character spans ({@link finetune4j.text.ConversationRenderer}: {@code {% generation %}}
 * markers, or prefix renders), encodes with token offsets
 * ({@link finetune4j.text.Tokenizer#encodeWithOffsets}) and labels the tokens from the first to the last
 * one overlapping each span; everything else is {@link finetune4j.batch.Tokenized#IGNORE} (−100).
 * Plain text and prompt/completion follow TRL (EOS appended, prompt masked by its token count).
 * {@code --train-on} ({@link finetune4j.text.TrainOn}) chooses all, completion, assistant or
 * last-assistant tokens. The masks equal those of transformers + TRL-style reference logic on every
 * dataset sample (tools/golden/sft_masks.py, SftGoldenTest).
 *
 * <p>{@link finetune4j.batch.DataPipeline} runs the whole path: cut ({@link finetune4j.batch.Truncation}
 * right, left or drop; rows left with no trained token are dropped), exact-duplicate removal and the
 * seeded, order-independent validation split ({@link finetune4j.batch.DataSplit}), packing
 * ({@link finetune4j.batch.Packer}, best-fit decreasing), and reports what happened
 * ({@link finetune4j.batch.DataReport}). {@link finetune4j.batch.BatchIterator} serves batches in file,
 * shuffled or length-bucketed order, resumable from (epoch, index).
 *
 * <p>Packed rows carry several examples; {@link finetune4j.batch.Batch} gives per-token
 * {@code segmentIds} and {@code positionIds} and states the attention contract a model must honour
 * (block-diagonal causal mask, positions restarting per example); the test helper
 * {@code finetune4j.testing.PackedBatches} checks a model's forward against it.
 */
package finetune4j.batch;
