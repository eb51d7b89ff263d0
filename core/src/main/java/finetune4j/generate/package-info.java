/**
 * Text generation on token ids: {@link finetune4j.generate.Generator} (prefill + KV-cache decode),
 * {@link finetune4j.generate.Sampler} and {@link finetune4j.generate.LogitsWarpers} (transformers'
 * repetition penalty, temperature, top-k, top-p, min-p, in generate()'s order; seeded draws),
 * {@link finetune4j.generate.GenerationParams}, stop reasons, streaming
 * ({@link finetune4j.generate.TokenListener}, {@link finetune4j.generate.TextStreamer}) and
 * {@link finetune4j.generate.GenerateBenchmark}. Text enters only through a decoder callback
 * ({@code int[] → String}); the tokenizer is wired in by the caller.
 */
package finetune4j.generate;
