package dev.qsparse.bench.onnx;

import ai.onnxruntime.OrtEnvironment;
import dev.qsparse.bench.GenerationPeer;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Random;

/**
 * ONNX Runtime in this JVM generating from a Qwen3 directory: the decoder graph {@code
 * training/export_qwen3_embedding_onnx.py --decoder} exports (f32, the published bf16 widened, tied
 * lm head; external data past 2 GB), stepped by {@link OnnxRuntimePeer.Graphs} as the llama-like
 * exports are: decode one run per token with the previous presents as its pasts, prefill one run from
 * an empty cache. Before timing, the logits of a few tokens are compared with the Java runtime's on
 * the same directory.
 */
public final class OrtQwen3DecodePeer implements GenerationPeer {

    /** Positions whose logits are compared with ours before timing. */
    static final int PARITY_TOKENS = 8;

    private final OrtEnvironment env = OrtEnvironment.getEnvironment();
    private final Path exporter;

    public OrtQwen3DecodePeer() {
        this(OrtQwen3EmbedPeer.findExporter());
    }

    public OrtQwen3DecodePeer(Path exporter) {
        this.exporter = exporter;
    }

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
        if (promptTokens < 1 || decodeTokens < 1 || prefillTokens < 1 || reps < 1) {
            throw new IllegalArgumentException("prompt, decode and prefill tokens and reps must be at least 1, got "
                    + promptTokens + ", " + decodeTokens + ", " + prefillTokens + ", " + reps);
        }
        Path out = OrtQwen3EmbedPeer.export(
                exporter,
                model,
                work.resolve("onnx").resolve(model.getFileName() + "-decoder"),
                python,
                "decoder.onnx",
                "--decoder");
        try (OnnxRuntimePeer.Graphs g = new OnnxRuntimePeer.Graphs(env, out, threads, "f32")) {
            double parity = g.logitParity(model, PARITY_TOKENS);
            Random random = new Random(7);
            int[] prompt = random.ints(promptTokens, 0, g.vocab).toArray();
            int[] prefill = random.ints(prefillTokens, 0, g.vocab).toArray();
            // warm-up, as ours: two short decodes and prefills
            for (int i = 0; i < 2; i++) {
                g.decode(prompt, Math.max(4, decodeTokens / 4));
                g.prefill(prefill);
            }
            double[] d = new double[reps];
            double[] p = new double[reps];
            for (int r = 0; r < reps; r++) {
                d[r] = g.decode(prompt, decodeTokens);
                p[r] = g.prefill(prefill);
            }
            String engine = "onnxruntime " + env.getVersion() + " f32";
            String note = String.format(
                    Locale.ROOT,
                    "%s on %s: exported by training/%s --decoder (torch %s, opset %d, %d MB of f32 weights%s);"
                            + " intra-op threads %d, inter-op 1; decode with a KV cache (one run per token, logits"
                            + " every token), prefill one run; logits vs ours on the same directory on %d tokens:"
                            + " max |diff| %.2e%s",
                    engine,
                    model.getFileName(),
                    OrtQwen3EmbedPeer.EXPORTER,
                    g.info.path("torch").asText("?"),
                    g.info.path("opset").asInt(),
                    g.info.path("weight_bytes").asLong() / 1_000_000,
                    g.info.path("external_data").isEmpty() ? "" : " as external data",
                    threads,
                    PARITY_TOKENS,
                    parity,
                    parity <= OnnxRuntimePeer.PARITY_TOLERANCE
                            ? " (within " + OnnxRuntimePeer.PARITY_TOLERANCE + ")"
                            : " (NOT within " + OnnxRuntimePeer.PARITY_TOLERANCE + ")");
            return new Result(engine, OnnxRuntimePeer.median(d), OnnxRuntimePeer.median(p), note);
        }
    }
}
