package dev.qsparse.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The JSON contract of each command, run in-process on the committed test model. */
class QSparseCliTest {

    static final String MODEL = "../model-runtime/src/test/resources/test-model";

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();
    private PrintStream savedOut;
    private PrintStream savedErr;

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

    private JsonNode runOk(String... args) throws Exception {
        int code = QSparseCli.run(args);
        assertEquals(0, code, "stderr: " + err.toString(StandardCharsets.UTF_8));
        return new ObjectMapper().readTree(out.toString(StandardCharsets.UTF_8));
    }

    @Test
    void logitsHasOneVocabRowPerToken() throws Exception {
        JsonNode json = runOk("logits", "--model", MODEL, "--tokens", "5,17,250");
        assertEquals(3, json.get("logits").size());
        assertEquals(1000, json.get("logits").get(0).size());
    }

    @Test
    void generatePrintsTextAndTokens() throws Exception {
        JsonNode json = runOk(
                "generate",
                "--model",
                MODEL,
                "--prompt",
                "The stream",
                "--max-tokens",
                "5",
                "--temperature",
                "0.8",
                "--top-p",
                "0.9",
                "--seed",
                "3");
        assertTrue(json.get("text").isTextual());
        assertTrue(json.get("tokens").size() >= 1 && json.get("tokens").size() <= 5);
        assertEquals("test-model", json.get("model").asText());
    }

    @Test
    void generateWithAChatTemplate() throws Exception {
        // The test model's tokenizer has one special token, <|endoftext|>: a template around it.
        JsonNode bare = runOk("generate", "--model", MODEL, "--prompt", "hi <|endoftext|>", "--max-tokens", "2");
        out.reset();
        JsonNode chat = runOk(
                "generate",
                "--model",
                MODEL,
                "--prompt",
                "hi <|endoftext|>",
                "--max-tokens",
                "2",
                "--chat",
                "<|endoftext|>User: {text}\nAssistant:",
                "--chat-stop",
                "<|endoftext|>");
        // <|endoftext|> + "User: " + text + "\nAssistant:": more input tokens than the bare prompt
        // (BOS + text), which encodes its "<|endoftext|>" as text (several tokens, not the special id).
        assertTrue(chat.get("input_tokens").asInt() > bare.get("input_tokens").asInt() + 2, chat + " vs " + bare);
        assertTrue(bare.get("input_tokens").asInt() > 4, bare.toString());
        // A built-in template of another model family names the missing token; usage errors give 2.
        assertEquals(1, QSparseCli.run("generate", "--model", MODEL, "--prompt", "x", "--chat", "llama3"));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("<|eot_id|>"), err.toString(StandardCharsets.UTF_8));
        assertEquals(2, QSparseCli.run("generate", "--model", MODEL, "--prompt", "x", "--chat", "nonesuch"));
        assertEquals(2, QSparseCli.run("generate", "--model", MODEL, "--prompt", "x", "--chat", "a {text} {text}"));
        assertEquals(
                2,
                QSparseCli.run("generate", "--model", MODEL, "--prompt", "x", "--chat", "chatml", "--chat-stop", "x"));
    }

    @Test
    void embedAndScore() throws Exception {
        JsonNode e = runOk("embed", "--model", MODEL, "--text", "an event");
        assertEquals(48, e.get("embedding").size());
        out.reset();
        JsonNode s = runOk("score", "--model", MODEL, "--text", "an event");
        assertTrue(s.get("logprob").asDouble() < 0);
        assertEquals(
                Math.exp(-s.get("mean_logprob").asDouble()), s.get("perplexity").asDouble(), 1e-9);
    }

    @Test
    void scoreFileIsTheCorpusPerplexityOfItsLines(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        java.nio.file.Path file = dir.resolve("valid.txt");
        java.nio.file.Files.writeString(file, "first line of text\n\n  \nsecond line here\n");
        JsonNode corpus = runOk("score", "--model", MODEL, "--file", file.toString());
        out.reset();
        JsonNode a = runOk("score", "--model", MODEL, "--text", "first line of text");
        out.reset();
        JsonNode b = runOk("score", "--model", MODEL, "--text", "second line here");
        assertEquals(2, corpus.get("lines").asInt());
        long tokens = a.get("scored_tokens").asLong() + b.get("scored_tokens").asLong();
        double logprob = a.get("logprob").asDouble() + b.get("logprob").asDouble();
        assertEquals(tokens, corpus.get("scored_tokens").asLong());
        assertEquals(
                Math.exp(-logprob / tokens),
                corpus.get("perplexity").asDouble(),
                1e-9 * corpus.get("perplexity").asDouble());
    }

    @Test
    void scoreReportsFeedForwardSparsityPerLayer(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        java.nio.file.Path file = dir.resolve("valid.txt");
        java.nio.file.Files.writeString(file, "first line of text\nsecond line here\n");
        JsonNode s = runOk("score", "--model", MODEL, "--file", file.toString(), "--ffn-sparsity");
        JsonNode layers = s.get("ffn_sparsity");
        assertEquals(2, layers.size(), "the test model's layers");
        // Scoring forwards every position but the last of each line: as many as it scores.
        long entries = s.get("scored_tokens").asLong() * 96;
        for (int l = 0; l < layers.size(); l++) {
            JsonNode pre = layers.get(l).get("pre_topk");
            JsonNode down = layers.get(l).get("down_proj_input");
            assertEquals(l, layers.get(l).get("layer").asInt());
            assertEquals(entries, pre.get("entries").asLong());
            assertEquals(entries, down.get("entries").asLong());
            // topk_ratio_mlp_out 0.5 keeps 48 of 96 entries: at least half are zero at down_proj.
            assertTrue(down.get("exact_zero").asDouble() >= 0.5, down.toString());
            assertTrue(
                    down.get("exact_zero").asDouble() >= pre.get("exact_zero").asDouble(), layers.toString());
            assertTrue(pre.get("near_zero").asDouble() >= pre.get("exact_zero").asDouble(), pre.toString());
            assertTrue(down.get("near_zero").asDouble() <= 1.0, down.toString());
        }
        out.reset();
        JsonNode plain = runOk("score", "--model", MODEL, "--file", file.toString());
        assertTrue(!plain.has("ffn_sparsity"), "only on request");
        assertEquals(plain.get("logprob").asDouble(), s.get("logprob").asDouble(), 0.0);
    }

    @Test
    void everyCommandHasHelp() {
        for (String command : new String[] {"logits", "generate", "embed", "score", "demo", "convert", "bench"}) {
            out.reset();
            err.reset();
            assertEquals(0, QSparseCli.run(command, "--help"), command + ": " + err.toString(StandardCharsets.UTF_8));
            assertTrue(out.toString(StandardCharsets.UTF_8).contains("Usage: qsparse " + command), command);
            assertTrue(
                    !err.toString(StandardCharsets.UTF_8).contains("Could not format"), command + " help text formats");
        }
    }

    @Test
    void errorsGoToStderrWithNonZeroExit() {
        assertEquals(1, QSparseCli.run("score", "--model", "/no/such/model", "--text", "x"));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("/no/such/model"));
        assertEquals("", out.toString(StandardCharsets.UTF_8));
        assertEquals(2, QSparseCli.run("score", "--text", "x"));
        // A bad decoding parameter is a usage error (2), like a malformed option.
        assertEquals(2, QSparseCli.run("generate", "--model", MODEL, "--prompt", "x", "--max-tokens", "0"));
        assertEquals(1, QSparseCli.run("logits", "--model", MODEL, "--tokens", "99999"));
    }
}
