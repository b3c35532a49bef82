package dev.qsparse.runtime.inference;

import java.util.Objects;

/**
 * One item of a micro-batch: a text and what to do with it. A null {@code pooling} is the model's
 * own: its sentence-transformers Pooling module for an encoder, {@link Pooling#MEAN} for a decoder.
 */
public record InferenceRequest(Task task, String text, GenerationParams generation, Pooling pooling) {

    public InferenceRequest {
        Objects.requireNonNull(task, "task");
        Objects.requireNonNull(text, "text");
        generation = generation == null ? GenerationParams.defaults() : generation;
    }

    public static InferenceRequest generate(String text, GenerationParams params) {
        return new InferenceRequest(Task.GENERATE, text, params, null);
    }

    public static InferenceRequest embed(String text, Pooling pooling) {
        return new InferenceRequest(Task.EMBED, text, null, pooling);
    }

    public static InferenceRequest score(String text) {
        return new InferenceRequest(Task.SCORE, text, null, null);
    }
}
