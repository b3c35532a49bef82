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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code qsparse convert} and a tiny {@code qsparse bench}, in-process on the bundled test model. */
class ConvertAndBenchCommandTest {

    static final String MODEL = "../model-runtime/src/test/resources/test-model";

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

    private String run(String... args) {
        out.reset();
        int code = QSparseCli.run(args);
        assertEquals(0, code, "stderr: " + err.toString(StandardCharsets.UTF_8));
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void convertWritesALoadableModelWithTheSameLogitsAsInMemoryQuantization() throws Exception {
        Path dir = tmp.resolve("int8");
        JsonNode json = new ObjectMapper()
                .readTree(run("convert", "--model", MODEL, "--out", dir.toString(), "--weights", "int8"));
        assertEquals("int8", json.get("weights").asText());
        assertEquals("int8", json.get("lm_head").asText());
        assertEquals("int8", json.get("lm_head_input").asText());
        assertEquals(
                8,
                new ObjectMapper()
                        .readTree(dir.resolve("config.json").toFile())
                        .path("lm_head_activation_bits")
                        .asInt());
        assertTrue(Files.isRegularFile(dir.resolve("tokenizer.json")));
        JsonNode logits = new ObjectMapper().readTree(run("logits", "--model", dir.toString(), "--tokens", "5,17,250"));
        assertEquals(3, logits.get("logits").size());
        JsonNode generated = new ObjectMapper()
                .readTree(run("generate", "--model", dir.toString(), "--prompt", "The stream", "--max-tokens", "4"));
        assertTrue(generated.get("tokens").size() >= 1);
        assertEquals(2, QSparseCli.run("convert", "--model", MODEL, "--out", dir.toString()));
        assertEquals(
                1,
                QSparseCli.run(
                        "convert", "--model", MODEL, "--out", tmp.resolve("x").toString(), "--weights", "int4"));
    }

    @Test
    void benchPrintsOneTableWithEveryVariant() throws Exception {
        Path events = tmp.resolve("events.txt");
        Files.writeString(
                events,
                "the first event of the batch\n\nand a second one, a little longer than the first\n" + "a third\n");
        String table = run(
                "bench",
                "--no-seed-shape",
                "--no-gemv",
                "--torch",
                "off",
                "--onnx",
                "off",
                "--demo-model",
                MODEL,
                "--work",
                tmp.resolve("work").toString(),
                "--decode-tokens",
                "4",
                "--prompt",
                "4",
                "--prefill",
                "8",
                "--reps",
                "1",
                "--bandwidth-mb",
                "32",
                "--nd4j",
                tmp.resolve("none").toString(),
                "--events",
                events.toString(),
                "--embed-batch",
                "3",
                "--minilm",
                "off");
        for (String variant : new String[] {"dense f32", "dense int8", "50% top-K int8", "50% top-K ternary"}) {
            assertTrue(table.contains("| test-model | " + variant + " |"), table);
        }
        assertTrue(table.contains("| embed events/s |"), table);
        assertTrue(table.contains("Embed: test-model: 3 events of events.txt"), table);
        String row = table.lines()
                .filter(l -> l.startsWith("| test-model | dense f32 |"))
                .findFirst()
                .orElseThrow();
        double embed = Double.parseDouble(row.split("\\|")[7].trim());
        assertTrue(embed > 0, row);
        assertTrue(table.contains("Streaming read bandwidth"), table);
        assertTrue(table.contains("PyTorch: not run (--torch off)"), table);
        assertTrue(table.contains("ONNX Runtime: not run (--onnx off)"), table);
    }
}
