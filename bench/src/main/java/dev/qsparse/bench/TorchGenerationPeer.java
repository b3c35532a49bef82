package dev.qsparse.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.inference.InferenceSession;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * PyTorch eager generating from a Qwen3 directory, through {@code bench/torch_generate_qwen3.py}
 * (the module ONNX Runtime's row exports, run eagerly with its KV cache). Its logits on a few tokens,
 * one step each through the cache, are compared with ours on the same directory.
 */
public record TorchGenerationPeer(Path script) implements GenerationPeer {

    /** The script's file name, beside bench/torch_embed_qwen3.py. */
    public static final String SCRIPT = "torch_generate_qwen3.py";

    /** Positions whose logits are compared with ours. */
    static final int PARITY_TOKENS = 8;

    /** Largest |PyTorch logit - ours| accepted as the same model (f32, different summation orders). */
    static final double PARITY_TOLERANCE = 1e-3;

    @Override
    public Result run(
            Path model,
            Path work,
            String python,
            int threads,
            int promptTokens,
            int decodeTokens,
            int prefillTokens,
            int reps)
            throws Exception {
        int vocab = new ObjectMapper()
                .readTree(model.resolve("config.json").toFile())
                .path("vocab_size")
                .asInt();
        if (vocab < 1) {
            throw new IOException(model.resolve("config.json") + ": no positive vocab_size");
        }
        int[] tokens = new Random(11).ints(PARITY_TOKENS, 0, vocab).toArray();
        Path logitsFile = Files.createTempFile(work, "torch-generation-logits", ".f32");
        try {
            Process p = new ProcessBuilder(
                            python,
                            script.toString(),
                            "--model",
                            model.toString(),
                            "--threads",
                            Integer.toString(threads),
                            "--prompt",
                            Integer.toString(promptTokens),
                            "--decode",
                            Integer.toString(decodeTokens),
                            "--prefill",
                            Integer.toString(prefillTokens),
                            "--reps",
                            Integer.toString(reps),
                            "--parity-tokens",
                            Arrays.stream(tokens).mapToObj(Integer::toString).collect(Collectors.joining(",")),
                            "--logits-out",
                            logitsFile.toString())
                    .redirectError(ProcessBuilder.Redirect.INHERIT)
                    .start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (!p.waitFor(30, TimeUnit.MINUTES) || p.exitValue() != 0 || out.isEmpty()) {
                throw new IOException(python + " " + script + " exited " + (p.isAlive() ? "late" : p.exitValue()));
            }
            JsonNode json = new ObjectMapper().readTree(out.substring(out.lastIndexOf('\n') + 1));
            double parity = parity(model, tokens, logitsFile, vocab);
            String engine = "pytorch " + json.path("torch").asText("?") + " eager f32";
            String note = String.format(
                    Locale.ROOT,
                    "%s on %s: bench/torch_generate_qwen3.py (the module training/export_qwen3_embedding_onnx.py"
                            + " --decoder exports, run eagerly), %d torch thread(s); decode with a KV cache (one"
                            + " forward per token), prefill one forward; logits vs ours on the same directory on %d"
                            + " tokens: max |diff| %.2e%s",
                    engine,
                    model.getFileName(),
                    threads,
                    PARITY_TOKENS,
                    parity,
                    parity <= PARITY_TOLERANCE
                            ? " (within " + PARITY_TOLERANCE + ")"
                            : " (NOT within " + PARITY_TOLERANCE + ")");
            return new Result(
                    engine,
                    json.get("decode_tokens_per_s").asDouble(),
                    json.get("prefill_tokens_per_s").asDouble(),
                    note);
        } finally {
            Files.deleteIfExists(logitsFile);
        }
    }

    /** Max |difference| between the logits the script wrote and ours for {@code tokens}, one step each. */
    static double parity(Path model, int[] tokens, Path logitsFile, int vocab) throws IOException {
        long expected = 4L * tokens.length * vocab;
        if (Files.size(logitsFile) != expected) {
            throw new IOException(
                    logitsFile + ": " + Files.size(logitsFile) + " bytes of logits, expected " + expected);
        }
        FloatBuffer theirs = ByteBuffer.wrap(Files.readAllBytes(logitsFile))
                .order(ByteOrder.LITTLE_ENDIAN)
                .asFloatBuffer();
        float[][] ours;
        try (Model m = Model.load(model);
                InferenceSession s = m.newSession()) {
            ours = s.logits(tokens);
        }
        double max = 0;
        for (int i = 0; i < tokens.length; i++) {
            for (int v = 0; v < vocab; v++) {
                max = Math.max(max, Math.abs(theirs.get(i * vocab + v) - ours[i][v]));
            }
        }
        return max;
    }
}
