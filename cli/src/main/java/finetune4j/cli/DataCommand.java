package finetune4j.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code data}: look at instruction-tuning data the way training will see it. */
@Command(name = "data", mixinStandardHelpOptions = true,
        description = "Check and preview training data: formats, chat template rendering, loss masks, lengths, bad records.",
        subcommands = {CommandLine.HelpCommand.class, DataCheckCommand.class, DataPreviewCommand.class})
final class DataCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
