/**
 * Models from the Hugging Face Hub: {@link finetune4j.engine.hub.ModelLocator} turns a
 * {@code --model} argument (a directory, or {@code org/name[@revision]}) into a local model
 * directory, downloading into the cache shared with huggingface_hub (same layout, same
 * environment variables: {@link finetune4j.engine.hub.HubEnvironment}).
 */
package finetune4j.engine.hub;
