package dev.qsparse.jobs.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qsparse.flink.QSparseOptions;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The demo's operator flags take their defaults from QSparseOptions; its own flags say what they set. */
class DemoOptionsTest {

    @Test
    void operatorDefaultsComeFromQSparseOptions() throws Exception {
        EmbeddedDemo demo = new EmbeddedDemo();
        new CommandLine(demo).parseArgs();
        assertEquals(QSparseOptions.MODE.defaultValue().wireName(), demo.mode);
        assertEquals(QSparseOptions.BATCH_MAX_SIZE.defaultValue(), demo.maxBatchSize);
        for (String flag : new String[] {"mode", "maxBatchSize"}) {
            CommandLine.Option option =
                    EmbeddedDemo.class.getDeclaredField(flag).getAnnotation(CommandLine.Option.class);
            assertEquals(
                    "__no_default_value__", option.defaultValue(), flag + " must not repeat QSparseOptions' default");
        }
        assertEquals(EmbeddedDemo.DEFAULT_RATE, demo.rate);
        assertEquals(Duration.ofSeconds(1), demo.checkpointInterval);

        StringWriter help = new StringWriter();
        CommandLine cli = new CommandLine(new EmbeddedDemo());
        cli.setOut(new PrintWriter(help));
        cli.execute("--help");
        String text = help.toString().replaceAll("\\s+", ""); // picocli wraps lines, also at '-'
        assertTrue(
                text.contains(
                        "setsqsparse.batch.max-size(default:" + QSparseOptions.BATCH_MAX_SIZE.defaultValue() + ")"),
                text);
        assertTrue(text.contains("--checkpoint-interval"), text);
    }

    @Test
    void aCheckpointIntervalOfZeroIsRefused() {
        StringWriter err = new StringWriter();
        CommandLine cli = new CommandLine(new EmbeddedDemo());
        cli.setErr(new PrintWriter(err));
        int code = cli.execute(
                "--model", "../model-runtime/src/test/resources/test-model", "--checkpoint-interval", "PT0S");
        assertEquals(2, code);
        assertTrue(err.toString().contains("--checkpoint-interval must be > 0"), err.toString());
    }
}
