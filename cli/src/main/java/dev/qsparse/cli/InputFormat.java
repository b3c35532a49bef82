package dev.qsparse.cli;

import java.util.Locale;
import picocli.CommandLine;

/** How {@code --input} is read: one text per line, or one JSON object per line. */
enum InputFormat {
    /** Every non-blank line is one text, as it is (no trimming, no escapes). */
    LINES,
    /** Every non-blank line is one JSON object: {@code text}, an optional {@code id}, the command's own keys. */
    JSONL;

    /** Parses {@code --format}'s value; anything but "lines" or "jsonl" is a usage error naming the value. */
    static final class Converter implements CommandLine.ITypeConverter<InputFormat> {
        @Override
        public InputFormat convert(String value) {
            return switch (value.toLowerCase(Locale.ROOT)) {
                case "lines" -> LINES;
                case "jsonl" -> JSONL;
                default ->
                    throw new CommandLine.TypeConversionException("expected lines or jsonl, got '" + value + "'");
            };
        }
    }
}
