package dev.qsparse.cli;

import dev.qsparse.runtime.Model;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** The {@code --model DIR} option every command shares. */
final class ModelOptions {

    @Option(
            names = "--model",
            required = true,
            paramLabel = "DIR",
            description = "Model directory (config.json, model.safetensors, tokenizer.json).")
    Path model;

    /** The command this mixin is part of: its root holds the CLI's {@link ModelLoader}. */
    @Spec(Spec.Target.MIXEE)
    CommandSpec command;

    Model load() throws IOException {
        Object root = command == null ? null : command.root().userObject();
        return root instanceof QSparseCli cli ? cli.models.load(model) : Model.load(model);
    }
}
