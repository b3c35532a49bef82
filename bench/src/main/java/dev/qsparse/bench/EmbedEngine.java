package dev.qsparse.bench;

import java.util.List;

/**
 * One way to embed texts, timed by {@link EmbedTable}: ours, ONNX Runtime, langchain4j. Each call
 * embeds a batch as that engine serves one (some run it whole, some text by text); the vectors come
 * back in order, so the engines can be compared to each other on the same texts.
 */
public interface EmbedEngine extends AutoCloseable {

    /** The engine column, e.g. {@code "qsparse f32"}. */
    String name();

    /** One vector per text, in order. */
    List<float[]> embed(List<String> texts) throws Exception;

    @Override
    default void close() throws Exception {}
}
