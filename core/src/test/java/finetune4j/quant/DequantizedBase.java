package finetune4j.quant;

import finetune4j.engine.io.ModelWeights;
import finetune4j.engine.kernels.Kernels;
import finetune4j.engine.tensor.Weight;
import finetune4j.model.GenerationConfig;
import finetune4j.model.LinearSlot;
import finetune4j.model.LlamaModel;
import finetune4j.model.ModelConfig;
import finetune4j.model.WeightSource;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * The dense twin of a 4-bit model for invariant tests: the same directory's tensors, with every
 * 4-bit layer replaced by an FP32 heap weight holding its dequantized values (what QLoRA's base
 * computes with). Closing it unmaps the directory.
 */
final class DequantizedBase implements AutoCloseable {
    final LlamaModel model;
    private final ModelWeights weights;

    DequantizedBase(Path dir, LlamaModel quantized, Kernels kernels) {
        Map<String, Weight> deq = new HashMap<>();
        for (LinearSlot s : quantized.linearSlots()) {
            if (s instanceof Nf4Linear q) {
                deq.put(s.name() + ".weight", Weight.ofArray(s.name() + ".weight", q.weight().toFloatArray(), q.outFeatures(), q.inFeatures()));
            }
        }
        weights = ModelWeights.open(dir);
        WeightSource src = new WeightSource() {
            @Override
            public String origin() {
                return "dequantized " + dir;
            }

            @Override
            public boolean contains(String name) {
                return deq.containsKey(name) || weights.contains(name);
            }

            @Override
            public long[] shape(String name) {
                Weight w = deq.get(name);
                return w != null ? new long[]{w.rows(), w.cols()} : weights.info(name).shape();
            }

            @Override
            public Weight weight(String name) {
                Weight w = deq.get(name);
                return w != null ? w : weights.weight(name);
            }

            @Override
            public float[] floats(String name) {
                return weights.floats(name);
            }
        };
        model = LlamaModel.fromWeights(ModelConfig.load(dir), GenerationConfig.load(dir), src, kernels);
    }

    @Override
    public void close() {
        weights.close();
    }
}
