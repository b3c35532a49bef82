package dev.qsparse.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.qsparse.flink.QSparseOptions;
import dev.qsparse.flink.QSparseSettings;
import dev.qsparse.runtime.inference.GenerationParams;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.reflect.Field;
import org.apache.flink.configuration.Configuration;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** Generation defaults are defined once, by the runtime: the CLI and the operator read them. */
class GenerationDefaultsTest {

    @Test
    void theCliAndTheOperatorUseGenerationParamsDefaults() throws Exception {
        GenerationParams d = GenerationParams.defaults();
        GenerateCommand g = new GenerateCommand();
        new CommandLine(g).parseArgs("--model", "m", "--prompt", "p");
        assertEquals(d, new GenerationParams(g.maxTokens, g.temperature, g.topK, g.topP, g.seed, g.stops, true));
        for (Field f : GenerateCommand.class.getDeclaredFields()) {
            CommandLine.Option option = f.getAnnotation(CommandLine.Option.class);
            if (option != null && GenerationDefaults.values().containsKey(option.names()[0])) {
                assertEquals("__no_default_value__", option.defaultValue(), option.names()[0] + " repeats a default");
            }
        }
        StringWriter help = new StringWriter();
        CommandLine cli = new CommandLine(new GenerateCommand());
        cli.setOut(new PrintWriter(help));
        cli.execute("--help");
        assertEquals(
                true,
                help.toString().contains("New tokens at most (default " + d.maxNewTokens() + ")"),
                help.toString());

        Configuration c = new Configuration();
        c.set(QSparseOptions.MODEL_PATH, "/m");
        assertEquals(d, QSparseSettings.from(c).defaultGeneration());
    }
}
