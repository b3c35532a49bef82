package dev.qsparse.bench;

import java.nio.file.Path;
import java.util.List;

/**
 * Another engine measured on the same float weights, in the same run and at the same thread count:
 * ONNX Runtime in this JVM ({@code dev.qsparse.bench.onnx.OnnxRuntimePeer}, built only by the
 * bench module's {@code onnx} Maven profile and loaded at run time, so that neither the default
 * build nor the runtime carries its jar).
 */
public interface Peer extends AutoCloseable {

    /** The engine column of its rows, e.g. {@code "onnxruntime 1.22.0 f32"}. */
    String engine();

    /**
     * Decode, prefill and embed figures of the model whose dense f32 variant is {@code f32Dir}
     * ({@code embed} null when the model has no tokenizer or no events were found). Adds rows, and
     * notes saying what was measured, or why not.
     */
    void run(
            String model,
            Path f32Dir,
            BenchSuite.Options options,
            BenchSuite.EmbedWorkload embed,
            List<BenchSuite.DecodeRow> rows,
            List<String> notes)
            throws Exception;

    @Override
    default void close() {}
}
