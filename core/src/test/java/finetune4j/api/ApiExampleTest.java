package finetune4j.api;

import finetune4j.FineTune;
import finetune4j.engine.tensor.DType;
import finetune4j.export.ModelInit;
import finetune4j.generate.GenerationParams;
import finetune4j.generate.GenerationResult;
import finetune4j.generate.Generator;
import finetune4j.model.LlamaModel;
import finetune4j.peft.LoraAdapter;
import finetune4j.peft.LoraConfig;
import finetune4j.peft.PeftAdapter;
import finetune4j.text.Tokenizer;
import finetune4j.train.TrainConfig;
import finetune4j.train.TrainListener;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The README's library example, through the public API alone: load a model, configure LoRA,
 * train with a listener, save the adapter, load it on a fresh model, generate.
 */
class ApiExampleTest {

    @Test
    void readmeExampleRuns(@TempDir Path tmp) throws Exception {
        Path base = tmp.resolve("my-model");
        ModelInit.preset("stories260k", base, 1, DType.F32);           // stands in for a downloaded model
        Path train = tmp.resolve("train.jsonl");
        Files.writeString(train, "{\"prompt\": \"Q: 2+2?\\nA:\", \"completion\": \" 4\"}\n".repeat(8));
        Path out = tmp.resolve("out");

        // --- README example, part 1: fine-tune
        List<Double> losses = new ArrayList<>();
        try (LlamaModel model = LlamaModel.load(base)) {
            Tokenizer tok = Tokenizer.load(base);
            LoraConfig lora = LoraConfig.builder().r(8).loraAlpha(16)
                    .targetModules(List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")).build();
            TrainConfig cfg = TrainConfig.builder().steps(30).batchSize(4).lr(1e-2).output(out).build();
            FineTune.Result r = FineTune.lora(model, tok, lora)
                    .trainData(FineTune.readExamples(train))
                    .config(cfg)
                    .run(new TrainListener() {
                        @Override
                        public void onStep(StepMetrics m) {
                            losses.add(m.loss());
                        }
                    });
            assertThat(r.summary()).startsWith("trainable params: 46,240 || all params: 306,272");
        }
        // --- part 2: use the adapter
        String text;
        try (LlamaModel model = LlamaModel.load(base)) {
            LoraAdapter.attach(model, PeftAdapter.load(out), 0, 1f);
            Tokenizer tok = Tokenizer.load(base);
            GenerationResult g = new Generator(model).generate(tok.encode("Q: 2+2?\nA:", true),
                    GenerationParams.builder().maxNewTokens(3).build(), (id, i) -> { });
            text = tok.decode(g.generatedIds(), true);
            assertThat(g.generatedIds()).isNotEmpty();
        }

        assertThat(losses).hasSize(30);
        // a random-initialised model's frozen tied head caps the logit range (|E·h| ≤ ~1.3 here), so the
        // loss cannot collapse; it must still fall clearly
        assertThat(losses.getLast()).isLessThan(losses.getFirst() - 1.0);
        assertThat(out.resolve("adapter_config.json")).exists();
        assertThat(out.resolve("adapter_model.safetensors")).exists();
        assertThat(text).isNotNull();
    }
}
