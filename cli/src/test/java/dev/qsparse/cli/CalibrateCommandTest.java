package dev.qsparse.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code calibrate} refuses what it cannot do, naming the option or the model, before writing
 * anything (its search on the real MiniLM is model-runtime's TopKCalibrationTest).
 */
class CalibrateCommandTest {

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

    private String fails(String... args) {
        err.reset();
        assertEquals(1, QSparseCli.run(args), () -> out.toString(StandardCharsets.UTF_8));
        return err.toString(StandardCharsets.UTF_8);
    }

    @Test
    void refusalsNameTheOptionOrTheModel() throws Exception {
        Path corpus = tmp.resolve("corpus.txt");
        Files.writeString(corpus, "one text\nanother text\n");
        String m = QSparseCliTest.MODEL;
        String c = corpus.toString();
        String o = tmp.resolve("out").toString();
        assertTrue(fails("calibrate", "--model", m, "--corpus", c, "--target-cosine", "0.99", "--out", o)
                .contains("calibrate chooses per-layer top-K for encoders (model_type bert), not qsparse"));
        assertFalse(Files.exists(tmp.resolve("out")), "nothing written for a refused model");
        assertTrue(fails("calibrate", "--model", m, "--corpus", c, "--target-cosine", "1", "--out", o)
                .contains("--target-cosine must be in (0, 1), got 1.0"));
        assertTrue(fails("calibrate", "--model", m, "--corpus", c, "--target-cosine", "0.9", "--out", o, "--texts", "0")
                .contains("--texts must be between 1 and 4096, got 0"));
        Files.createDirectories(tmp.resolve("full"));
        Files.writeString(tmp.resolve("full/x"), "x");
        assertTrue(fails(
                        "calibrate",
                        "--model",
                        m,
                        "--corpus",
                        c,
                        "--target-cosine",
                        "0.9",
                        "--out",
                        tmp.resolve("full").toString())
                .contains("exists and is not an empty directory"));
        assertTrue(fails("calibrate", "--model", m, "--corpus", c, "--target-cosine", "0.9", "--out", m + "/inside")
                .contains("is inside --model"));
        Files.writeString(corpus, "\n \n");
        assertTrue(fails("calibrate", "--model", m, "--corpus", c, "--target-cosine", "0.9", "--out", o)
                .contains(c + ": no non-empty line to calibrate on"));
    }
}
