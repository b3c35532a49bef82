package dev.qsparse.flink;

import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.inference.InferenceRequest;
import dev.qsparse.runtime.inference.InferenceResult;
import dev.qsparse.runtime.inference.InferenceSession;
import dev.qsparse.runtime.safetensors.ModelFilesChangedException;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs micro-batches of parsed events through one {@link InferenceSession} and turns the results
 * into {@link QSparseResult}s, updating the metrics. One per inference thread (the session is not
 * thread-safe); shared code of the async and the map function.
 */
public final class ModelRunner implements AutoCloseable {

    private final InferenceSession session;
    private final String modelName;
    private final String modelVersion;
    private final int maxRecordBytes;
    private final OperatorMetrics metrics;

    ModelRunner(Model model, String modelName, String modelVersion, int maxRecordBytes, OperatorMetrics metrics) {
        this.session = model.newSession();
        this.modelName = modelName;
        this.modelVersion = modelVersion;
        this.maxRecordBytes = maxRecordBytes;
        this.metrics = metrics;
    }

    /**
     * Serves a batch. {@code arrivalNanos[i]} is when event i reached the function
     * ({@link System#nanoTime()}), for its latency. Never throws for a bad event: a runtime
     * failure, or an exception while serving one event, becomes that event's dead letter. Records
     * the batch metrics; the caller counts each result it actually emits
     * ({@link OperatorMetrics#emitted}).
     */
    public List<QSparseResult> run(List<ParsedEvent> events, long[] arrivalNanos) {
        int n = events.size();
        List<InferenceRequest> requests = new ArrayList<>(n);
        for (ParsedEvent e : events) {
            requests.add(e.request());
        }
        long start = System.nanoTime();
        List<InferenceResult> results;
        try {
            results = session.run(requests);
        } catch (ModelFilesChangedException notAboutAnEvent) {
            // A weight file shrank under its mapping: fail the task (it restarts and reloads),
            // never dead-letter the batch.
            throw notAboutAnEvent;
        } catch (RuntimeException batchError) {
            // Find the event that broke the batch: serve them one by one.
            results = new ArrayList<>(n);
            for (InferenceRequest r : requests) {
                try {
                    results.add(session.run(r));
                } catch (ModelFilesChangedException notAboutAnEvent) {
                    throw notAboutAnEvent;
                } catch (RuntimeException e) {
                    results.add(new InferenceResult.Failure(
                            "inference error: " + e, new InferenceResult.Stats(0, false, 0, 0)));
                }
            }
        }
        long end = System.nanoTime();
        metrics.batchSize.update(n);
        metrics.batchLatencyMs.updateNanos(end - start);

        List<QSparseResult> out = new ArrayList<>(n);
        double sparsitySum = 0;
        int served = 0;
        for (int i = 0; i < n; i++) {
            ParsedEvent event = events.get(i);
            InferenceResult result = results.get(i);
            long latencyNanos = end - arrivalNanos[i];
            metrics.eventLatencyMs.updateNanos(latencyNanos);
            if (result instanceof InferenceResult.Failure f) {
                out.add(QSparseResult.of(DeadLetter.of(
                        event.payload,
                        true,
                        event.id,
                        event.idNumeric,
                        DeadLetter.STAGE_INFERENCE,
                        f.reason(),
                        modelName,
                        maxRecordBytes)));
                continue;
            }
            EnrichedEvent enriched = enrich(event, result, latencyNanos, n);
            if (!enriched.isFinite()) {
                // The runtime fails such requests itself (FiniteCheck); never emit NaN as a result.
                out.add(QSparseResult.of(DeadLetter.of(
                        event.payload,
                        true,
                        event.id,
                        event.idNumeric,
                        DeadLetter.STAGE_INFERENCE,
                        "the model produced a non-finite number (NaN or infinity)",
                        modelName,
                        maxRecordBytes)));
                continue;
            }
            sparsitySum += enriched.activationSparsity;
            served++;
            out.add(bounded(event, enriched, modelName, maxRecordBytes));
        }
        if (served > 0) {
            metrics.lastBatchSparsity(sparsitySum / served);
        }
        return out;
    }

    /**
     * The enriched record, or a dead letter (stage "output") when its JSON would be longer than
     * {@code maxRecordBytes}: a sink rejects a record over its limit, and that would fail the job
     * on every restart.
     */
    static QSparseResult bounded(ParsedEvent event, EnrichedEvent enriched, String modelName, int maxRecordBytes) {
        long size = enriched.jsonSizeAtMost(maxRecordBytes);
        if (size <= maxRecordBytes) {
            return QSparseResult.of(enriched);
        }
        return QSparseResult.of(DeadLetter.of(
                event.payload,
                true,
                event.id,
                event.idNumeric,
                DeadLetter.STAGE_OUTPUT,
                "the enriched record is " + size + " bytes of JSON, over " + QSparseOptions.OUTPUT_MAX_RECORD_SIZE.key()
                        + " = " + maxRecordBytes + " bytes",
                modelName,
                maxRecordBytes));
    }

    /** Releases the session's resources (its kernel threads). */
    @Override
    public void close() {
        session.close();
    }

    private EnrichedEvent enrich(ParsedEvent event, InferenceResult result, long latencyNanos, int batchSize) {
        EnrichedEvent e = new EnrichedEvent();
        e.id = event.id;
        e.idNumeric = event.idNumeric;
        e.mode = event.mode.wireName();
        e.model = modelName;
        e.modelVersion = modelVersion;
        e.textTruncated = event.textTruncated;
        e.batchSize = batchSize;
        e.latencyMs = latencyNanos / 1e6;
        InferenceResult.Stats stats = result.stats();
        e.activationSparsity = stats.activationSparsity();
        e.inputTokens = stats.inputTokens();
        e.inputTruncated = stats.inputTruncated();
        e.inferenceMs = stats.nanos() / 1e6;
        if (result instanceof InferenceResult.Embedding emb) {
            e.embedding = emb.vector();
            e.pooling = emb.pooling().name().toLowerCase(java.util.Locale.ROOT);
        } else if (result instanceof InferenceResult.Generation gen) {
            e.generatedText = gen.text();
            e.generatedTokens = gen.tokens();
            e.finishReason = gen.finishReason();
        } else if (result instanceof InferenceResult.Score s) {
            e.logprob = s.logprob();
            e.meanLogprob = s.meanLogprob();
            e.perplexity = s.perplexity();
            e.scoredTokens = s.scoredTokens();
        }
        return e;
    }
}
