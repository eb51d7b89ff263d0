package finetune4j.model;

import finetune4j.engine.kernels.Kernels;
import finetune4j.engine.tensor.Weight;

import java.util.Arrays;
import java.util.Map;

/**
 * Where a model's parameters come from, by HF name: the memory-mapped safetensors of a model
 * directory (see {@link LlamaModel#load}), or in-memory tensors built by tests and tools
 * ({@link #of}). The model checks every shape against its {@link ModelConfig} before use.
 */
public interface WeightSource {
    /** Where the tensors live (a directory or a description), used in error messages. */
    String origin();

    boolean contains(String name);

    /** The tensor's shape; only called for names {@link #contains} accepts. */
    long[] shape(String name);

    /** A rank-2 F32/BF16/F16 tensor in its stored dtype (not copied where the source allows). */
    Weight weight(String name);

    /** A small tensor (norm weight, bias) converted to a new FP32 array. */
    float[] floats(String name);

    /**
     * The linear layer {@code module} when this source builds it itself (a 4-bit layer of a
     * quantized checkpoint, or one quantized on load), else null: the model then makes a
     * {@link DenseLinear} over {@link #weight weight(module + ".weight")}. The model has checked
     * {@link #shape} of the weight against its config before asking.
     *
     * @param bias the layer's bias (FP32), or null
     */
    default LinearSlot linear(String module, int outFeatures, int inFeatures, float[] bias, Kernels kernels) {
        return null;
    }

    /**
     * In-memory tensors: {@code matrices} (rank 2) and {@code vectors} (rank 1, FP32). The maps
     * are used as given (not copied).
     */
    static WeightSource of(String origin, Map<String, Weight> matrices, Map<String, float[]> vectors) {
        return new WeightSource() {
            @Override
            public String origin() {
                return origin;
            }

            @Override
            public boolean contains(String name) {
                return matrices.containsKey(name) || vectors.containsKey(name);
            }

            @Override
            public long[] shape(String name) {
                Weight w = matrices.get(name);
                if (w != null) return new long[]{w.rows(), w.cols()};
                return new long[]{vectors.get(name).length};
            }

            @Override
            public Weight weight(String name) {
                Weight w = matrices.get(name);
                if (w == null) throw new IllegalArgumentException(name + " is not a matrix of " + origin);
                return w;
            }

            @Override
            public float[] floats(String name) {
                float[] v = vectors.get(name);
                if (v != null) return v.clone();
                Weight w = matrices.get(name);
                if (w == null) throw new IllegalArgumentException(name + " is not in " + origin);
                return w.toFloatArray();
            }

            @Override
            public String toString() {
                return origin + " " + Arrays.toString(matrices.keySet().toArray());
            }
        };
    }
}
