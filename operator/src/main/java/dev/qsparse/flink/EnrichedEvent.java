package dev.qsparse.flink;

import java.util.Arrays;
import java.util.Objects;

/**
 * An event enriched by the model. A Flink POJO (public fields, no-arg constructor), so it never
 * goes through Kryo. The result fields of the other modes are null.
 *
 * <p>JSON form ({@link #toJson()}), snake_case:
 * <ul>
 *   <li>always: {@code id} (string or number, as it came in), {@code mode}, {@code model},
 *       {@code activation_sparsity} (fraction of zero inputs over all linear projections),
 *       {@code input_tokens}, {@code input_truncated} (cut to the context window),
 *       {@code text_truncated} (cut to {@code qsparse.input.max-chars}), {@code latency_ms} (from
 *       arrival at the operator to the result, queueing included), {@code inference_ms} (the
 *       model's own time), {@code batch_size};
 *   <li>embed: {@code embedding} (L2-normalised floats), {@code pooling};
 *   <li>generate: {@code generated_text}, {@code generated_tokens}, {@code finish_reason};
 *   <li>score: {@code logprob}, {@code mean_logprob}, {@code perplexity}, {@code scored_tokens}.
 * </ul>
 * Every number written is finite: a non-finite one (which the runtime never returns) would be
 * written as {@code null}, never as {@code NaN}/{@code Infinity}.
 */
public class EnrichedEvent {

    public String id;
    public boolean idNumeric;
    /** "embed", "generate" or "score". */
    public String mode;

    public String model;
    /** The model's version ({@code model_version}): what answered this event. */
    public String modelVersion;

    public float[] embedding;
    public String pooling;

    public String generatedText;
    public int[] generatedTokens;
    public String finishReason;

    public Double logprob;
    public Double meanLogprob;
    public Double perplexity;
    public Integer scoredTokens;

    public double activationSparsity;
    public int inputTokens;
    public boolean inputTruncated;
    public boolean textTruncated;
    public double latencyMs;
    public double inferenceMs;
    public int batchSize;

    public EnrichedEvent() {}

    public String toJson() {
        return Json.object(g -> {
            Json.writeId(g, id, idNumeric);
            g.writeStringField("mode", mode);
            g.writeStringField("model", model);
            if (modelVersion != null) {
                g.writeStringField("model_version", modelVersion);
            }
            if (embedding != null) {
                g.writeFieldName("embedding");
                g.writeStartArray();
                for (float v : embedding) {
                    Json.number(g, v);
                }
                g.writeEndArray();
                g.writeStringField("pooling", pooling);
            }
            if (generatedTokens != null) {
                g.writeStringField("generated_text", generatedText);
                g.writeFieldName("generated_tokens");
                g.writeArray(generatedTokens, 0, generatedTokens.length);
                g.writeStringField("finish_reason", finishReason);
            }
            if (logprob != null) {
                Json.number(g, "logprob", logprob);
                Json.number(g, "mean_logprob", meanLogprob);
                Json.number(g, "perplexity", perplexity);
                g.writeNumberField("scored_tokens", scoredTokens);
            }
            Json.number(g, "activation_sparsity", activationSparsity);
            g.writeNumberField("input_tokens", inputTokens);
            g.writeBooleanField("input_truncated", inputTruncated);
            g.writeBooleanField("text_truncated", textTruncated);
            Json.number(g, "latency_ms", latencyMs);
            Json.number(g, "inference_ms", inferenceMs);
            g.writeNumberField("batch_size", batchSize);
        });
    }

    /**
     * Whether every number of the result is finite. The runtime never returns NaN or infinity
     * (it fails the request instead); the operator checks again before emitting, and
     * {@link #toJson()} writes a non-finite number as {@code null}, never as {@code NaN}.
     */
    public boolean isFinite() {
        if (embedding != null) {
            for (float v : embedding) {
                if (!Float.isFinite(v)) {
                    return false;
                }
            }
        }
        return finite(logprob)
                && finite(meanLogprob)
                && finite(perplexity)
                && Double.isFinite(activationSparsity)
                && Double.isFinite(latencyMs)
                && Double.isFinite(inferenceMs);
    }

    private static boolean finite(Double d) {
        return d == null || Double.isFinite(d);
    }

    /**
     * The size of {@link #toJson()} in UTF-8 bytes, or a cheap upper bound of it when that bound
     * is already at most {@code limit} (so the usual small record is not written twice).
     */
    long jsonSizeAtMost(long limit) {
        // Strings: at most a 6-byte escape per char; a float at most 16 chars with its comma, an
        // int 12, the fixed fields and numbers well under 512.
        long bound = 512
                + 6L
                        * (len(id)
                                + len(mode)
                                + len(model)
                                + len(modelVersion)
                                + len(pooling)
                                + len(generatedText)
                                + len(finishReason))
                + (embedding == null ? 0 : 16L * embedding.length)
                + (generatedTokens == null ? 0 : 12L * generatedTokens.length);
        return bound <= limit ? bound : Json.utf8Length(toJson());
    }

    private static long len(String s) {
        return s == null ? 0 : s.length();
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof EnrichedEvent e)) {
            return false;
        }
        return idNumeric == e.idNumeric
                && Objects.equals(id, e.id)
                && Objects.equals(mode, e.mode)
                && Objects.equals(model, e.model)
                && Objects.equals(modelVersion, e.modelVersion)
                && Arrays.equals(embedding, e.embedding)
                && Objects.equals(pooling, e.pooling)
                && Objects.equals(generatedText, e.generatedText)
                && Arrays.equals(generatedTokens, e.generatedTokens)
                && Objects.equals(finishReason, e.finishReason)
                && Objects.equals(logprob, e.logprob)
                && Objects.equals(meanLogprob, e.meanLogprob)
                && Objects.equals(perplexity, e.perplexity)
                && Objects.equals(scoredTokens, e.scoredTokens)
                && activationSparsity == e.activationSparsity
                && inputTokens == e.inputTokens
                && inputTruncated == e.inputTruncated
                && textTruncated == e.textTruncated
                && latencyMs == e.latencyMs
                && inferenceMs == e.inferenceMs
                && batchSize == e.batchSize;
    }

    @Override
    public int hashCode() {
        return Objects.hash(id, mode, model, inputTokens);
    }

    @Override
    public String toString() {
        return toJson();
    }
}
