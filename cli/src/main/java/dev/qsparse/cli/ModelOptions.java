package dev.qsparse.cli;

import dev.qsparse.runtime.Model;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The {@code --model DIR} option every command shares. */
final class ModelOptions {

    @Option(
            names = "--model",
            required = true,
            paramLabel = "DIR",
            description = "Model directory (config.json, model.safetensors, tokenizer.json).")
    Path model;

    Model load() throws IOException {
        return Model.load(model);
    }
}
