package dev.qsparse.bench.onnx;

import ai.onnxruntime.OrtEnvironment;
import dev.qsparse.bench.EmbedEngine;
import dev.qsparse.bench.EmbedPeers;
import dev.qsparse.runtime.model.MiniLmDirectory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The MiniLM peers of {@code bin/qsparse bench}: the directory is built from langchain4j's jar by
 * model-runtime's MiniLmDirectory (its test-jar, in this folder), and compared with ONNX Runtime on
 * the same export and with langchain4j's own model.
 */
public final class MiniLmPeers implements EmbedPeers {

    private final OrtEnvironment env = OrtEnvironment.getEnvironment();
    private Path dir;
    private Path onnx;

    @Override
    public Path minilmDirectory(Path dir) throws Exception {
        if (!Files.isRegularFile(dir.resolve("model.safetensors"))) {
            MiniLmDirectory.write(dir);
        }
        this.dir = dir;
        this.onnx = MiniLmDirectory.onnxFile(Files.createDirectories(dir.resolveSibling(dir.getFileName() + "-onnx")));
        return dir;
    }

    @Override
    public List<EmbedEngine> engines(int threads, List<String> notes) throws Exception {
        if (dir == null) {
            throw new IllegalStateException("minilmDirectory first");
        }
        notes.add("onnxruntime " + env.getVersion() + " f32: the export in langchain4j's jar, our tokenizer, one run"
                + " per padded batch, intra-op threads " + threads + ", mean pooling and normalisation in Java.");
        notes.add("langchain4j " + threads + " thread: langchain4j 1.19.0-beta29's OnnxBertBiEncoder (DJL tokenizer,"
                + " one ONNX Runtime run per text) on the jar's export with intra-op threads " + threads
                + " and every text on the calling thread. langchain4j as shipped: new AllMiniLmL6V2EmbeddingModel(),"
                + " ONNX Runtime's default threads and an executor of one thread per core ("
                + Runtime.getRuntime().availableProcessors() + " here): for reference, not at the same thread count.");
        return List.of(
                new OrtEmbedEngine(env, onnx, dir.resolve("tokenizer.json"), 256, threads),
                LangChainEmbedEngine.pinned(env, threads),
                LangChainEmbedEngine.asShipped());
    }
}
