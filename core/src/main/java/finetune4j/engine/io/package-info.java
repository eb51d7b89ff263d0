/**
 * Model files on disk: the safetensors reader ({@link finetune4j.engine.io.SafetensorsFile},
 * memory-mapped and fully validated), Hugging Face model directories
 * ({@link finetune4j.engine.io.ModelWeights}: one file or index + shards) and the byte-exact
 * safetensors writer. Formats: SPECS.md §3d.
 */
package finetune4j.engine.io;
