/**
 * Model-independent training machinery, assembled by the trainer loop:
 * <ul>
 *   <li>optimizers with torch's exact arithmetic: {@link finetune4j.train.AdamW},
 *   {@link finetune4j.train.Sgd} (sealed {@link finetune4j.train.Optimizer}; state export and
 *   import through {@link finetune4j.train.OptimizerState}; per-parameter
 *   {@link finetune4j.train.WeightDecay} exclusions as the Hugging Face Trainer does);</li>
 *   <li>{@link finetune4j.train.LrSchedule} (transformers' {@code get_scheduler} lambdas) and
 *   {@link finetune4j.train.GradClip} ({@code clip_grad_norm_}, NaN/Inf detection);</li>
 *   <li>{@link finetune4j.train.Checkpoint} (atomic {@code checkpoint-<step>/} directories with
 *   optimizer and {@link finetune4j.train.TrainerState}, retention, validated loading);</li>
 *   <li>{@link finetune4j.train.TrainListener} and its listeners:
 *   {@link finetune4j.train.MetricsLog} ({@code metrics.jsonl}),
 *   {@link finetune4j.train.ProgressDisplay} (terminal bar or plain lines),
 *   {@link finetune4j.train.TrainReport} (self-contained HTML with SVG charts).</li>
 * </ul>
 * Everything here works on {@link finetune4j.engine.tensor.NamedParam} lists and knows nothing
 * of the model.
 */
package finetune4j.train;
