package dev.qsparse.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile inputs to the CLI: binary, endless or blank {@code score --file} inputs, a model whose
 * weights are NaN, a temperature under the floor. Each is an error on stderr with a non-zero exit
 * and a message saying what is wrong; nothing non-finite is ever printed as a result.
 */
class HostileCliInputTest {

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();
    private PrintStream savedOut;
    private PrintStream savedErr;

    @TempDir
    Path dir;

    @BeforeEach
    void capture() {
        savedOut = System.out;
        savedErr = System.err;
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    @AfterEach
    void restore() {
        System.setOut(savedOut);
        System.setErr(savedErr);
    }

    private String fails(int code, String... args) {
        int got = assertTimeoutPreemptively(Duration.ofSeconds(60), () -> QSparseCli.run(args));
        String stderr = err.toString(StandardCharsets.UTF_8);
        assertEquals(code, got, "stderr: " + stderr + " stdout: " + out.toString(StandardCharsets.UTF_8));
        assertEquals("", out.toString(StandardCharsets.UTF_8), "nothing printed as a result");
        return stderr;
    }

    private String scoreFile(Path file, String... extra) {
        String[] args = Stream.concat(
                        Stream.of("score", "--model", QSparseCliTest.MODEL, "--file", file.toString()),
                        Stream.of(extra))
                .toArray(String[]::new);
        return fails(1, args);
    }

    @Test
    void aBinaryFileIsNotText() throws IOException {
        Path f = dir.resolve("image.bin");
        Files.write(f, new byte[] {'o', 'k', '\n', (byte) 0x89, 'P', 'N', 'G', (byte) 0xFF, (byte) 0xFE, '\n'});
        String e = scoreFile(f);
        assertTrue(e.contains(f + ": not UTF-8 text: invalid byte sequence on line 2 (byte offset 3)"), e);
        assertFalse(e.contains("Input length"), e);
    }

    @Test
    void aFileWithNulBytesIsBinary() throws IOException {
        Path f = dir.resolve("zeros.txt");
        Files.write(f, new byte[] {'a', ' ', 'l', 'i', 'n', 'e', '\n', 0, 0, 0});
        String e = scoreFile(f);
        assertTrue(e.contains(f + ": a binary file, not text: NUL byte on line 2 (byte offset 7)"), e);
    }

    @Test
    void devZeroFailsFastInsteadOfFillingTheHeap() {
        Path zero = Path.of("/dev/zero");
        Assumptions.assumeTrue(Files.isReadable(zero), "no /dev/zero");
        String e = scoreFile(zero);
        assertTrue(e.contains("/dev/zero: a binary file, not text: NUL byte on line 1 (byte offset 0)"), e);
    }

    @Test
    void aFileOverTheBoundFailsWithoutBeingReadInFull() throws IOException {
        Path f = dir.resolve("big.txt");
        Files.writeString(f, "a line of text\n".repeat(10_000)); // 150,000 bytes
        String e = scoreFile(f, "--max-file-bytes", "100000");
        assertTrue(e.contains(f + ": larger than the 100000-byte limit of --max-file-bytes"), e);
        assertEquals(64L * 1024 * 1024, InputOptions.DEFAULT_MAX_FILE_BYTES);
    }

    @Test
    void aFileOfBlankLinesHasNothingToScore() throws IOException {
        Path f = dir.resolve("blank.txt");
        Files.writeString(f, "\n   \n\t\n\n");
        String e = scoreFile(f);
        assertTrue(e.contains(f + ": no non-empty line to score (4 line(s), all blank)"), e);
        Path empty = Files.createFile(dir.resolve("empty.txt"));
        err.reset();
        assertTrue(scoreFile(empty).contains("no non-empty line to score"));
    }

    @Test
    void aDirectoryIsNotAFile() {
        String e = scoreFile(dir);
        assertTrue(e.contains(dir + ": is a directory, not a text file"), e);
    }

    @Test
    void aModelWithNaNWeightsFailsToLoadNamingTheTensor() throws IOException {
        Path model = poisoned(dir.resolve("nan-model"), "model.norm.weight", Float.NaN);
        String m = model.toString();
        for (String[] command : new String[][] {
            {"embed", "--model", m, "--text", "an event"},
            {"logits", "--model", m, "--tokens", "5,17"},
            {"convert", "--model", m, "--out", dir.resolve("converted").toString(), "--weights", "int8"}
        }) {
            String e = fails(1, command);
            assertTrue(e.contains("model.safetensors: tensor 'model.norm.weight': element [0] is NaN"), e);
            err.reset();
        }
        assertTrue(Files.notExists(dir.resolve("converted")));
    }

    @Test
    void aModelWhoseFiniteWeightsOverflowFailsEveryCommandInsteadOfPrintingNaN() throws IOException {
        Path model = poisoned(dir.resolve("overflow-model"), "model.norm.weight", Float.MAX_VALUE);
        String m = model.toString();
        assertTrue(fails(1, "embed", "--model", m, "--text", "an event").contains("non-finite"));
        err.reset();
        assertTrue(fails(1, "score", "--model", m, "--text", "an event").contains("non-finite"));
        err.reset();
        String g = fails(1, "generate", "--model", m, "--prompt", "Once upon");
        assertTrue(g.contains("non-finite number") && g.contains("logits"), g);
        err.reset();
        String l = fails(1, "logits", "--model", m, "--tokens", "5,17");
        assertTrue(l.contains("non-finite number") && l.contains("in logits["), l);
        err.reset();
        Path f = dir.resolve("lines.txt");
        Files.writeString(f, "first line\nsecond line\n");
        String s = fails(1, "score", "--model", m, "--file", f.toString());
        assertTrue(s.contains(f + ": line 1: the model produced a non-finite"), s);
    }

    @Test
    void aTemperatureUnderTheFloorIsAUsageError() {
        String e = fails(2, "generate", "--model", QSparseCliTest.MODEL, "--prompt", "x", "--temperature", "1e-300");
        assertTrue(e.contains("temperature must be 0 (greedy) or in [1.0E-4, 10.0], got 1.0E-300"), e);
    }

    @Test
    void aGoodFileStillScores() throws Exception {
        Path f = dir.resolve("ok.txt");
        Files.writeString(f, "first line of text\n\nsecond line here\n");
        assertEquals(0, QSparseCli.run("score", "--model", QSparseCliTest.MODEL, "--file", f.toString()));
        assertEquals(
                2,
                new ObjectMapper()
                        .readTree(out.toString(StandardCharsets.UTF_8))
                        .get("lines")
                        .asInt());
    }

    /** A copy of the test model with every weight of F32 {@code tensor} set to {@code value}. */
    static Path poisoned(Path target, String tensor, float value) throws IOException {
        Files.createDirectories(target);
        try (Stream<Path> files = Files.list(Path.of(QSparseCliTest.MODEL))) {
            for (Path f : files.toList()) {
                Files.copy(f, target.resolve(f.getFileName()));
            }
        }
        try (FileChannel ch = FileChannel.open(
                target.resolve("model.safetensors"), StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(len, 0);
            int n = (int) len.getLong(0);
            ByteBuffer header = ByteBuffer.allocate(n);
            ch.read(header, 8);
            var offsets =
                    new ObjectMapper().readTree(header.array()).get(tensor).get("data_offsets");
            long begin = offsets.get(0).asLong();
            ByteBuffer b =
                    ByteBuffer.allocate((int) (offsets.get(1).asLong() - begin)).order(ByteOrder.LITTLE_ENDIAN);
            while (b.hasRemaining()) {
                b.putFloat(value);
            }
            b.flip();
            long pos = 8 + n + begin;
            while (b.hasRemaining()) {
                pos += ch.write(b, pos);
            }
        }
        return target;
    }
}
