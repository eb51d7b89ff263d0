package finetune4j.train;

import finetune4j.FineTune;
import finetune4j.data.Example;
import finetune4j.model.LlamaModel;
import finetune4j.peft.PeftAdapter;
import finetune4j.text.Tokenizer;

import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * Test support for whole training runs through the public {@link FineTune} API on the committed
 * tiny model of {@code golden/train_steps} (made by {@code tools/golden/train_steps_reference.py}:
 * a 2-layer Llama with a character-level tokenizer): resource paths, and a listener that records
 * every step.
 */
final class TrainRuns {
    private TrainRuns() {
    }

    /** A test resource directory or file as a path. */
    static Path resource(String rel) {
        URL url = TrainRuns.class.getClassLoader().getResource(rel);
        if (url == null) throw new IllegalStateException("test resource missing: " + rel + " (run tools/golden/train_steps_reference.py)");
        try {
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static final Path GOLDEN = resource("golden/train_steps");
    static final Path MODEL = GOLDEN.resolve("model");
    static final Path DATA = GOLDEN.resolve("train.jsonl");

    /** Records what a run reports. */
    static class Recorder implements TrainListener {
        final List<StepMetrics> steps = new ArrayList<>();
        final List<EvalMetrics> evals = new ArrayList<>();
        final List<Long> checkpoints = new ArrayList<>();
        RunInfo start;
        RunEnd end;

        @Override
        public void onStart(RunInfo run) {
            start = run;
        }

        @Override
        public void onStep(StepMetrics m) {
            steps.add(m);
        }

        @Override
        public void onEval(EvalMetrics m) {
            evals.add(m);
        }

        @Override
        public void onCheckpoint(long step, Path dir) {
            checkpoints.add(step);
        }

        @Override
        public void onEnd(RunEnd e) {
            end = e;
        }

        double[] losses() {
            double[] l = new double[steps.size()];
            for (int i = 0; i < l.length; i++) l[i] = steps.get(i).loss();
            return l;
        }
    }

    /**
     * Trains the tiny model once: {@code recipe} picks the method (given the fresh model and its
     * tokenizer), {@code config} the settings; the data is {@code data}.
     */
    static Recorder run(Path modelDir, Path data, TrainConfig config, Recipe recipe, UnaryOperator<FineTune> extra) {
        Tokenizer tok = Tokenizer.load(modelDir);
        List<Example> examples = FineTune.readExamples(data);
        try (LlamaModel model = LlamaModel.load(modelDir)) {
            FineTune ft = recipe.make(model, tok).trainData(examples).config(config).eosId(FineTune.eosId(modelDir, tok));
            ft = extra.apply(ft);
            Recorder rec = new Recorder();
            ft.run(rec);
            return rec;
        }
    }

    /** Builds the recipe for a freshly loaded model. */
    @FunctionalInterface
    interface Recipe {
        FineTune make(LlamaModel model, Tokenizer tok);

        static Recipe fromAdapter(Path dir) {
            return (m, t) -> FineTune.fromAdapter(m, t, PeftAdapter.load(dir));
        }
    }
}
