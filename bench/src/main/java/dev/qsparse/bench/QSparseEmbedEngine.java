package dev.qsparse.bench;

import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.inference.InferenceRequest;
import dev.qsparse.runtime.inference.InferenceResult;
import dev.qsparse.runtime.inference.InferenceSession;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Our runtime: one session, a batch is one {@link InferenceSession#run(List)} (its texts share every pass). */
public final class QSparseEmbedEngine implements EmbedEngine {

    private final String name;
    private final Model model;
    private final InferenceSession session;
    private double sparsitySum;
    private long embedded;

    public QSparseEmbedEngine(String name, Path dir, int threads) throws IOException {
        this.name = name;
        this.model = Model.load(dir);
        this.session = new InferenceSession(model, threads);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public List<float[]> embed(List<String> texts) {
        List<InferenceRequest> requests = new ArrayList<>(texts.size());
        for (String t : texts) {
            requests.add(InferenceRequest.embed(t, null));
        }
        List<float[]> out = new ArrayList<>(texts.size());
        for (InferenceResult r : session.run(requests)) {
            if (r instanceof InferenceResult.Failure f) {
                throw new IllegalStateException(name + ": " + f.reason());
            }
            InferenceResult.Embedding e = (InferenceResult.Embedding) r;
            out.add(e.vector());
            sparsitySum += e.stats().activationSparsity();
            embedded++;
        }
        return out;
    }

    /** The mean share of zero projection inputs over every text embedded so far (0 before any). */
    public double activationSparsity() {
        return embedded == 0 ? 0 : sparsitySum / embedded;
    }

    @Override
    public void close() {
        session.close();
        model.close();
    }
}
