package finetune4j.cli;

import finetune4j.testing.SharedData;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Support for the {@code train}/{@code eval} CLI tests: the committed tiny model with its
 * tokenizer, data and PEFT adapters of {@code core/src/test/resources/golden/train_steps} (made by
 * {@code tools/golden/train_steps_reference.py}), and a runner that also captures what the
 * command prints on {@code System.out} (the progress display writes there, not to picocli's writer).
 */
final class TrainCli {
    private TrainCli() {
    }

    static final Path GOLDEN = SharedData.repoRoot().resolve("core/src/test/resources/golden/train_steps");
    static final Path MODEL = GOLDEN.resolve("model");
    static final Path DATA = GOLDEN.resolve("train.jsonl");

    /** A CLI run: exit code, picocli's stdout and stderr, and what went to {@code System.out}. */
    record Run(int code, String out, String err, String console) {
    }

    static synchronized Run run(String... args) {
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            CliRunner r = CliRunner.run(args);
            return new Run(r.code(), r.out(), r.err(), buf.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(old);
        }
    }

    /** {@code train --model MODEL --data DATA --batch-size 2} followed by {@code more}. */
    static String[] train(String... more) {
        List<String> a = new ArrayList<>(List.of("train", "--model", MODEL.toString(), "--data", DATA.toString(), "--batch-size", "2"));
        a.addAll(List.of(more));
        return a.toArray(new String[0]);
    }
}
