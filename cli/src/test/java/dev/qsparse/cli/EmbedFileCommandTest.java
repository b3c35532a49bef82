package dev.qsparse.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code embed --file}: one JSON object per non-empty line, each the embedding {@code --text}
 * gives for that line, whatever the batch size; every bound fails naming the file and the line.
 */
class EmbedFileCommandTest {

    private static final String MODEL = QSparseCliTest.MODEL;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();
    private PrintStream savedOut;
    private PrintStream savedErr;

    @TempDir
    Path tmp;

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

    private List<JsonNode> run(String... args) throws Exception {
        out.reset();
        err.reset();
        assertEquals(0, QSparseCli.run(args), () -> err.toString(StandardCharsets.UTF_8));
        return out.toString(StandardCharsets.UTF_8)
                .lines()
                .map(l -> {
                    try {
                        return JSON.readTree(l);
                    } catch (Exception e) {
                        throw new AssertionError(l, e);
                    }
                })
                .toList();
    }

    private String fails(String... args) {
        out.reset();
        err.reset();
        assertEquals(1, QSparseCli.run(args), () -> out.toString(StandardCharsets.UTF_8));
        return err.toString(StandardCharsets.UTF_8);
    }

    @Test
    void everyNonEmptyLineIsOneObjectEqualToItsTextAlone() throws Exception {
        List<String> texts = List.of("an event", "Elinor's happiness was not so great.", "Short.", "1, 2, 3");
        Path file = tmp.resolve("texts.txt");
        Files.writeString(file, texts.get(0) + "\n\n" + texts.get(1) + "\n   \n" + texts.get(2) + "\n" + texts.get(3));
        int[] lineNumbers = {1, 3, 5, 6};
        for (String batch : new String[] {"1", "3", "32"}) {
            List<JsonNode> lines = run("embed", "--model", MODEL, "--file", file.toString(), "--batch", batch);
            assertEquals(texts.size(), lines.size(), batch);
            for (int i = 0; i < texts.size(); i++) {
                JsonNode alone =
                        run("embed", "--model", MODEL, "--text", texts.get(i)).get(0);
                assertEquals(lineNumbers[i], lines.get(i).get("line").asInt());
                assertEquals(alone.get("embedding"), lines.get(i).get("embedding"), texts.get(i));
                assertEquals("mean", lines.get(i).get("pooling").asText());
            }
        }
        List<JsonNode> last = run("embed", "--model", MODEL, "--file", file.toString(), "--pooling", "last");
        assertEquals("last", last.get(0).get("pooling").asText());
    }

    @Test
    void boundsAndBadFilesFailNamingTheFileAndLine() throws Exception {
        Path file = tmp.resolve("texts.txt");
        Files.writeString(file, "one\ntwo\n" + "x".repeat(50) + "\nfour\n");
        String f = file.toString();
        assertTrue(fails("embed", "--model", MODEL, "--file", f, "--max-lines", "2")
                .contains(f + ": more than --max-lines 2 non-empty lines (line 3)"));
        assertTrue(fails("embed", "--model", MODEL, "--file", f, "--max-line-chars", "10")
                .contains(f + ": line 3 is 50 code points, over --max-line-chars 10"));
        assertEquals("", out.toString(StandardCharsets.UTF_8), "bounds are checked before any line is embedded");
        assertTrue(fails("embed", "--model", MODEL, "--file", f, "--max-file-bytes", "8")
                .contains(f + ": larger than the 8-byte limit of --max-file-bytes"));
        assertTrue(fails("embed", "--model", MODEL, "--file", f, "--batch", "0")
                .contains("--batch must be between 1 and 1024, got 0"));
        Path blank = tmp.resolve("blank.txt");
        Files.writeString(blank, "\n  \n");
        assertTrue(fails("embed", "--model", MODEL, "--file", blank.toString())
                .contains(blank + ": no non-empty line to embed (2 line(s), all blank)"));
        Path binary = tmp.resolve("binary.bin");
        Files.write(binary, new byte[] {'a', '\n', 0, 'b'});
        assertTrue(fails("embed", "--model", MODEL, "--file", binary.toString())
                .contains(binary + ": a binary file, not text: NUL byte on line 2"));
        assertTrue(
                fails("embed", "--model", MODEL, "--file", tmp.resolve("none").toString())
                        .contains("none: file not found"));
        out.reset();
        err.reset();
        assertEquals(2, QSparseCli.run("embed", "--model", MODEL, "--file", f, "--text", "x"), "exclusive");
    }
}
