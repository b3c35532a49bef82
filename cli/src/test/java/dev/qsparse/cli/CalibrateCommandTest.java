package dev.qsparse.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.model.BertConfig;
import dev.qsparse.runtime.model.LayerTopK;
import dev.qsparse.runtime.model.MiniLmDirectory;
import dev.qsparse.runtime.model.TopKCentres;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code calibrate} refuses what it cannot do, naming the option or the model, before writing
 * anything (its search on the real MiniLM is model-runtime's TopKCalibrationTest), and writes a
 * directory that loads with what it chose: the medians' file and its key, or neither with
 * {@code --centres none}, an earlier calibration's centres not carried over.
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
    void writesTheCentresItChoseOrNone() throws Exception {
        Path minilm = MiniLmDirectory.write(tmp.resolve("all-MiniLM-L6-v2"));
        Path corpus = tmp.resolve("corpus.txt");
        Files.writeString(
                corpus,
                "A man is eating food.\nElinor's happiness was not so great.\nFlink checkpoints the records in"
                        + " flight.\nEin Mann isst Brot.\nTables and streams are two views of one thing.\n");
        Path centred = tmp.resolve("centred");
        JsonNode printed = calibrates(minilm, corpus, centred, "--texts", "3");
        assertEquals(TopKCentres.DEFAULT_FILE, printed.get(TopKCentres.KEY).asText());
        assertTrue(printed.get("mean_cosine").asDouble() >= 0.98, printed.toString());
        assertTrue(printed.get("activation_sparsity").asDouble() > 0.1, printed.toString());
        // Five lines, --texts 3: the last two are held out, evaluated with the choice.
        assertEquals(3, printed.get("texts").asInt());
        JsonNode held = printed.get("held_out");
        assertEquals(2, held.get("texts").asInt(), printed.toString());
        assertTrue(
                held.get("mean_cosine").asDouble() > 0.9
                        && held.get("mean_cosine").asDouble() <= 1.0,
                held.toString());
        assertTrue(held.get("activation_sparsity").asDouble() > 0.1, held.toString());
        try (Model m = Model.load(centred)) {
            BertConfig c = (BertConfig) m.config();
            assertNotNull(c.topKCentres(), "the medians load with the model");
            assertEquals(
                    printed.get(LayerTopK.KEY).toString(),
                    new ObjectMapper().valueToTree(c.topK().toJson()).toString());
        }
        Path plain = tmp.resolve("plain");
        JsonNode none = calibrates(centred, corpus, plain, "--centres", "none");
        assertTrue(none.get(TopKCentres.KEY).isNull());
        assertTrue(none.get("held_out").isNull(), "every line was used: nothing held out");
        assertFalse(Files.exists(plain.resolve(TopKCentres.DEFAULT_FILE)), "no stale centres file");
        assertFalse(Files.readString(plain.resolve("config.json")).contains(TopKCentres.KEY));
        try (Model m = Model.load(plain)) {
            assertNull(((BertConfig) m.config()).topKCentres());
        }
    }

    /** Runs calibrate for a mean cosine of 0.98 and returns what it printed; fails on a non-zero exit. */
    private JsonNode calibrates(Path model, Path corpus, Path dir, String... more) throws Exception {
        List<String> args = new ArrayList<>(List.of(
                "calibrate",
                "--model",
                model.toString(),
                "--corpus",
                corpus.toString(),
                "--target-cosine",
                "0.98",
                "--out",
                dir.toString()));
        args.addAll(List.of(more));
        out.reset();
        assertEquals(0, QSparseCli.run(args.toArray(String[]::new)), () -> err.toString(StandardCharsets.UTF_8));
        return new ObjectMapper().readTree(out.toString(StandardCharsets.UTF_8));
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
        assertTrue(fails(
                        "calibrate",
                        "--model",
                        m,
                        "--corpus",
                        c,
                        "--target-cosine",
                        "0.9",
                        "--out",
                        o,
                        "--held-out",
                        "-1")
                .contains("--held-out must be between 0 and 4096, got -1"));
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
