package dev.qsparse.flink;

import dev.qsparse.runtime.inference.GenerationParams;
import dev.qsparse.runtime.inference.InferenceRequest;
import dev.qsparse.runtime.inference.Pooling;
import dev.qsparse.runtime.inference.Task;

/** A valid event, ready for the model. Lives only inside one task (never serialized). */
public final class ParsedEvent {

    final byte[] payload;
    final String id;
    final boolean idNumeric;
    final String text;
    final boolean textTruncated;
    final Task mode;
    final GenerationParams generation;
    final Pooling pooling;

    ParsedEvent(
            byte[] payload,
            String id,
            boolean idNumeric,
            String text,
            boolean textTruncated,
            Task mode,
            GenerationParams generation,
            Pooling pooling) {
        this.payload = payload;
        this.id = id;
        this.idNumeric = idNumeric;
        this.text = text;
        this.textTruncated = textTruncated;
        this.mode = mode;
        this.generation = generation;
        this.pooling = pooling;
    }

    InferenceRequest request() {
        return new InferenceRequest(mode, text, generation, pooling);
    }
}
