package dev.qsparse.cli;

import dev.qsparse.runtime.inference.GenerationParams;
import java.util.Map;
import picocli.CommandLine;

/**
 * Defaults of the generation flags, read from {@link GenerationParams#defaults()}: the runtime
 * defines them once, the CLI repeats none of them.
 */
final class GenerationDefaults implements CommandLine.IDefaultValueProvider {

    /** Flag -> default, as the flag spells it. */
    static Map<String, String> values() {
        GenerationParams d = GenerationParams.defaults();
        return Map.of(
                "--max-tokens", String.valueOf(d.maxNewTokens()),
                "--temperature", String.valueOf(d.temperature()),
                "--top-k", String.valueOf(d.topK()),
                "--top-p", String.valueOf(d.topP()),
                "--seed", String.valueOf(d.seed()));
    }

    @Override
    public String defaultValue(CommandLine.Model.ArgSpec arg) {
        return arg.isOption() ? values().get(((CommandLine.Model.OptionSpec) arg).longestName()) : null;
    }
}
