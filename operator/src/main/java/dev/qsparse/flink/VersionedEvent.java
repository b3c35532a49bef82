package dev.qsparse.flink;

/**
 * A raw event with the model version that must answer it, as {@link ModelVersionTagger} decided
 * at the event's place in the stream. The tag travels with the event into the async operator's
 * checkpointed queue, so that an event replayed after a restore is answered by the same version.
 * A Flink POJO (public fields, no-arg constructor).
 */
public class VersionedEvent {

    /** The model's location, as {@code qsparse.model.path} or the control record gave it. */
    public String modelLocation;
    /** The version every result of this event carries ({@code model_version}). */
    public String modelVersion;
    /** The event as read from the source. */
    public byte[] payload;

    public VersionedEvent() {}

    public VersionedEvent(String modelLocation, String modelVersion, byte[] payload) {
        this.modelLocation = modelLocation;
        this.modelVersion = modelVersion;
        this.payload = payload;
    }
}
