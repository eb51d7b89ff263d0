/**
 * The Llama-family decoder: {@link finetune4j.model.ModelConfig} (from {@code config.json}),
 * {@link finetune4j.model.GenerationConfig} ({@code generation_config.json}),
 * {@link finetune4j.model.LlamaModel} (explicit per-layer forward pass over stored-dtype weights,
 * FP32 compute), {@link finetune4j.model.Session} / {@link finetune4j.model.KvCache} (incremental
 * decoding), {@link finetune4j.model.Activations} (preallocated buffers for a (B, T) batch) and
 * {@link finetune4j.model.LinearSlot}, the one attach point adapters wrap.
 *
 * <p>Training: {@link finetune4j.model.LlamaModel#forwardBackward} runs one step's forward and
 * explicit per-layer backward (llm.c style, {@code TrainingPass}) into
 * {@link finetune4j.model.TrainingBuffers} (optionally with gradient checkpointing; logits only
 * ever exist for a chunk of target rows), accumulating into the gradients of
 * {@link finetune4j.model.LlamaModel#trainableParameters()}: adapters' parameters, and for full
 * fine-tuning ({@link finetune4j.model.LlamaModel#makeTrainable}) {@link finetune4j.model.TrainableLinear}
 * slots, norms and the embedding. {@link finetune4j.model.LlamaModel#saveModel} writes a full
 * fine-tune as a Hugging Face model directory; {@code finetune4j.train.TrainBenchmark} times steps.
 *
 * <p>Shape comments use the alphabet of {@code finetune4j.engine.kernels}: B batch, T positions,
 * C hidden, H / KVH attention / key-value heads, D head dim, F MLP width, V vocabulary; BT = B·T
 * rows. Parameter names are Hugging Face's ({@code model.layers.3.self_attn.q_proj.weight}).
 *
 * <p>Reference semantics: transformers' {@code LlamaForCausalLM} / {@code Qwen2ForCausalLM} /
 * {@code MistralForCausalLM} in float32 on the same checkpoint; {@code tools/golden/llama_reference.py}
 * re-implements its forward in torch and {@code tools/golden/train_reference.py} runs the real
 * transformers for the training goldens (loss and every gradient) the tests compare against.
 */
package finetune4j.model;
