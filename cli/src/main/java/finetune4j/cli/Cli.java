package finetune4j.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The root command: subcommands are registered here. */
@Command(name = "finetune4j", mixinStandardHelpOptions = true, version = "finetune4j 0.1.0-SNAPSHOT",
        description = "Fine-tune, run and export open LLMs in Java.",
        subcommands = {CommandLine.HelpCommand.class})
public final class Cli implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** Runs the CLI and returns the process exit code. */
    public static int run(String... args) {
        return new CommandLine(new Cli()).execute(args);
    }
}
