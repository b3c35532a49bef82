package dev.qsparse.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code bin/qsparse}: JSON on stdout, errors on stderr with a non-zero exit code
 * (1 for a failure while running, 2 for a usage error).
 */
@Command(
        name = "qsparse",
        mixinStandardHelpOptions = true,
        version = "qsparse 0.1.0",
        description = "Q-Sparse sparse language models on the CPU.",
        subcommands = {
            LogitsCommand.class,
            GenerateCommand.class,
            EmbedCommand.class,
            ScoreCommand.class,
            dev.qsparse.jobs.demo.EmbeddedDemo.class,
            ConvertCommand.class,
            CalibrateCommand.class,
            ManifestCommand.class,
            BenchCommand.class
        })
public final class QSparseCli {

    /** How every command loads its model. */
    final ModelLoader models;

    private QSparseCli(ModelLoader models) {
        this.models = models;
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the CLI and returns the exit code, for tests. */
    public static int run(String... args) {
        return run(dev.qsparse.runtime.Model::load, args);
    }

    /** Runs the CLI with {@code models} loading every model (tests count loads through it). */
    static int run(ModelLoader models, String... args) {
        CommandLine cli = new CommandLine(new QSparseCli(models));
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            commandLine.getErr().println("qsparse " + commandLine.getCommandName() + ": " + describe(e));
            return 1;
        });
        return cli.execute(args);
    }

    private static String describe(Throwable e) {
        String message = e.getMessage();
        return message == null ? e.getClass().getName() : message;
    }
}
