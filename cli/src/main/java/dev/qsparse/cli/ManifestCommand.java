package dev.qsparse.cli;

import dev.qsparse.flink.ModelManifest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(
        name = "manifest",
        mixinStandardHelpOptions = true,
        description = {
            "Write DIR/" + ModelManifest.FILE_NAME
                    + ": every file of the model with its size and SHA-256, and a version.",
            "Run it once when publishing a model (before uploading it to s3://, hdfs://, ...): the task managers check",
            "each file they copy against it, and its version goes into every record's model_version. Prints the manifest."
        })
final class ManifestCommand implements Callable<Integer> {

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Model directory.")
    Path model;

    @Option(
            names = "--model-version",
            paramLabel = "VERSION",
            description =
                    "The model's version (at most 128 characters); without it, model_version is the directory's name.")
    String version;

    @Override
    public Integer call() throws Exception {
        if (!Files.isDirectory(model)) {
            throw new IllegalArgumentException(model + ": not a directory");
        }
        spec.commandLine().getOut().print(ModelManifest.write(model, version));
        spec.commandLine().getOut().flush();
        return 0;
    }
}
