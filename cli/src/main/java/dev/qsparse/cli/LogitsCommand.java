package dev.qsparse.cli;

import dev.qsparse.runtime.Model;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
        name = "logits",
        mixinStandardHelpOptions = true,
        description = "Print next-token logits for every input position: {\"logits\": [[...], ...]}.")
final class LogitsCommand implements Callable<Integer> {

    @Mixin
    ModelOptions modelOptions;

    @Option(
            names = "--tokens",
            required = true,
            split = ",",
            paramLabel = "IDS",
            description = "Comma-separated token ids, e.g. 5,17,250 (no BOS is added).")
    List<Integer> tokens;

    @Override
    public Integer call() throws Exception {
        try (Model model = modelOptions.load()) {
            int[] ids = tokens.stream().mapToInt(Integer::intValue).toArray();
            float[][] logits = model.newSession().logits(ids);
            Json.print(Map.of("logits", logits));
            return 0;
        }
    }
}
