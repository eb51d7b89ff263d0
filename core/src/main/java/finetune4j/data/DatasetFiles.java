package finetune4j.data;

import finetune4j.InvalidDataException;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where a dataset's splits are: a single file (all of it is training data), or a directory in the
 * mlx-lm layout with {@code train.jsonl} and optionally {@code valid.jsonl} and {@code test.jsonl}
 * (each may also be {@code .json}, {@code .jsonl.gz} or {@code .json.gz}).
 *
 * @param train the training records
 * @param valid the validation records, or null (then a split may be carved from train)
 * @param test  the test records, or null
 */
public record DatasetFiles(Path train, Path valid, Path test) {
    private static final String[] EXTENSIONS = {".jsonl", ".json", ".jsonl.gz", ".json.gz"};

    /**
     * The splits of {@code path}.
     *
     * @throws InvalidDataException when the path does not exist, or a directory has no train file
     */
    public static DatasetFiles resolve(Path path) {
        if (Files.isRegularFile(path)) return new DatasetFiles(path, null, null);
        if (!Files.isDirectory(path)) {
            throw new InvalidDataException(path.toString(), 0, null, "no such file or directory (hint: --data takes a .jsonl,"
                    + " .json or .gz file, or a directory with train.jsonl / valid.jsonl / test.jsonl)");
        }
        Path train = find(path, "train");
        if (train == null) {
            throw new InvalidDataException(path.toString(), 0, null, "the directory has no train.jsonl (mlx-lm layout:"
                    + " train.jsonl, and optionally valid.jsonl and test.jsonl; .json and .gz work too)");
        }
        return new DatasetFiles(train, find(path, "valid"), find(path, "test"));
    }

    private static Path find(Path dir, String split) {
        for (String ext : EXTENSIONS) {
            Path p = dir.resolve(split + ext);
            if (Files.isRegularFile(p)) return p;
        }
        return null;
    }
}
