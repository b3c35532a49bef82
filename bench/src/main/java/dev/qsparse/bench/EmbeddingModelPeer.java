package dev.qsparse.bench;

import java.nio.file.Path;
import java.util.List;

/**
 * An engine beside ours in {@link EmbeddingModelsBench}: it embeds the token ids our tokenizer gave
 * (the template's suffix included), a right-padded batch per call, with the model's last-token
 * pooling, L2-normalised. ONNX Runtime's ({@link #ONNX_RUNTIME}) is found at run time in the folder
 * the bench module's {@code onnx} profile builds, so that neither the default build nor the CLI
 * carries ONNX Runtime.
 */
public interface EmbeddingModelPeer extends AutoCloseable {

    /** ONNX Runtime on the f32 export of a Qwen3-Embedding directory, in the onnx profile's folder. */
    String ONNX_RUNTIME = "dev.qsparse.bench.onnx.OrtQwen3EmbedPeer";

    /**
     * Readies {@code model} at {@code threads} threads, exporting it under {@code work} with
     * {@code python} where the peer needs an export; returns a note saying what runs.
     */
    String open(Path model, Path work, String python, int threads) throws Exception;

    /** The engine, e.g. {@code "onnxruntime 1.22.0"}. */
    String engine();

    /** One L2-normalised vector per id list, in order. */
    float[][] embed(List<int[]> ids) throws Exception;

    /** {@link #ONNX_RUNTIME} from {@code loader}, or null when the loader does not have it. */
    static EmbeddingModelPeer onnxRuntime(ClassLoader loader) throws ReflectiveOperationException {
        try {
            return (EmbeddingModelPeer)
                    Class.forName(ONNX_RUNTIME, true, loader).getConstructor().newInstance();
        } catch (ClassNotFoundException e) {
            return null;
        }
    }
}
