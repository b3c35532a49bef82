package dev.qsparse.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.inference.InferenceRequest;
import dev.qsparse.runtime.inference.InferenceResult;
import dev.qsparse.runtime.inference.InferenceSession;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Regression guard on the shipped demo model: its held-out perplexity, computed by the Java
 * runtime over models/data/valid.txt exactly as training/evaluate.py computes it in PyTorch (one
 * text per line, BOS first, every token after it scored, context-truncated), must agree with the
 * PyTorch figure recorded at export (training_log.json, also in the models/README.md table)
 * within 1%, and the scored token count must be identical.
 */
class DemoModelQualityTest {

    static final Path MODEL = Path.of("../models/qsparse-demo");
    static final Path VALID = Path.of("../models/data/valid.txt");

    @Test
    void heldOutPerplexityMatchesPyTorch() throws Exception {
        JsonNode recorded = new ObjectMapper()
                .readTree(MODEL.resolve("training_log.json").toFile())
                .get("final_validation");
        List<String> lines = Files.readAllLines(VALID, StandardCharsets.UTF_8);
        double logprob = 0;
        long tokens = 0;
        try (Model model = Model.load(MODEL)) {
            InferenceSession session = model.newSession();
            for (String line : lines) {
                if (line.isBlank()) {
                    continue;
                }
                InferenceResult r = session.run(InferenceRequest.score(line));
                InferenceResult.Score s = (InferenceResult.Score) r;
                logprob += s.logprob();
                tokens += s.scoredTokens();
            }
        }
        double javaPerplexity = Math.exp(-logprob / tokens);
        double torchPerplexity = recorded.get("perplexity").asDouble();
        System.out.printf(
                "demo model held-out perplexity: Java %.3f, PyTorch %.3f (%d tokens)%n",
                javaPerplexity, torchPerplexity, tokens);
        assertEquals(recorded.get("scored_tokens").asLong(), tokens, "same tokenization and truncation as PyTorch");
        double relative = Math.abs(javaPerplexity - torchPerplexity) / torchPerplexity;
        assertTrue(relative < 0.01, "Java " + javaPerplexity + " vs PyTorch " + torchPerplexity);
    }
}
