package dev.qsparse.cli;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Reads a text file (or stdin) for a command, bounded: at most {@code maxBytes} bytes are ever read (so
 * {@code /dev/zero} or a huge file fails once the bound is passed instead of filling the heap), a
 * NUL byte means a binary file (failing at the first chunk that holds one), and the bytes must be
 * UTF-8 (an invalid sequence fails naming its line and byte offset, not "Input length = 1").
 * Errors are {@link IllegalArgumentException}s naming the file (or "stdin"); they never quote its content.
 */
final class TextFile {

    private static final int CHUNK = 64 * 1024;

    private TextFile() {}

    /** The lines of {@code file} (split as {@link String#lines()} does). */
    static List<String> readLines(Path file, long maxBytes) throws IOException {
        if (Files.isDirectory(file)) {
            throw new IllegalArgumentException(file + ": is a directory, not a text file");
        }
        if (!Files.exists(file)) {
            throw new IllegalArgumentException(file + ": file not found");
        }
        try (InputStream in = Files.newInputStream(file)) {
            return readLines(in, file.toString(), maxBytes);
        }
    }

    /** The lines of {@code in}, read to its end (not closed); {@code name} prefixes every error. */
    static List<String> readLines(InputStream in, String name, long maxBytes) throws IOException {
        byte[] bytes = readBounded(in, name, maxBytes);
        CharsetDecoder decoder = StandardCharsets.UTF_8
                .newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer buffer = ByteBuffer.wrap(bytes);
        String text;
        try {
            text = decoder.decode(buffer).toString();
        } catch (CharacterCodingException e) {
            int at = buffer.position();
            throw new IllegalArgumentException(name + ": not UTF-8 text: invalid byte sequence on line "
                    + lineOf(bytes, at) + " (byte offset " + at + ")");
        }
        return text.lines().toList();
    }

    private static byte[] readBounded(InputStream in, String name, long maxBytes) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] chunk = new byte[CHUNK];
        long total = 0;
        int n;
        while ((n = in.read(chunk)) >= 0) {
            for (int i = 0; i < n; i++) {
                if (chunk[i] == 0) {
                    long at = total + i;
                    byte[] seen = out.toByteArray();
                    throw new IllegalArgumentException(name + ": a binary file, not text: NUL byte on line "
                            + (lineOf(seen, seen.length) + countNewlines(chunk, 0, i)) + " (byte offset " + at + ")");
                }
            }
            if (total + n > maxBytes) {
                throw new IllegalArgumentException(
                        name + ": larger than the " + maxBytes + "-byte limit of --max-file-bytes");
            }
            out.write(chunk, 0, n);
            total += n;
        }
        return out.toByteArray();
    }

    /** 1-based line of byte offset {@code at}. */
    private static long lineOf(byte[] bytes, int at) {
        return 1 + countNewlines(bytes, 0, at);
    }

    private static long countNewlines(byte[] bytes, int from, int to) {
        long lines = 0;
        for (int i = from; i < to; i++) {
            if (bytes[i] == '\n') {
                lines++;
            }
        }
        return lines;
    }
}
