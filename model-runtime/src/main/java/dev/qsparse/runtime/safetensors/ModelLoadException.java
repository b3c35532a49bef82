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

    /** Longest problem text and tensor name kept: a message may quote a value of a hostile file. */
    public static final int MAX_PROBLEM_CHARS = 2000;

    public static ModelLoadException forTensor(Path file, String tensor, String problem) {
        return new ModelLoadException(file + ": tensor '" + cut(tensor, 200) + "': " + cut(problem, MAX_PROBLEM_CHARS));
    }

    public static ModelLoadException forFile(Path file, String problem) {
        return new ModelLoadException(file + ": " + cut(problem, MAX_PROBLEM_CHARS));
    }

    /** {@code s} cut to {@code max} characters, saying how long it was. */
    public static String cut(String s, int max) {
        if (s == null || s.length() <= max) {
            return s;
        }
        int end = Character.isHighSurrogate(s.charAt(max - 1)) ? max - 1 : max;
        return s.substring(0, end) + "... (" + s.length() + " characters)";
    }
}
