package finetune4j.export;

import finetune4j.ConfigException;
import finetune4j.data.SyntheticStories;
import finetune4j.engine.tensor.DType;
import finetune4j.model.GenerationConfig;
import finetune4j.model.ModelConfig;
import finetune4j.model.ModelPresets;
import finetune4j.model.RandomInit;
import finetune4j.quant.QuantizationConfig;
import finetune4j.quant.QuantizedModels;
import finetune4j.text.BpeTrainer;

import java.nio.file.Path;
import java.util.List;

/**
 * Creates a random-initialised model directory in Hugging Face layout, with a working tokenizer:
 * {@code config.json}, {@code generation_config.json}, {@code model.safetensors} (or shards),
 * {@code tokenizer.json}, {@code tokenizer_config.json} (ChatML chat template),
 * {@code special_tokens_map.json}. For tests and benchmarks ({@code init-model}).
 *
 * <p>The tokenizer is a byte-level BPE trained on the built-in synthetic story corpus
 * ({@link SyntheticStories}); its ids are {@code <unk>}=0, {@code <s>}=1 (BOS), {@code </s>}=2 (EOS),
 * {@code <|im_start|>}=3, {@code <|im_end|>}=4, then bytes and merges. It has at most
 * {@code vocab_size} tokens; when the model's vocabulary is larger, the extra embedding rows are
 * simply never produced by the tokenizer (as with padded vocabularies in published models).
 */
public final class ModelInit {
    /** Largest tokenizer trained for an init-model (the corpus saturates well before). */
    static final int MAX_TOKENIZER_VOCAB = 1024;
    /** Shard size of written weights (the transformers default for save_pretrained is 5 GB). */
    static final long SHARD_BYTES = 2_000_000_000L;

    private ModelInit() {
    }

    /** What was written. */
    public record Result(Path dir, ModelConfig config, int tokenizerVocab, DType dtype, long parameters) {
    }

    /** A preset model ({@link ModelPresets#names()}) in {@code dtype} (F32 or BF16). */
    public static Result preset(String preset, Path out, long seed, DType dtype) {
        return preset(preset, out, seed, dtype, null, 0);
    }

    /**
     * A preset model whose linear layers are written in 4 bits ({@code quant}, blocks of
     * {@code blocksize}; quantized straight from the generator: the full-precision weights never
     * exist), or a dense one when {@code quant} is null.
     */
    public static Result preset(String preset, Path out, long seed, DType dtype, QuantizationConfig quant, int blocksize) {
        return create(ModelPresets.configJson(preset, torchDtype(dtype)), "preset " + preset, out, seed, dtype, quant, blocksize);
    }

    /** A model from {@code config.json} text ({@code origin} names it in errors). */
    public static Result create(String configJson, String origin, Path out, long seed, DType dtype) {
        return create(configJson, origin, out, seed, dtype, null, 0);
    }

    /** {@link #create(String, String, Path, long, DType)}, with 4-bit linear layers when {@code quant} is not null. */
    public static Result create(String configJson, String origin, Path out, long seed, DType dtype, QuantizationConfig quant,
                                int blocksize) {
        if (dtype != DType.F32 && dtype != DType.BF16 && dtype != DType.F16) {
            throw new ConfigException("dtype", dtype, "one of [f32, bf16, f16]");
        }
        ModelConfig c = ModelConfig.parse(origin, configJson);
        if (c.vocabSize() < 5 + 256) {
            throw new ConfigException("vocab_size", c.vocabSize(), "at least 261 (5 special tokens + 256 byte tokens)");
        }
        int tokVocab = Math.min(c.vocabSize(), MAX_TOKENIZER_VOCAB);
        BpeTrainer.Trained tok = BpeTrainer.train(SyntheticStories.corpus(seed, 2000), tokVocab,
                BpeTrainer.Specials.llamaChatMl());
        if (quant == null) RandomInit.write(c, out, seed, 0.02, dtype, SHARD_BYTES);
        else QuantizedModels.writeRandom(c, out, seed, 0.02, dtype, quant, blocksize);
        // config.json with the tokenizer's BOS/EOS and dtype (RandomInit wrote it from the parsed config)
        ModelConfig fixed = new ModelConfig(c.architecture(), c.modelType(), c.vocabSize(), c.hiddenSize(),
                c.intermediateSize(), c.numHiddenLayers(), c.numAttentionHeads(), c.numKeyValueHeads(), c.headDim(),
                c.maxPositionEmbeddings(), c.rmsNormEps(), c.ropeTheta(), c.ropeScaling(), c.qkvBias(), c.oBias(),
                c.mlpBias(), c.tieWordEmbeddings(), tok.id("<s>"), List.of(tok.id("</s>")), torchDtype(dtype),
                c.slidingWindow());
        fixed.write(out, ModelConfig.rawJson(out));
        GenerationConfig d = GenerationConfig.defaults();
        new GenerationConfig(tok.id("<s>"), List.of(tok.id("</s>"), tok.id("<|im_end|>")), -1, false,
                d.temperature(), d.topK(), d.topP(), d.minP(), d.repetitionPenalty(), -1, -1).write(out);
        BpeTrainer.write(tok, out, BpeTrainer.CHATML_TEMPLATE, c.maxPositionEmbeddings());
        return new Result(out, fixed, tok.vocab().size(), dtype, parameterCount(c));
    }

    static long parameterCount(ModelConfig c) {
        long n = 0;
        for (Object[] e : RandomInit.tensorList(c)) {
            long p = 1;
            for (long d : (long[]) e[1]) p *= d;
            n += p;
        }
        return n;
    }

    static String torchDtype(DType d) {
        return switch (d) {
            case F32 -> "float32";
            case BF16 -> "bfloat16";
            case F16 -> "float16";
            default -> throw new ConfigException("dtype", d, "one of [f32, bf16, f16]");
        };
    }
}
