package dev.qsparse.runtime.safetensors;

/**
 * A weight file changed under its memory map: it is now shorter than the data the model maps (it
 * was truncated, or rewritten in place instead of replaced by a rename). Not about one request:
 * whoever serves the model should fail and reload it, never turn it into a per-request error.
 */
public class ModelFilesChangedException extends IllegalStateException {

    public ModelFilesChangedException(String message, Throwable cause) {
        super(message, cause);
    }
}
