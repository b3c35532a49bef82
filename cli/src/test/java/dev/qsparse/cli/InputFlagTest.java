package dev.qsparse.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.qsparse.runtime.Model;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code embed}, {@code score} and {@code generate} with {@code --input FILE|- --format lines|jsonl}:
 * one JSON object per input, each equal to what the one-text form of the command prints for it, the
 * model loaded once (counted through the CLI's {@link ModelLoader}); every bound and every bad
 * jsonl line refused, naming the line, before the model is loaded at all.
 */
class InputFlagTest {

    private static final String MODEL = QSparseCliTest.MODEL;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();
    private final AtomicInteger loads = new AtomicInteger();
    private PrintStream savedOut;
    private PrintStream savedErr;
    private InputStream savedIn;

    @TempDir
    Path tmp;

    @BeforeEach
    void capture() {
        savedOut = System.out;
        savedErr = System.err;
        savedIn = System.in;
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    @AfterEach
    void restore() {
        System.setOut(savedOut);
        System.setErr(savedErr);
        System.setIn(savedIn);
    }

    /** Runs the CLI, counting model loads; returns the exit code. */
    private int run(String... args) {
        out.reset();
        err.reset();
        loads.set(0);
        return QSparseCli.run(
                dir -> {
                    loads.incrementAndGet();
                    return Model.load(dir);
                },
                args);
    }

    private List<JsonNode> ok(String... args) {
        assertEquals(0, run(args), () -> err.toString(StandardCharsets.UTF_8));
        List<JsonNode> lines = new ArrayList<>();
        for (String l : stdout().lines().toList()) {
            try {
                lines.add(JSON.readTree(l));
            } catch (Exception e) {
                throw new AssertionError(l, e);
            }
        }
        return lines;
    }

    /** The one result the single-input form prints. */
    private JsonNode alone(String... args) {
        List<JsonNode> lines = ok(args);
        assertEquals(1, lines.size());
        return lines.get(0);
    }

    /** A failure before anything ran: exit {@code code}, nothing on stdout, no model loaded. */
    private String refused(int code, String... args) {
        assertEquals(code, run(args), this::stdout);
        assertEquals("", stdout(), "nothing printed");
        assertEquals(0, loads.get(), "refused before the model was loaded");
        return err.toString(StandardCharsets.UTF_8);
    }

    private String stdout() {
        return out.toString(StandardCharsets.UTF_8);
    }

    private static void stdin(String text) {
        System.setIn(new ByteArrayInputStream(text.getBytes(StandardCharsets.UTF_8)));
    }

    private Path file(String name, String content) throws Exception {
        Path f = tmp.resolve(name);
        Files.writeString(f, content);
        return f;
    }

    @Test
    void embedLinesEqualsEmbedFileAndEachTextAlone() throws Exception {
        List<String> texts = List.of("an event", "Elinor's happiness was not so great.", "Short.");
        Path f = file("texts.txt", texts.get(0) + "\n\n" + texts.get(1) + "\n" + texts.get(2) + "\n");
        List<JsonNode> lines = ok("embed", "--model", MODEL, "--input", f.toString(), "--format", "lines");
        assertEquals(1, loads.get());
        assertEquals(3, lines.size());
        int[] numbers = {1, 3, 4};
        for (int i = 0; i < texts.size(); i++) {
            JsonNode one = alone("embed", "--model", MODEL, "--text", texts.get(i));
            assertEquals(numbers[i], lines.get(i).get("line").asInt());
            assertEquals(one.get("embedding"), lines.get(i).get("embedding"), texts.get(i));
            assertNull(lines.get(i).get("id"), "no id in lines format");
        }
        // --file is the same command: the same objects, in the same order (timings aside).
        List<JsonNode> viaFile = ok("embed", "--model", MODEL, "--file", f.toString());
        for (int i = 0; i < lines.size(); i++) {
            assertEquals(lines.get(i).get("line"), viaFile.get(i).get("line"));
            assertEquals(lines.get(i).get("embedding"), viaFile.get(i).get("embedding"));
        }
    }

    @Test
    void embedJsonlFromStdinEchoesIdsAndTakesEachLinesPooling() throws Exception {
        stdin("{\"id\": \"a-1\", \"text\": \"an event\"}\n"
                + "\n"
                + "{\"text\": \"Short.\", \"id\": 17, \"pooling\": \"last\"}\n"
                + "{\"text\": \"no id here\"}\n");
        List<JsonNode> lines = ok("embed", "--model", MODEL, "--input", "-", "--format", "jsonl", "--batch", "2");
        assertEquals(1, loads.get());
        assertEquals(3, lines.size());
        assertEquals("a-1", lines.get(0).get("id").asText());
        assertEquals(1, lines.get(0).get("line").asInt());
        assertTrue(lines.get(1).get("id").isIntegralNumber());
        assertEquals(17, lines.get(1).get("id").asInt());
        assertEquals(3, lines.get(1).get("line").asInt());
        assertNull(lines.get(2).get("id"));
        assertEquals(
                alone("embed", "--model", MODEL, "--text", "an event").get("embedding"),
                lines.get(0).get("embedding"));
        JsonNode last = alone("embed", "--model", MODEL, "--text", "Short.", "--pooling", "last");
        assertEquals("last", lines.get(1).get("pooling").asText());
        assertEquals(last.get("embedding"), lines.get(1).get("embedding"));
        assertEquals("mean", lines.get(2).get("pooling").asText());
    }

    @Test
    void scoreInputGivesEachLinesOwnScoreWhileScoreFileStaysOneCorpusPerplexity() throws Exception {
        List<String> texts = List.of("The stream of events", "It is a truth universally acknowledged");
        Path f = file("texts.txt", String.join("\n", texts));
        List<JsonNode> lines = ok("score", "--model", MODEL, "--input", f.toString(), "--format", "lines");
        assertEquals(1, loads.get());
        assertEquals(2, lines.size());
        double logprob = 0;
        long tokens = 0;
        for (int i = 0; i < texts.size(); i++) {
            JsonNode one = alone("score", "--model", MODEL, "--text", texts.get(i));
            for (String key : new String[] {"logprob", "mean_logprob", "perplexity", "scored_tokens", "input_tokens"}) {
                assertEquals(one.get(key), lines.get(i).get(key), key);
            }
            logprob += one.get("logprob").asDouble();
            tokens += one.get("scored_tokens").asLong();
        }
        JsonNode corpus = alone("score", "--model", MODEL, "--file", f.toString());
        assertEquals(2, corpus.get("lines").asInt());
        assertEquals(Math.exp(-logprob / tokens), corpus.get("perplexity").asDouble(), 1e-9);
    }

    @Test
    void generateJsonlLinesOverrideTheFlagsAndEqualEachPromptAlone() throws Exception {
        Path f = file(
                "prompts.jsonl",
                "{\"id\": \"greedy\", \"text\": \"The stream\"}\n"
                        + "{\"id\": \"sampled\", \"text\": \"The stream\", \"temperature\": 0.8, \"top_p\": 0.9,"
                        + " \"seed\": 3, \"max_new_tokens\": 6}\n"
                        + "{\"id\": \"short\", \"text\": \"Once upon\", \"max_new_tokens\": 1, \"stop\": [\"x\"]}\n");
        List<JsonNode> lines =
                ok("generate", "--model", MODEL, "--input", f.toString(), "--format", "jsonl", "--max-tokens", "4");
        assertEquals(1, loads.get());
        assertEquals(3, lines.size());
        List<JsonNode> expected = List.of(
                alone("generate", "--model", MODEL, "--prompt", "The stream", "--max-tokens", "4"),
                alone(
                        "generate",
                        "--model",
                        MODEL,
                        "--prompt",
                        "The stream",
                        "--max-tokens",
                        "6",
                        "--temperature",
                        "0.8",
                        "--top-p",
                        "0.9",
                        "--seed",
                        "3"),
                alone("generate", "--model", MODEL, "--prompt", "Once upon", "--max-tokens", "1", "--stop", "x"));
        for (int i = 0; i < 3; i++) {
            assertEquals(expected.get(i).get("text"), lines.get(i).get("text"));
            assertEquals(expected.get(i).get("tokens"), lines.get(i).get("tokens"));
            assertEquals(expected.get(i).get("finish_reason"), lines.get(i).get("finish_reason"));
            assertEquals(i + 1, lines.get(i).get("line").asInt());
        }
        assertEquals("sampled", lines.get(1).get("id").asText());
        assertTrue(lines.get(0).get("tokens").size() <= 4);
        assertEquals(1, lines.get(2).get("tokens").size());
    }

    @Test
    void tenThousandLinesAreEmbeddedWithOneModelLoad() throws Exception {
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 10_000; i++) {
            text.append("event number ").append(i).append(" of the stream\n");
        }
        Path f = file("ten-thousand.txt", text.toString());
        List<JsonNode> lines = ok("embed", "--model", MODEL, "--input", f.toString(), "--format", "lines");
        assertEquals(1, loads.get(), "one model load for the whole file");
        assertEquals(10_000, lines.size());
        assertEquals(10_000, lines.get(9_999).get("line").asInt());
        JsonNode last = lines.get(9_999);
        assertEquals(
                alone("embed", "--model", MODEL, "--text", "event number 9999 of the stream")
                        .get("embedding"),
                last.get("embedding"));
    }

    @Test
    void everyBoundIsCheckedBeforeTheModelLoads() throws Exception {
        Path f = file("texts.txt", "one\ntwo\n" + "x".repeat(50) + "\nfour\n");
        String p = f.toString();
        String[] input = {"--model", MODEL, "--input", p, "--format", "lines"};
        for (String command : new String[] {"embed", "score", "generate"}) {
            assertTrue(refused(1, concat(command, input, "--max-lines", "2"))
                    .contains(p + ": more than --max-lines 2 non-empty lines (line 3)"));
            assertTrue(refused(1, concat(command, input, "--max-line-chars", "10"))
                    .contains(p + ": line 3 is 50 code points, over --max-line-chars 10"));
            assertTrue(refused(1, concat(command, input, "--max-file-bytes", "8"))
                    .contains(p + ": larger than the 8-byte limit of --max-file-bytes"));
            assertTrue(refused(1, concat(command, input, "--batch", "1025"))
                    .contains("--batch must be between 1 and 1024, got 1025"));
        }
        // score --file reads its corpus the same way, before the model loads.
        assertTrue(refused(1, "score", "--model", MODEL, "--file", p, "--max-line-chars", "10")
                .contains(p + ": line 3 is 50 code points, over --max-line-chars 10"));
        assertTrue(refused(1, "score", "--model", MODEL, "--file", p, "--max-lines", "3")
                .contains(p + ": more than --max-lines 3 non-empty lines (line 4)"));
        stdin("a".repeat(100));
        assertTrue(refused(1, "embed", "--model", MODEL, "--input", "-", "--format", "lines", "--max-file-bytes", "99")
                .contains("stdin: larger than the 99-byte limit of --max-file-bytes"));
        stdin("\n \n");
        assertTrue(refused(1, "score", "--model", MODEL, "--input", "-", "--format", "jsonl")
                .contains("stdin: no non-empty line to score (2 line(s), all blank)"));
        assertTrue(refused(
                        1,
                        "embed",
                        "--model",
                        MODEL,
                        "--input",
                        tmp.resolve("none").toString(),
                        "--format",
                        "lines")
                .contains("none: file not found"));
    }

    @Test
    void aBadJsonlLineIsRefusedByNumberBeforeTheModelLoads() throws Exception {
        String good = "{\"text\": \"fine\"}\n";
        String[][] cases = {
            {"{\"text\": \"a\"", "not valid JSON"},
            {"[\"text\"]", "expected a JSON object, got array"},
            {"{\"prompt\": \"hello\"}", "unknown key \"prompt\" (expected id, text)"},
            {"{\"id\": 1}", "missing \"text\""},
            {"{\"text\": 7}", "\"text\" must be a string"},
            {"{\"text\": \"  \"}", "\"text\" is blank"},
            {"{\"text\": \"a\", \"id\": \"\"}", "\"id\" must be a non-empty string or an integer"},
            {"{\"text\": \"a\", \"id\": 1.5}", "\"id\" must be a non-empty string or an integer"},
            {"{\"text\": \"a\", \"id\": \"" + "i".repeat(1025) + "\"}", "\"id\" has 1025 characters"},
            {"{\"text\": \"a\", \"text\": \"b\"}", "Duplicate field 'text'"},
            {"{\"text\": \"a\"} {\"text\": \"b\"}", "not valid JSON"},
        };
        for (String[] c : cases) {
            Path f = file("bad.jsonl", good + "\n" + c[0] + "\n" + good);
            String e = refused(1, "score", "--model", MODEL, "--input", f.toString(), "--format", "jsonl");
            assertTrue(e.contains(f + ": line 3: ") && e.contains(c[1]), c[0] + " -> " + e);
        }
        // Each command's own keys, checked the same way.
        stdin(good + "{\"text\": \"a\", \"pooling\": \"median\"}\n");
        assertTrue(refused(1, "embed", "--model", MODEL, "--input", "-", "--format", "jsonl")
                .contains("stdin: line 2: \"pooling\": unknown pooling 'median'"));
        stdin(good + "{\"text\": \"a\", \"temperature\": 1e-300}\n");
        assertTrue(refused(1, "generate", "--model", MODEL, "--input", "-", "--format", "jsonl")
                .contains("stdin: line 2: temperature must be 0 (greedy) or in"));
        stdin("{\"text\": \"a\", \"max_new_tokens\": 0}\n");
        assertTrue(refused(1, "generate", "--model", MODEL, "--input", "-", "--format", "jsonl")
                .contains("stdin: line 1: \"max_new_tokens\" must be an integer in [1, 2147483647]"));
        stdin("{\"text\": \"a\", \"stop\": \"x\"}\n");
        assertTrue(refused(1, "generate", "--model", MODEL, "--input", "-", "--format", "jsonl")
                .contains("stdin: line 1: \"stop\" must be a list of at most 8 strings"));
        stdin("{\"text\": \"a\", \"pooling\": \"mean\"}\n");
        assertTrue(refused(1, "generate", "--model", MODEL, "--input", "-", "--format", "jsonl")
                .contains("stdin: line 1: unknown key \"pooling\" (expected id, max_new_tokens, seed, stop,"
                        + " temperature, text, top_k, top_p)"));
    }

    @Test
    void howTheInputIsGivenIsAUsageError() throws Exception {
        Path f = file("texts.txt", "one\n");
        String p = f.toString();
        assertTrue(refused(2, "embed", "--model", MODEL, "--input", p).contains("--input needs --format"));
        assertTrue(refused(2, "embed", "--model", MODEL, "--text", "a", "--format", "lines")
                .contains("--format goes with --input"));
        assertTrue(refused(2, "embed", "--model", MODEL, "--text", "a", "--input", p, "--format", "lines")
                .contains("Give only one of --text, --file or --input"));
        assertTrue(refused(2, "embed", "--model", MODEL, "--file", p, "--text", "a")
                .contains("Give only one of --text, --file or --input"));
        assertTrue(refused(2, "score", "--model", MODEL).contains("Missing: --text, --file or --input"));
        assertTrue(refused(2, "generate", "--model", MODEL, "--prompt", "a", "--input", p, "--format", "lines")
                .contains("Give only one of --prompt or --input"));
        assertTrue(refused(2, "embed", "--model", MODEL, "--input", p, "--format", "csv")
                .contains("expected lines or jsonl, got 'csv'"));
        assertTrue(refused(2, "score", "--model", MODEL, "--input", p, "--format", "lines", "--ffn-sparsity")
                .contains("--ffn-sparsity goes with --text or --file"));
    }

    private static String[] concat(String command, String[] args, String... more) {
        List<String> all = new ArrayList<>();
        all.add(command);
        all.addAll(List.of(args));
        all.addAll(List.of(more));
        return all.toArray(String[]::new);
    }
}
