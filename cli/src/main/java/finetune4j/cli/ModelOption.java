package finetune4j.cli;

import finetune4j.engine.hub.ModelLocator;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/** {@code --model DIR|org/name[@revision]}: a local model directory or a Hugging Face Hub id. */
final class ModelOption {
    @Option(names = {"-m", "--model"}, required = true, paramLabel = "MODEL",
            description = "A local model directory, or a Hugging Face Hub id org/name[@revision] "
                    + "(downloaded into the huggingface_hub cache; HF_HOME, HF_HUB_CACHE, HF_TOKEN, HF_HUB_OFFLINE, HF_ENDPOINT apply).")
    String model;

    /** The local directory (downloading a hub id first). */
    Path resolve() {
        return ModelLocator.resolve(model);
    }
}
