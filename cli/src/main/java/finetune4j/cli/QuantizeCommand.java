package finetune4j.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import finetune4j.ConfigException;
import finetune4j.quant.QuantSpec;
import finetune4j.quant.QuantizationConfig;
import finetune4j.quant.QuantizedModels;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code quantize}: write a bitsandbytes 4-bit checkpoint of a model. */
@Command(name = "quantize", mixinStandardHelpOptions = true,
        description = "Quantize a model's linear layers to 4 bits (bitsandbytes NF4 or FP4, optional double quantization) and"
                + " write a Hugging Face checkpoint that transformers + bitsandbytes load (quantization_config in config.json)."
                + " Embeddings, norms and lm_head stay as they are, as transformers does.")
final class QuantizeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOption model = new ModelOption();

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output directory.")
    Path out;

    @Option(names = "--type", defaultValue = "nf4", paramLabel = "nf4|fp4", description = "4-bit data type (default: ${DEFAULT-VALUE}).")
    String type;

    @Option(names = "--double-quant", description = "Quantize the block scales too (8-bit, blocks of 256): bnb_4bit_use_double_quant.")
    boolean doubleQuant;

    @Option(names = "--blocksize", defaultValue = "64", description = "Elements per block: a power of two from 32 to 4096 (default: ${DEFAULT-VALUE}).")
    int blocksize;

    @Option(names = "--compute-dtype", defaultValue = "bf16", paramLabel = "bf16|f32|f16",
            description = "bnb_4bit_compute_dtype recorded in config.json (what bitsandbytes computes in on a GPU;"
                    + " finetune4j computes in FP32; default: ${DEFAULT-VALUE}).")
    String computeDtype;

    @Option(names = "--skip-modules", split = ",", paramLabel = "NAMES",
            description = "Modules kept in full precision (llm_int8_skip_modules: names, suffixes or regexes). Replaces"
                    + " transformers' default, lm_head.")
    List<String> skipModules;

    @Option(names = "--json", description = "Print one JSON object describing the result.")
    boolean json;

    @Override
    public Integer call() {
        QuantSpec qs = new QuantSpec(QuantSpec.parseType(type), blocksize, doubleQuant);
        QuantizationConfig qc = new QuantizationConfig(qs.type(), doubleQuant, QuantizationConfig.computeDtype(computeDtype),
                skipModules == null || skipModules.isEmpty() ? null : skipModules);
        Path dir = model.resolve();
        if (out.toAbsolutePath().normalize().equals(dir.toAbsolutePath().normalize())) {
            throw new ConfigException("--out", out.toString(), "a directory other than the model's");
        }
        long t0 = System.nanoTime();
        QuantizedModels.Result r = QuantizedModels.quantize(dir, out, qc, blocksize);
        double s = (System.nanoTime() - t0) / 1e9;
        PrintWriter o = spec.commandLine().getOut();
        if (json) {
            ObjectNode n = Json.object();
            n.put("out", out.toAbsolutePath().toString());
            n.put("quant_type", qs.type().bnbName());
            n.put("blocksize", blocksize);
            n.put("double_quant", doubleQuant);
            n.put("quantized_layers", r.quantizedLayers());
            n.put("input_bytes", r.inputBytes());
            n.put("output_bytes", r.outputBytes());
            n.put("seconds", s);
            Json.print(o, n);
        } else {
            o.printf(Locale.ROOT, "wrote %s: %d linear layers in %s (blocks of %d%s), %.1f MiB -> %.1f MiB in %.1f s%n", out,
                    r.quantizedLayers(), qs.type().bnbName(), blocksize, doubleQuant ? ", double-quantized" : "",
                    r.inputBytes() / 1048576.0, r.outputBytes() / 1048576.0, s);
        }
        o.flush();
        return 0;
    }
}
