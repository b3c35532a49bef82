package dev.qsparse.runtime.tokenizer;

import java.io.IOException;
import java.nio.file.Path;

/** A {@code tokenizer.json} could not be read, is not valid JSON, or describes something unsupported. */
public final class TokenizerLoadException extends IOException {
    private static final long serialVersionUID = 1L;

    private final transient Path file;

    public TokenizerLoadException(Path file, String problem) {
        super(file + ": "
                + dev.qsparse.runtime.safetensors.ModelLoadException.cut(
                        problem, dev.qsparse.runtime.safetensors.ModelLoadException.MAX_PROBLEM_CHARS));
        this.file = file;
    }

    public TokenizerLoadException(Path file, String problem, Throwable cause) {
        super(
                file + ": "
                        + dev.qsparse.runtime.safetensors.ModelLoadException.cut(
                                problem, dev.qsparse.runtime.safetensors.ModelLoadException.MAX_PROBLEM_CHARS),
                cause);
        this.file = file;
    }

    /** The file that failed to load. */
    public Path file() {
        return file;
    }
}
