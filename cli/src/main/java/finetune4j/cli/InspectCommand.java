package finetune4j.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import finetune4j.engine.io.ModelWeights;
import finetune4j.engine.io.TensorInfo;
import finetune4j.model.LlamaModel;
import finetune4j.model.ModelConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;

/** {@code inspect}: what a model is and what running it needs. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Show a model's architecture, parameter count, dtypes and the memory it needs.")
final class InspectCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOption model = new ModelOption();

    @Option(names = "--json", description = "Print one JSON object.")
    boolean json;

    @Override
    public Integer call() {
        Path dir = model.resolve();
        ModelConfig c = ModelConfig.load(dir);
        Map<String, long[]> byDtype = new TreeMap<>();     // dtype -> {tensors, elements, bytes}
        long tensors = 0, weightBytes = 0;
        try (ModelWeights w = ModelWeights.open(dir)) {
            for (String name : w.names()) {
                TensorInfo t = w.info(name);
                long[] acc = byDtype.computeIfAbsent(t.dtype().name(), k -> new long[3]);
                acc[0]++;
                acc[1] += t.numel();
                acc[2] += t.byteSize();
                tensors++;
                weightBytes += t.byteSize();
            }
        }
        long params;
        try (LlamaModel m = finetune4j.quant.QuantizedModels.open(dir, finetune4j.engine.kernels.KernelSelector.get(), null)) {
            // validates every tensor against config.json (and a 4-bit checkpoint's quant states)
            params = m.parameterCount();
        }
        int ctx = c.maxContext();
        long kvPerToken = 2L * c.numHiddenLayers() * c.kvDim() * 4;  // K and V, FP32
        long kvFull = kvPerToken * ctx;
        PrintWriter o = spec.commandLine().getOut();
        if (json) {
            ObjectNode n = Json.object();
            n.put("dir", dir.toAbsolutePath().toString());
            n.put("architecture", c.architecture());
            n.put("model_type", c.modelType());
            n.put("parameters", params);
            n.put("layers", c.numHiddenLayers());
            n.put("hidden_size", c.hiddenSize());
            n.put("intermediate_size", c.intermediateSize());
            n.put("attention_heads", c.numAttentionHeads());
            n.put("kv_heads", c.numKeyValueHeads());
            n.put("head_dim", c.headDim());
            n.put("vocab_size", c.vocabSize());
            n.put("context", ctx);
            n.put("tie_word_embeddings", c.tieWordEmbeddings());
            n.put("tensors", tensors);
            ObjectNode d = n.putObject("dtypes");
            byDtype.forEach((k, v) -> d.putObject(k).put("tensors", v[0]).put("elements", v[1]).put("bytes", v[2]));
            n.put("weight_bytes", weightBytes);
            n.put("kv_cache_bytes_per_token", kvPerToken);
            n.put("kv_cache_bytes_full_context", kvFull);
            Json.print(o, n);
            return 0;
        }
        o.printf(Locale.ROOT, "model        %s%n", dir);
        o.printf(Locale.ROOT, "architecture %s (model_type %s)%n", c.architecture(), c.modelType());
        o.printf(Locale.ROOT, "parameters   %,d (%s)%n", params, human(params, ""));
        o.printf(Locale.ROOT, "shape        %d layers, hidden %d, intermediate %d, heads %d (kv %d, head_dim %d), vocab %d%s%n",
                c.numHiddenLayers(), c.hiddenSize(), c.intermediateSize(), c.numAttentionHeads(), c.numKeyValueHeads(),
                c.headDim(), c.vocabSize(), c.tieWordEmbeddings() ? ", tied embeddings" : "");
        o.printf(Locale.ROOT, "rope         theta %s%s, context %d%n", c.ropeTheta(),
                c.ropeScaling() == null ? "" : ", scaling " + c.ropeScaling().ropeType(), ctx);
        o.printf(Locale.ROOT, "tensors      %d%n", tensors);
        byDtype.forEach((k, v) -> o.printf(Locale.ROOT, "  %-6s     %d tensors, %,d elements, %s%n", k, v[0], v[1], bytes(v[2])));
        o.printf(Locale.ROOT, "memory       weights %s (memory-mapped, read in place)%n", bytes(weightBytes));
        o.printf(Locale.ROOT, "             KV cache %s per token, %s at the full context of %d%n",
                bytes(kvPerToken), bytes(kvFull), ctx);
        o.printf(Locale.ROOT, "             as BF16 the weights would take %s; as NF4 (QLoRA) about %s%n",
                bytes(params * 2), bytes(params / 2 + params / 64 * 4));
        return 0;
    }

    static String bytes(long b) {
        return human(b, "B");
    }

    static String human(long v, String unit) {
        String[] s = {"", "K", "M", "G", "T"};
        double x = v;
        int i = 0;
        while (x >= 1000 && i < s.length - 1) {
            x /= unit.equals("B") ? 1024 : 1000;
            i++;
        }
        String suffix = unit.equals("B") ? (i == 0 ? " B" : " " + s[i] + "iB") : s[i];
        return String.format(Locale.ROOT, i == 0 ? "%.0f%s" : "%.2f%s", x, suffix);
    }
}
