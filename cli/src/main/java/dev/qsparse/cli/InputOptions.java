package dev.qsparse.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/**
 * The flags shared by {@code embed}, {@code score} and {@code generate} to run many inputs in one
 * model load: {@code --input FILE|-} with {@code --format lines|jsonl}, the bounds every input is
 * checked against before the model is loaded, and the micro-batch size.
 */
final class InputOptions {

    /** {@code --input}'s name for standard input. */
    static final String STDIN = "-";

    /** Default bound on the bytes read (64 MiB): far above any held-out set, far below the heap. */
    static final long DEFAULT_MAX_FILE_BYTES = 64L * 1024 * 1024;

    @Option(
            names = "--input",
            paramLabel = "FILE|-",
            description = "Run every non-blank line of FILE (or of stdin, for -) as its own input, the model loaded"
                    + " once; needs --format. Prints one JSON object per input (JSON Lines), in input order, each"
                    + " with its \"line\" number and, in jsonl, its \"id\". Every line is read and checked before the"
                    + " model loads: a bad line or a bound passed is an error naming the line (exit 1, nothing"
                    + " printed).")
    String input;

    @Option(
            names = "--format",
            paramLabel = "lines|jsonl",
            converter = InputFormat.Converter.class,
            description = "How --input is read: lines (each line is a text, as it is) or jsonl (each line a JSON"
                    + " object: \"text\", optional \"id\" (string or integer), and the command's own keys; any"
                    + " other key is refused).")
    InputFormat format;

    @Option(
            names = "--max-file-bytes",
            paramLabel = "N",
            defaultValue = "" + DEFAULT_MAX_FILE_BYTES,
            description = "Read at most N bytes of the input file or stdin (default ${DEFAULT-VALUE}).")
    long maxFileBytes;

    @Option(
            names = "--max-lines",
            paramLabel = "N",
            defaultValue = "100000",
            description = "Most non-empty lines the input may hold (default ${DEFAULT-VALUE}).")
    int maxLines;

    @Option(
            names = "--max-line-chars",
            paramLabel = "N",
            defaultValue = "20000",
            description = "Longest input line, in code points (default ${DEFAULT-VALUE}); the model reads at most"
                    + " its context of a text anyway.")
    int maxLineChars;

    @Option(
            names = "--batch",
            paramLabel = "N",
            defaultValue = "32",
            description = "Inputs of --input (and embed --file) run together (1 to 1024, default ${DEFAULT-VALUE});"
                    + " results are the same at any batch size.")
    int batch;

    /** Whether {@code --input} was given. */
    boolean given() {
        return input != null;
    }

    /**
     * Fails with a usage error unless exactly one way of giving the input was used: {@code --input}
     * or the command's own flags (each a name and whether it was given; {@code secondFlag} null for
     * a command with one), and unless {@code --format} comes with {@code --input} and only with it.
     */
    void requireExactlyOne(
            CommandSpec spec, String firstFlag, boolean firstGiven, String secondFlag, boolean secondGiven) {
        int count = (given() ? 1 : 0) + (firstGiven ? 1 : 0) + (secondGiven ? 1 : 0);
        String choices = secondFlag == null ? firstFlag + " or --input" : firstFlag + ", " + secondFlag + " or --input";
        if (count != 1) {
            throw new ParameterException(
                    spec.commandLine(), (count == 0 ? "Missing: " : "Give only one of ") + choices);
        }
        if (given() && format == null) {
            throw new ParameterException(spec.commandLine(), "--input needs --format lines or --format jsonl");
        }
        if (!given() && format != null) {
            throw new ParameterException(spec.commandLine(), "--format goes with --input");
        }
    }

    /** {@code --input}, read and checked in full. */
    List<InputRecord> read(String verb, Set<String> commandKeys) throws IOException {
        checkBounds();
        List<String> lines = STDIN.equals(input)
                ? TextFile.readLines(System.in, "stdin", maxFileBytes)
                : TextFile.readLines(Path.of(input), maxFileBytes);
        String source = STDIN.equals(input) ? "stdin" : input;
        return InputReader.read(lines, source, format, maxLines, maxLineChars, verb, commandKeys);
    }

    /**
     * A file read as {@code --input FILE --format lines} reads it, under the same bounds: {@code
     * embed --file} is that command, {@code score --file} scores the lines as one corpus.
     */
    List<InputRecord> readLines(Path file, String verb) throws IOException {
        checkBounds();
        List<String> lines = TextFile.readLines(file, maxFileBytes);
        return InputReader.read(lines, file.toString(), InputFormat.LINES, maxLines, maxLineChars, verb, Set.of());
    }

    private void checkBounds() {
        if (maxFileBytes < 1) {
            throw new IllegalArgumentException("--max-file-bytes must be >= 1, got " + maxFileBytes);
        }
        if (maxLines < 1) {
            throw new IllegalArgumentException("--max-lines must be >= 1, got " + maxLines);
        }
        if (maxLineChars < 1) {
            throw new IllegalArgumentException("--max-line-chars must be >= 1, got " + maxLineChars);
        }
        if (batch < 1 || batch > 1024) {
            throw new IllegalArgumentException("--batch must be between 1 and 1024, got " + batch);
        }
    }
}
