package finetune4j.model;

import finetune4j.engine.io.SafetensorsWriter;
import finetune4j.engine.tensor.DType;

import finetune4j.engine.tensor.Weight;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * Random initialisation of a Llama-family model as transformers' {@code LlamaPreTrainedModel._init_weights}
 * does it: every linear and embedding weight ~ N(0, initializer_range²) (0.02), biases 0, RMSNorm
 * weights 1; written straight to safetensors in HF layout, element by element, so a 7B model never
 * sits in memory.
 *
 * <p>Values are a pure function of (seed, tensor name, element index): elements come in blocks of
 * {@value #BLOCK} from a {@link SplittableRandom} seeded with {@code mix(seed, name, block)}. So
 * {@link #source} (the model in memory, for {@code bench train --preset}) holds exactly the values
 * {@link #write} puts in the files.
 */
public final class RandomInit {
    static final int BLOCK = 1 << 16;

    private RandomInit() {
    }

    /** Tensor names and shapes of a model with this config, in HF order (embedding, layers, norm, head). */
    public static List<Object[]> tensorList(ModelConfig c) {
        List<Object[]> t = new ArrayList<>();
        int C = c.hiddenSize(), F = c.intermediateSize();
        t.add(new Object[]{"model.embed_tokens.weight", new long[]{c.vocabSize(), C}});
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            String p = "model.layers." + i + ".";
            t.add(new Object[]{p + "input_layernorm.weight", new long[]{C}});
            t.add(new Object[]{p + "self_attn.q_proj.weight", new long[]{c.qDim(), C}});
            t.add(new Object[]{p + "self_attn.k_proj.weight", new long[]{c.kvDim(), C}});
            t.add(new Object[]{p + "self_attn.v_proj.weight", new long[]{c.kvDim(), C}});
            if (c.qkvBias()) {
                t.add(new Object[]{p + "self_attn.q_proj.bias", new long[]{c.qDim()}});
                t.add(new Object[]{p + "self_attn.k_proj.bias", new long[]{c.kvDim()}});
                t.add(new Object[]{p + "self_attn.v_proj.bias", new long[]{c.kvDim()}});
            }
            t.add(new Object[]{p + "self_attn.o_proj.weight", new long[]{C, c.qDim()}});
            if (c.oBias()) t.add(new Object[]{p + "self_attn.o_proj.bias", new long[]{C}});
            t.add(new Object[]{p + "post_attention_layernorm.weight", new long[]{C}});
            t.add(new Object[]{p + "mlp.gate_proj.weight", new long[]{F, C}});
            t.add(new Object[]{p + "mlp.up_proj.weight", new long[]{F, C}});
            t.add(new Object[]{p + "mlp.down_proj.weight", new long[]{C, F}});
            if (c.mlpBias()) {
                t.add(new Object[]{p + "mlp.gate_proj.bias", new long[]{F}});
                t.add(new Object[]{p + "mlp.up_proj.bias", new long[]{F}});
                t.add(new Object[]{p + "mlp.down_proj.bias", new long[]{C}});
            }
        }
        t.add(new Object[]{"model.norm.weight", new long[]{C}});
        if (!c.tieWordEmbeddings()) t.add(new Object[]{"lm_head.weight", new long[]{c.vocabSize(), C}});
        return t;
    }

    /**
     * Writes {@code model.safetensors} (or shards of at most {@code maxShardBytes} with an index)
     * and {@code config.json} for {@code c} into {@code dir}.
     *
     * @param std   standard deviation of the weights (transformers: {@code initializer_range})
     * @param dtype F32, BF16 or F16
     */
    public static void write(ModelConfig c, Path dir, long seed, double std, DType dtype, long maxShardBytes) {
        SafetensorsWriter w = SafetensorsWriter.create().metadata("format", "pt");
        for (Object[] e : tensorList(c)) {
            String name = (String) e[0];
            long[] shape = (long[]) e[1];
            boolean norm = name.endsWith("norm.weight");
            boolean bias = name.endsWith(".bias");
            long key = mix(seed, name);
            SafetensorsWriter.FloatFill fill = norm ? (first, out, n) -> java.util.Arrays.fill(out, 0, n, 1f)
                    : bias ? (first, out, n) -> java.util.Arrays.fill(out, 0, n, 0f)
                    : (first, out, n) -> normal(key, std, first, out, n);
            w.add(name, dtype, shape, fill);
        }
        w.writeSharded(dir, maxShardBytes);
        c.write(dir, null);
    }

    /**
     * The same random model as {@link #write} (same seed: the same values), held in memory instead
     * of written: every matrix in {@code dtype} in one off-heap segment of {@code arena} (not on
     * the Java heap, so the heap stays as small as for a memory-mapped model), norm weights and
     * biases as FP32 arrays. Blocks are generated in parallel. The model built on it
     * ({@link LlamaModel#fromWeights}) must not outlive the arena.
     *
     * @param dtype F32, BF16 or F16
     */
    public static WeightSource source(ModelConfig c, long seed, double std, DType dtype, Arena arena) {
        if (!dtype.isComputeFloat()) throw new IllegalArgumentException("dtype " + dtype + " is not F32/BF16/F16");
        Map<String, Weight> matrices = new HashMap<>();
        Map<String, float[]> vectors = new HashMap<>();
        for (Object[] e : tensorList(c)) {
            String name = (String) e[0];
            long[] shape = (long[]) e[1];
            if (shape.length == 1) {
                float[] v = new float[(int) shape[0]];
                if (name.endsWith("norm.weight")) java.util.Arrays.fill(v, 1f);
                vectors.put(name, v);
                continue;
            }
            long numel = shape[0] * shape[1];
            MemorySegment seg = arena.allocate(dtype.byteSize(numel), 64);
            long key = mix(seed, name);
            int blocks = (int) ((numel + BLOCK - 1) / BLOCK);
            IntStream.range(0, blocks).parallel().forEach(b -> {              // one RNG block per task
                long first = (long) b * BLOCK;
                int n = (int) Math.min(BLOCK, numel - first);
                float[] buf = new float[n];
                normal(key, std, first, buf, n);
                for (int i = 0; i < n; i++) dtype.setFloat(seg, first + i, buf[i]);
            });
            matrices.put(name, new Weight(name, dtype, (int) shape[0], (int) shape[1], seg));
        }
        return WeightSource.of("random " + c.architecture() + " (seed " + seed + ", " + dtype + ", in memory)",
                matrices, vectors);
    }

    /**
     * Elements {@code [first, first + n)} of the values {@link #write} puts in matrix {@code name}
     * (its N(0, std²) stream): for writers that never hold the whole tensor, such as a 4-bit
     * quantizer fed straight from the generator.
     */
    public static void values(long seed, String name, double std, long first, float[] out, int n) {
        normal(mix(seed, name), std, first, out, n);
    }

    /** Elements {@code [first, first + n)} of the N(0, std²) stream {@code key}. */
    static void normal(long key, double std, long first, float[] out, int n) {
        int i = 0;
        while (i < n) {
            long index = first + i;
            long block = index / BLOCK;
            int within = (int) (index % BLOCK);
            SplittableRandom r = new SplittableRandom(key ^ (block * 0x9E3779B97F4A7C15L));
            for (int s = 0; s < within; s++) r.nextGaussian();      // only when a call starts mid-block
            int take = Math.min(n - i, BLOCK - within);
            for (int j = 0; j < take; j++) out[i + j] = (float) (r.nextGaussian() * std);
            i += take;
        }
    }

    private static long mix(long seed, String name) {
        long h = seed * 0xBF58476D1CE4E5B9L;
        for (byte b : name.getBytes(StandardCharsets.UTF_8)) h = (h ^ b) * 0x100000001B3L;
        h ^= h >>> 31;
        return h * 0x94D049BB133111EBL;
    }
}
