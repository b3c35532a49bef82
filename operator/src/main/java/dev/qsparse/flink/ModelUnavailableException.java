package dev.qsparse.flink;

/**
 * A task's model cannot be loaded: thrown from {@code open()}, so the task fails at start with a
 * message naming the model path and the cause.
 */
public final class ModelUnavailableException extends Exception {

    private static final long serialVersionUID = 1L;

    public ModelUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
