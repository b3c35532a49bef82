package dev.qsparse.cli;

import dev.qsparse.runtime.Model;
import java.io.IOException;
import java.nio.file.Path;

/**
 * How the CLI's commands load a model ({@link Model#load} unless a caller of
 * {@link QSparseCli#run(ModelLoader, String...)} says otherwise, e.g. a test counting loads).
 */
@FunctionalInterface
interface ModelLoader {

    Model load(Path directory) throws IOException;
}
