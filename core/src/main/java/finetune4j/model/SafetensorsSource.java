package finetune4j.model;

import finetune4j.engine.io.ModelWeights;
import finetune4j.engine.tensor.Weight;

import java.nio.file.Path;

/** The memory-mapped safetensors of a model directory as a {@link WeightSource}; closing unmaps them. */
final class SafetensorsSource implements WeightSource, AutoCloseable {
    private final ModelWeights weights;

    private SafetensorsSource(ModelWeights weights) {
        this.weights = weights;
    }

    static SafetensorsSource open(Path dir) {
        return new SafetensorsSource(ModelWeights.open(dir));
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
        return weights.info(name).shape();
    }

    @Override
    public Weight weight(String name) {
        return weights.weight(name);
    }

    @Override
    public float[] floats(String name) {
        return weights.floats(name);
    }

    @Override
    public void close() {
        weights.close();
    }
}
