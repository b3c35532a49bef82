package dev.qsparse.bench.onnx;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.qsparse.bench.EmbeddingModelPeer;
import java.io.IOException;
import java.nio.LongBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * ONNX Runtime in this JVM on a Qwen3-Embedding directory: the graph {@code
 * training/export_qwen3_embedding_onnx.py} exports (f32, the published bf16 widened; last-token
 * pooling and L2 normalisation inside the graph; external data beside it past 2 GB), one run per
 * right-padded batch with its attention mask, intra-op threads = the bench's, one inter-op thread.
 */
public final class OrtQwen3EmbedPeer implements EmbeddingModelPeer {

    /** Rows and tokens per row a batch may have (the export's position table bounds tokens further). */
    static final int MAX_BATCH = 4096;

    static final int MAX_TOKENS = 32768;

    static final String EXPORTER = "export_qwen3_embedding_onnx.py";

    private final OrtEnvironment env = OrtEnvironment.getEnvironment();
    private final Path exporter;
    private OrtSession session;

    public OrtQwen3EmbedPeer() {
        this(findExporter());
    }

    public OrtQwen3EmbedPeer(Path exporter) {
        this.exporter = exporter;
    }

    /** {@code -Dqsparse.onnx.qwen3-exporter}, else training/ here or one directory up (module tests). */
    static Path findExporter() {
        String p = System.getProperty("qsparse.onnx.qwen3-exporter");
        if (p != null) {
            return Path.of(p);
        }
        for (String dir : new String[] {"training", "../training"}) {
            if (Files.isRegularFile(Path.of(dir, EXPORTER))) {
                return Path.of(dir, EXPORTER);
            }
        }
        return Path.of("training", EXPORTER);
    }

    @Override
    public String engine() {
        return "onnxruntime " + env.getVersion();
    }

    /** Exports {@code model} under {@code out}, unless an export newer than its weights and the exporter is there. */
    Path export(Path model, Path out, String python) throws IOException, InterruptedException {
        return export(exporter, model, out, python, "embed.onnx");
    }

    /**
     * Runs {@code exporter} (with {@code extraArgs}) on {@code model} into {@code out}, unless {@code
     * graph} and an onnx.json newer than the weights and the exporter are there already.
     */
    static Path export(Path exporter, Path model, Path out, String python, String graph, String... extraArgs)
            throws IOException, InterruptedException {
        Path info = out.resolve("onnx.json");
        Path weights = model.resolve("model.safetensors").toRealPath();
        if (Files.isRegularFile(info)
                && Files.isRegularFile(out.resolve(graph))
                && Files.getLastModifiedTime(info).compareTo(Files.getLastModifiedTime(weights)) > 0
                && Files.getLastModifiedTime(info).compareTo(Files.getLastModifiedTime(exporter)) > 0) {
            return out;
        }
        if (!Files.isRegularFile(exporter)) {
            throw new IOException(
                    "the Qwen3 ONNX exporter " + exporter + " is missing (-Dqsparse.onnx.qwen3-exporter=...)");
        }
        List<String> command = new ArrayList<>(
                List.of(python, exporter.toString(), "--model", model.toString(), "--out", out.toString()));
        command.addAll(List.of(extraArgs));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.MINUTES) || p.exitValue() != 0) {
            String tail = log.length() > 2000 ? log.substring(log.length() - 2000) : log;
            throw new IOException(
                    "export of " + model + " to ONNX failed (" + python + " " + exporter + "): " + tail.trim());
        }
        return out;
    }

    @Override
    public String open(Path model, Path work, String python, int threads) throws Exception {
        if (session != null) {
            throw new IllegalStateException("already open");
        }
        Path out = export(model, work.resolve("onnx").resolve(model.getFileName()), python);
        JsonNode info = new ObjectMapper().readTree(out.resolve("onnx.json").toFile());
        // From the file's path, so that ONNX Runtime finds the external data beside it.
        try (OrtSession.SessionOptions options = OnnxRuntimePeer.options(threads)) {
            session = env.createSession(out.resolve(info.get("graph").asText()).toString(), options);
        }
        return engine() + " f32 on " + model.getFileName() + ": exported by training/" + EXPORTER + " (torch "
                + info.path("torch").asText("?") + ", opset "
                + info.path("opset").asInt() + ", "
                + info.path("weight_bytes").asLong() / 1_000_000 + " MB of f32 weights"
                + (info.path("external_data").isEmpty() ? "" : " as external data") + "), our token ids,"
                + " one run per right-padded batch, last-token pooling and L2 normalisation in the graph,"
                + " intra-op threads " + threads + ", inter-op 1.";
    }

    @Override
    public float[][] embed(List<int[]> ids) throws Exception {
        if (session == null) {
            throw new IllegalStateException("open first");
        }
        if (ids.isEmpty() || ids.size() > MAX_BATCH) {
            throw new IllegalArgumentException("a batch has 1 to " + MAX_BATCH + " rows, got " + ids.size());
        }
        int t = 0;
        for (int[] row : ids) {
            if (row.length == 0 || row.length > MAX_TOKENS) {
                throw new IllegalArgumentException("a row has 1 to " + MAX_TOKENS + " tokens, got " + row.length);
            }
            t = Math.max(t, row.length);
        }
        long[] tokens = new long[ids.size() * t];
        long[] mask = new long[ids.size() * t];
        for (int b = 0; b < ids.size(); b++) {
            int[] row = ids.get(b);
            for (int i = 0; i < row.length; i++) {
                tokens[b * t + i] = row[i];
                mask[b * t + i] = 1;
            }
        }
        long[] shape = {ids.size(), t};
        try (OnnxTensor in = OnnxTensor.createTensor(env, LongBuffer.wrap(tokens), shape);
                OnnxTensor m = OnnxTensor.createTensor(env, LongBuffer.wrap(mask), shape);
                OrtSession.Result r = session.run(Map.of("input_ids", in, "attention_mask", m))) {
            return (float[][]) r.get(0).getValue();
        }
    }

    @Override
    public void close() throws Exception {
        if (session != null) {
            session.close();
            session = null;
        }
    }
}
