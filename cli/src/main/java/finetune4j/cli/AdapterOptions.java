package finetune4j.cli;

import finetune4j.ConfigException;
import finetune4j.model.LlamaModel;
import finetune4j.peft.LoraAdapter;
import finetune4j.peft.PeftAdapter;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;

/** {@code --adapter DIR[:weight]} (repeatable): PEFT adapters applied on top of the base model. */
final class AdapterOptions {
    @Option(names = "--adapter", paramLabel = "DIR[:WEIGHT]",
            description = "A PEFT LoRA/DoRA adapter directory, optionally with a weight (default 1); repeatable.")
    List<String> adapters;

    /** Attaches every adapter to {@code m}; PEFT's warnings go to stderr. */
    void attach(LlamaModel m, CommandSpec spec) {
        if (adapters == null) return;
        for (String a : adapters) {
            String path = a;
            float weight = 1f;
            int colon = a.lastIndexOf(':');
            if (colon > 0 && colon < a.length() - 1) {
                try {
                    weight = Float.parseFloat(a.substring(colon + 1));
                    path = a.substring(0, colon);
                } catch (NumberFormatException e) {
                    // a ':' in the path itself
                }
            }
            if (!Float.isFinite(weight)) throw new ConfigException("--adapter", a, "DIR or DIR:WEIGHT with a finite weight");
            PeftAdapter p = PeftAdapter.load(Path.of(path), w -> {
                spec.commandLine().getErr().println("warning: " + w);
                spec.commandLine().getErr().flush();
            });
            LoraAdapter.attach(m, p, 0, weight);
        }
    }
}
