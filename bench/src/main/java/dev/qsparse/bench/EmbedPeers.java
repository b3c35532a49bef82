package dev.qsparse.bench;

import java.nio.file.Path;
import java.util.List;

/**
 * The real all-MiniLM-L6-v2 and the engines we compare with on it, found at run time in the folder
 * the bench module's {@code onnx} profile builds ({@code dev.qsparse.bench.onnx.MiniLmPeers}), so
 * that neither the default build nor the CLI carries ONNX Runtime, DJL or langchain4j.
 */
public interface EmbedPeers {

    /** The sentence-transformers directory of all-MiniLM-L6-v2 in {@code dir}, written there if absent. */
    Path minilmDirectory(Path dir) throws Exception;

    /** The peers on the same model and texts, each at {@code threads} threads; notes say what each is. */
    List<EmbedEngine> engines(int threads, List<String> notes) throws Exception;
}
