package finetune4j.quant;

import finetune4j.engine.io.ModelWeights;
import finetune4j.engine.kernels.Kernels;
import finetune4j.engine.tensor.QuantizedWeight;
import finetune4j.engine.tensor.Weight;
import finetune4j.model.LinearSlot;
import finetune4j.model.WeightSource;

import java.lang.foreign.Arena;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The weights of a model directory as the model sees them when its linear layers are 4-bit:
 * the layers that carry a bitsandbytes quant state become {@link Nf4Linear}s over the mapped
 * bytes (validated when the source opens), and — when quantizing on load — every other linear
 * layer the {@link QuantizationConfig} does not skip is quantized into off-heap memory owned by
 * this source. Embeddings, norms, biases and skipped layers come through unchanged (mapped).
 * Closing the source unmaps the files and frees the quantized memory.
 */
final class QuantizedSource implements WeightSource, AutoCloseable {
    private final ModelWeights weights;
    private final Map<String, QuantizedWeight> stored;   // weight name → 4-bit weight of the checkpoint
    private final QuantizationConfig onLoad;              // null: no quantization on load
    private final QuantSpec spec;
    private final Arena arena;                            // quantized-on-load memory, or null

    private QuantizedSource(ModelWeights weights, Map<String, QuantizedWeight> stored, QuantizationConfig onLoad, QuantSpec spec) {
        this.weights = weights;
        this.stored = stored;
        this.onLoad = onLoad;
        this.spec = spec;
        this.arena = onLoad == null ? null : Arena.ofShared();
    }

    /**
     * The checkpoint's own 4-bit weights (all read and checked now), plus — when {@code onLoad} is
     * not null — quantization of the remaining linear layers with {@code spec}.
     */
    static QuantizedSource open(ModelWeights weights, QuantizationConfig onLoad, QuantSpec spec) {
        Map<String, QuantizedWeight> stored = new LinkedHashMap<>();
        for (String w : Bnb4bitFormat.quantizedWeights(weights)) stored.put(w, Bnb4bitFormat.read(weights, w));
        return new QuantizedSource(weights, stored, onLoad, spec);
    }

    /** The 4-bit weights stored in the checkpoint, by weight name. */
    Map<String, QuantizedWeight> stored() {
        return stored;
    }

    @Override
    public String origin() {
        return weights.dir().toString();
    }

    @Override
    public boolean contains(String name) {
        return weights.contains(name);
    }

    @Override
    public long[] shape(String name) {
        QuantizedWeight q = stored.get(name);
        return q != null ? new long[]{q.rows(), q.cols()} : weights.info(name).shape();
    }

    @Override
    public Weight weight(String name) {
        QuantizedWeight q = stored.get(name);
        if (q != null) {
            throw new finetune4j.ModelFormatException(String.valueOf(weights.fileOf(name)), "tensor '" + name
                    + "' is a 4-bit weight and can only serve a linear layer");
        }
        return weights.weight(name);
    }

    @Override
    public float[] floats(String name) {
        return weights.floats(name);
    }

    @Override
    public LinearSlot linear(String module, int outFeatures, int inFeatures, float[] bias, Kernels kernels) {
        String w = module + ".weight";
        QuantizedWeight q = stored.get(w);
        if (q == null && onLoad != null && onLoad.quantizes(module)) q = Nf4Codec.quantize(weights.weight(w), spec, arena);
        return q == null ? null : new Nf4Linear(module, q, bias, kernels);
    }

    @Override
    public void close() {
        try {
            weights.close();
        } finally {
            if (arena != null) arena.close();
        }
    }
}
