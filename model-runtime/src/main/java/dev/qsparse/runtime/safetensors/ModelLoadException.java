package dev.qsparse.runtime.safetensors;

import java.io.IOException;
import java.nio.file.Path;

/** A model file that cannot be used: the message names the file and, where known, the tensor. */
public class ModelLoadException extends IOException {

    public ModelLoadException(String message) {
        super(message);
    }

    public ModelLoadException(String message, Throwable cause) {
        super(message, cause);
    }

    public static ModelLoadException forTensor(Path file, String tensor, String problem) {
        return new ModelLoadException(file + ": tensor '" + tensor + "': " + problem);
    }

    public static ModelLoadException forFile(Path file, String problem) {
        return new ModelLoadException(file + ": " + problem);
    }
}
