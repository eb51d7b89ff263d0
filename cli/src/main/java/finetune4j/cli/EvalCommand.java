package finetune4j.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import finetune4j.ConfigException;
import finetune4j.FineTune;
import finetune4j.batch.Batch;
import finetune4j.batch.ExampleTokenizer;
import finetune4j.batch.Tokenized;
import finetune4j.data.Example;
import finetune4j.model.LlamaModel;
import finetune4j.model.TrainingBuffers;
import finetune4j.text.Tokenizer;
import finetune4j.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code eval}: the loss of a model (with adapters) on a dataset, as training defines it. */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Mean loss over the target tokens of a dataset (Hugging Face causal-LM loss: mean over non-ignored"
                + " next-token targets; prompts of prompt/completion records are not targets) and perplexity.")
final class EvalCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOption model = new ModelOption();

    @Mixin
    KernelsOption kernels = new KernelsOption();

    @Mixin
    QuantOption quant = new QuantOption();

    @Mixin
    AdapterOptions adapters = new AdapterOptions();

    @Option(names = "--data", required = true, paramLabel = "FILE", description = "JSONL/JSON data ({\"text\"} or {\"prompt\", \"completion\"}).")
    Path data;

    @Option(names = "--batch-size", defaultValue = "4", description = "Sequences per forward pass (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--max-seq-len", description = "Longer examples are cut (default: the model's context).")
    Integer maxSeqLen;

    @Option(names = "--json", description = "Print {\"loss\", \"tokens\", \"perplexity\"}.")
    boolean json;

    @Override
    public Integer call() {
        if (batchSize < 1) throw new ConfigException("--batch-size", batchSize, "an integer ≥ 1");
        Path dir = model.resolve();
        Tokenizer tok = Tokenizer.load(dir);
        List<Example> examples = FineTune.readExamples(data);
        try (LlamaModel m = quant.load(dir, kernels.get())) {
            adapters.attach(m, spec);
            int len = maxSeqLen == null ? m.maxContext() : maxSeqLen;
            if (len > m.maxContext()) {
                throw new ConfigException("--max-seq-len", len, "at most the model's context of " + m.maxContext());
            }
            ExampleTokenizer et = new ExampleTokenizer(tok, FineTune.eosId(dir, tok), len);
            List<Tokenized> toks = new ArrayList<>();
            int maxT = 1;
            for (Example e : examples) {
                Tokenized t = et.tokenize(e);
                toks.add(t);
                maxT = Math.max(maxT, t.length());
            }
            TrainingBuffers buf = TrainingBuffers.allocate(m.config(), batchSize, maxT, false);
            double[] r = Trainer.evaluate(m, buf, new Batch(batchSize, maxT), toks, batchSize);
            PrintWriter o = spec.commandLine().getOut();
            if (json) {
                ObjectNode n = Json.object();
                n.put("loss", r[0]);
                n.put("tokens", (long) r[1]);
                n.put("perplexity", Math.exp(r[0]));
                Json.print(o, n);
            } else {
                o.printf(Locale.ROOT, "loss %.6f over %,d target tokens, perplexity %.4f%n", r[0], (long) r[1], Math.exp(r[0]));
                o.flush();
            }
        }
        return 0;
    }
}
