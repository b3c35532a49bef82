package dev.qsparse.cli;

import picocli.CommandLine;

/**
 * {@code bench} alone, for the self-contained bench bundle ({@code bench/bundle.sh}): it loads no
 * Flink, Kafka or demo classes, so the bundle carries only the runtime, bench and CLI jars.
 * Same options and exit codes as {@code bin/qsparse bench}.
 */
public final class BenchMain {

    private BenchMain() {}

    public static void main(String[] args) {
        CommandLine cli = new CommandLine(new BenchCommand());
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            commandLine
                    .getErr()
                    .println("qsparse bench: "
                            + (e.getMessage() == null ? e.getClass().getName() : e.getMessage()));
            return 1;
        });
        System.exit(cli.execute(args));
    }
}
