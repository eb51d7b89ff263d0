package finetune4j.eval;

import finetune4j.testing.SharedData;

import java.nio.file.Path;

/** The committed tiny model with a tokenizer (golden/train_steps/model: 2 layers, C = 32, context 64). */
final class EvalModels {
    private EvalModels() {
    }

    static final Path TINY = SharedData.repoRoot().resolve("core/src/test/resources/golden/train_steps/model");

    /** log softmax(logits[row])[token] in double. */
    static double logProb(float[] logits, int row, int vocab, int token) {
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < vocab; j++) max = Math.max(max, logits[row * vocab + j]);
        double sum = 0;
        for (int j = 0; j < vocab; j++) sum += Math.exp(logits[row * vocab + j] - max);
        return logits[row * vocab + token] - max - Math.log(sum);
    }
}
