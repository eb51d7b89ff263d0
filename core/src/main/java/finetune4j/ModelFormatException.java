package finetune4j;

import java.nio.file.Path;

/**
 * A model, tokenizer or adapter file is missing, truncated, corrupted or not what it claims to be.
 * The message always names the file (and the tensor or key where there is one).
 */
public class ModelFormatException extends Finetune4jException {
    private final String file;

    public ModelFormatException(Path file, String what) {
        this(String.valueOf(file), what, null);
    }

    public ModelFormatException(String file, String what) {
        this(file, what, null);
    }

    public ModelFormatException(String file, String what, Throwable cause) {
        super(file + ": " + what, cause);
        this.file = file;
    }

    /** The file the problem was found in. */
    public String file() {
        return file;
    }
}
