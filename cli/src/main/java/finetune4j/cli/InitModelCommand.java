package finetune4j.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import finetune4j.ConfigException;
import finetune4j.Finetune4jException;
import finetune4j.engine.tensor.DType;
import finetune4j.export.ModelInit;
import finetune4j.model.ModelPresets;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code init-model}: a random-initialised model directory in Hugging Face layout with a working tokenizer. */
@Command(name = "init-model", mixinStandardHelpOptions = true,
        description = "Write a random-initialised Llama-family model (HF layout, safetensors, with a tokenizer trained on the"
                + " built-in corpus and a ChatML chat template) for tests and benchmarks.")
final class InitModelCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    static final class Source {
        @Option(names = "--preset", paramLabel = "NAME",
                description = "A model shape: stories260k, smollm-135m, tinyllama-1.1b, llama-2-7b.")
        String preset;

        @Option(names = "--config", paramLabel = "FILE", description = "A config.json to take the shape from.")
        Path config;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Source source;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output directory (created).")
    Path out;

    @Option(names = "--seed", defaultValue = "0", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--dtype", defaultValue = "f32", paramLabel = "f32|bf16|f16",
            description = "Stored dtype of the weights (default: ${DEFAULT-VALUE}).")
    String dtype;

    @Option(names = "--quantize", paramLabel = "nf4|fp4",
            description = "Write the linear layers (all but lm_head) in 4 bits, quantized straight from the generator (the"
                    + " full-precision weights are never written): a bitsandbytes checkpoint like the quantize command's.")
    String quantize;

    @Option(names = "--blocksize", defaultValue = "64", description = "With --quantize: elements per block (default: ${DEFAULT-VALUE}).")
    int blocksize;

    @Option(names = "--double-quant", description = "With --quantize: quantize the block scales too.")
    boolean doubleQuant;

    @Option(names = "--json", description = "Print one JSON object describing the result.")
    boolean json;

    @Override
    public Integer call() {
        DType dt = switch (dtype.toLowerCase(Locale.ROOT)) {
            case "f32", "float32" -> DType.F32;
            case "bf16", "bfloat16" -> DType.BF16;
            case "f16", "float16" -> DType.F16;
            default -> throw new ConfigException("--dtype", dtype, "one of [f32, bf16, f16]");
        };
        finetune4j.quant.QuantizationConfig qc = null;
        if (quantize != null) {
            var qs = new finetune4j.quant.QuantSpec(finetune4j.quant.QuantSpec.parseType(quantize), blocksize, doubleQuant);
            qc = new finetune4j.quant.QuantizationConfig(qs.type(), doubleQuant, dt == DType.F32 ? "float32"
                    : dt == DType.BF16 ? "bfloat16" : "float16", null);
        }
        ModelInit.Result r;
        if (source.preset != null) {
            r = ModelInit.preset(source.preset, out, seed, dt, qc, blocksize);
        } else {
            String text;
            try {
                text = Files.readString(source.config);
            } catch (IOException e) {
                throw new Finetune4jException(source.config + ": cannot read the config file (" + e.getMessage() + ")");
            }
            r = ModelInit.create(text, source.config.toString(), out, seed, dt, qc, blocksize);
        }
        var o = spec.commandLine().getOut();
        if (json) {
            ObjectNode n = Json.object();
            n.put("dir", r.dir().toAbsolutePath().toString());
            n.put("architecture", r.config().architecture());
            n.put("parameters", r.parameters());
            n.put("dtype", r.dtype().name());
            if (qc != null) n.put("quantized", qc.type().bnbName());
            n.put("tokenizer_vocab", r.tokenizerVocab());
            n.put("vocab_size", r.config().vocabSize());
            Json.print(o, n);
        } else {
            o.printf(Locale.ROOT, "wrote %s: %s, %,d parameters, %s weights%s, tokenizer of %d tokens (vocab_size %d)%n",
                    r.dir(), r.config().architecture(), r.parameters(), r.dtype(),
                    qc == null ? "" : " (linear layers " + qc.type().bnbName() + (doubleQuant ? ", double-quantized" : "") + ")",
                    r.tokenizerVocab(), r.config().vocabSize());
        }
        return 0;
    }

    static String presets() {
        return String.join(", ", ModelPresets.names());
    }
}
