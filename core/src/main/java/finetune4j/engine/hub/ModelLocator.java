package finetune4j.engine.hub;

import finetune4j.ConfigException;

import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Turns a {@code --model} argument into a local model directory: an existing directory is used as
 * it is; otherwise {@code org/name[@revision]} is fetched from the Hugging Face Hub into the shared
 * huggingface_hub cache (see {@link HubClient}) and its snapshot directory is returned, ready for
 * {@link finetune4j.engine.io.ModelWeights#open(Path)}.
 *
 * {@snippet :
 * Path dir = ModelLocator.resolve("TinyLlama/TinyLlama-1.1B-Chat-v1.0@main");
 * // ~/.cache/huggingface/hub/models--TinyLlama--TinyLlama-1.1B-Chat-v1.0/snapshots/<commit>
 * }
 *
 * <p>Environment ({@link HubEnvironment}): {@code HF_HUB_CACHE} / {@code HF_HOME}, {@code HF_ENDPOINT},
 * {@code HF_TOKEN}, {@code HF_HUB_OFFLINE}. Progress goes to stderr.
 */
public final class ModelLocator {
    private ModelLocator() {
    }

    /**
     * Resolves {@code modelArg} with the process environment.
     *
     * @throws ConfigException                     when it is neither a directory nor a hub id
     * @throws finetune4j.ModelFormatException     when a required file is missing on the hub or, offline, in the cache
     * @throws finetune4j.Finetune4jException      on network or access failures
     */
    public static Path resolve(String modelArg) {
        return resolve(modelArg, HubEnvironment.fromSystem(), false);
    }

    /**
     * Resolves {@code modelArg} with explicit hub settings; {@code refresh} asks the hub for the
     * current commit of a branch or tag even when a complete snapshot of it is cached.
     */
    public static Path resolve(String modelArg, HubEnvironment env, boolean refresh) {
        return resolve(modelArg, env, refresh, HubClient.defaultHttp(), Progress.stderr(), Duration.ofSeconds(1));
    }

    static Path resolve(String modelArg, HubEnvironment env, boolean refresh, HttpClient http, Progress progress, Duration retryDelay) {
        if (modelArg == null || modelArg.isBlank()) {
            throw new ConfigException("--model", modelArg, "a model directory or a Hugging Face hub id org/name[@revision]");
        }
        Path local = null;
        try {
            local = Path.of(modelArg);
        } catch (InvalidPathException e) {
            // not a path; may still be a hub id
        }
        if (local != null && Files.isDirectory(local)) return local;
        if (local != null && Files.exists(local)) {
            throw new ConfigException("--model", modelArg, "a model directory (config.json, model.safetensors, tokenizer.json) "
                    + "or a hub id org/name[@revision]; this is a file (hint: pass the directory that holds it)");
        }
        HubId id = HubId.parse(modelArg);
        if (id == null) {
            throw new ConfigException("--model", modelArg, "an existing model directory or a Hugging Face hub id "
                    + "org/name[@revision] (e.g. TinyLlama/TinyLlama-1.1B-Chat-v1.0 or HuggingFaceTB/SmolLM2-135M@main); "
                    + "no directory of that name exists"
                    + (modelArg.contains("/") ? "" : " (hint: hub ids name the owner too, e.g. openai-community/gpt2 for gpt2)"));
        }
        try {
            return new HubClient(env, http, progress, retryDelay).snapshot(id, refresh);
        } catch (finetune4j.ModelFormatException e) {
            if (!modelArg.contains("@")) {
                throw new finetune4j.ModelFormatException(e.file(), stripFile(e) + " (there is no local directory '" + modelArg
                        + "' either)", e);
            }
            throw e;
        }
    }

    private static String stripFile(finetune4j.ModelFormatException e) {
        String m = e.getMessage();
        String prefix = e.file() + ": ";
        return m.startsWith(prefix) ? m.substring(prefix.length()) : m;
    }
}
