/**
 * Evaluation beyond the loss: {@link finetune4j.eval.GenerationEval} (greedy generation on held-out
 * examples, scored against the reference answers with {@link finetune4j.eval.AnswerMetrics}'
 * SQuAD-style exact match and token F1) and {@link finetune4j.eval.ChoiceEval} (multiple-choice
 * log-likelihood scoring of MMLU-style questions, {@code acc} and {@code acc_norm} as
 * lm-evaluation-harness computes them). Both run a {@link finetune4j.model.LlamaModel} (with any
 * adapters attached) on examples read by {@code finetune4j.data} and rendered by
 * {@code finetune4j.text}, exactly as training renders them.
 */
package finetune4j.eval;
