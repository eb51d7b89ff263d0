package finetune4j.cli;

import finetune4j.Finetune4jException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;

/**
 * The root command. Each verb is a subcommand class; they are thin layers over the core library.
 *
 * <p>Error contract: a {@link Finetune4jException} (bad file, bad data, bad config) is printed as
 * one line {@code error: <message>} on stderr with exit code 1; a usage error prints the message
 * and the usage with exit code 2; anything else is an internal error (exit 3). Stack traces are
 * printed only with {@code --debug}.
 */
@Command(name = "finetune4j", mixinStandardHelpOptions = true, version = "finetune4j 0.1.0-SNAPSHOT",
        description = "Fine-tune, run and export open LLMs in Java.",
        subcommands = {CommandLine.HelpCommand.class, DemoCommand.class, InitModelCommand.class, InspectCommand.class, TokenizeCommand.class, GenerateCommand.class, ChatCommand.class, TemplateCommand.class, DataCommand.class, TrainCommand.class, EvalCommand.class, QuantizeCommand.class, BenchCommand.class})
public final class Cli implements Runnable {
    /** Exit code for user errors (bad input files, data, config). */
    public static final int EXIT_ERROR = 1;
    /** Exit code for command-line usage errors. */
    public static final int EXIT_USAGE = 2;
    /** Exit code for unexpected internal errors. */
    public static final int EXIT_INTERNAL = 3;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @CommandLine.Option(names = "--debug", scope = CommandLine.ScopeType.INHERIT,
            description = "Print stack traces on errors.")
    boolean debug;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** Runs the CLI and returns the process exit code. */
    public static int run(String... args) {
        return commandLine().execute(args);
    }

    /** A configured command line (tests use it with their own writers). */
    public static CommandLine commandLine() {
        Cli root = new Cli();
        CommandLine cl = new CommandLine(root);
        cl.setExecutionExceptionHandler((ex, line, parseResult) -> {
            PrintWriter err = line.getErr();
            boolean debug = root.debug;
            if (ex instanceof Finetune4jException fe) {
                err.println("error: " + oneLine(fe.getMessage()));
                if (debug) ex.printStackTrace(err);
                err.flush();
                return EXIT_ERROR;
            }
            if (ex instanceof java.io.UncheckedIOException || ex instanceof java.io.IOException) {
                err.println("error: " + oneLine(String.valueOf(ex.getMessage())));
                if (debug) ex.printStackTrace(err);
                err.flush();
                return EXIT_ERROR;
            }
            err.println("internal error: " + ex + (debug ? "" : " (run with --debug for the stack trace)"));
            if (debug) ex.printStackTrace(err);
            err.flush();
            return EXIT_INTERNAL;
        });
        cl.setParameterExceptionHandler((ex, args) -> {
            CommandLine line = ex.getCommandLine();
            PrintWriter err = line.getErr();
            err.println("error: " + ex.getMessage());
            err.println("(see: " + line.getCommandSpec().qualifiedName() + " --help)");
            err.flush();
            return EXIT_USAGE;
        });
        return cl;
    }

    static String oneLine(String s) {
        return s == null ? "" : s.replace("\r", "").replace("\n", " | ");
    }
}
