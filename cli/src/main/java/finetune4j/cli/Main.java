package finetune4j.cli;

/** Entry point of the {@code finetune4j} command line. */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        System.exit(Cli.run(args));
    }
}
