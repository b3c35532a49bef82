package dev.qsparse.bench;

import java.nio.file.Path;

/**
 * An engine beside ours in {@link EmbeddingModelsBench#generationTable}: it generates from a
 * Qwen3 directory (decode with a KV cache, prefill in one run) on random token ids. ONNX Runtime's
 * ({@link #ONNX_RUNTIME}) is found at run time in the folder the bench module's {@code onnx} profile
 * builds, as {@link EmbeddingModelPeer#ONNX_RUNTIME} is.
 */
public interface GenerationPeer {

    /** ONNX Runtime on the f32 decoder export of a Qwen3 directory, in the onnx profile's folder. */
    String ONNX_RUNTIME = "dev.qsparse.bench.onnx.OrtQwen3DecodePeer";

    /** Medians over the reps, and a note saying what ran and how its logits compare with ours. */
    record Result(String engine, double decodeTokensPerSecond, double prefillTokensPerSecond, String note) {}

    /**
     * Times {@code model} at {@code threads} threads, exporting it under {@code work} with {@code
     * python}: {@code decodeTokens} greedy steps after a {@code promptTokens} prompt, and one prefill
     * of {@code prefillTokens}, each {@code reps} times after a warm-up.
     */
    Result run(
            Path model,
            Path work,
            String python,
            int threads,
            int promptTokens,
            int decodeTokens,
            int prefillTokens,
            int reps)
            throws Exception;

    /** {@link #ONNX_RUNTIME} from {@code loader}, or null when the loader does not have it. */
    static GenerationPeer onnxRuntime(ClassLoader loader) throws ReflectiveOperationException {
        try {
            return (GenerationPeer)
                    Class.forName(ONNX_RUNTIME, true, loader).getConstructor().newInstance();
        } catch (ClassNotFoundException e) {
            return null;
        }
    }
}
