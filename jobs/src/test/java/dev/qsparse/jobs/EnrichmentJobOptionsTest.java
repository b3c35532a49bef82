package dev.qsparse.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qsparse.flink.QSparseOptions;
import dev.qsparse.jobs.demo.DemoEvents;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.apache.flink.configuration.ConfigOption;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class EnrichmentJobOptionsTest {

    @Test
    void helpListsEveryOptionWithItsDefault() {
        StringWriter text = new StringWriter();
        CommandLine cli = EnrichmentJob.commandLine(new JobOptions());
        cli.setOut(new PrintWriter(text));
        assertEquals(0, cli.execute("--help"));
        String help = text.toString();
        for (String option : List.of(
                "--bootstrap-servers",
                "--input-topic",
                "--output-topic",
                "--dead-letter-topic",
                "--group-id",
                "--starting-offsets",
                "--checkpoint-interval",
                "--parallelism",
                "--delivery",
                "--transactional-id-prefix",
                "--transaction-timeout",
                "--model",
                "--mode",
                "--max-batch-size",
                "--max-wait",
                "--threads",
                "--set")) {
            assertTrue(help.contains(option), "help lists " + option);
        }
        assertTrue(help.contains("default: localhost:9092"), help);
        assertTrue(help.contains("else PT10S"), help);
    }

    /**
     * The operator flags have no defaults of their own: they are QSparseOptions' defaults, and
     * --help lists every qsparse.* option with QSparseOptions' default and description.
     */
    @Test
    void operatorDefaultsAndHelpComeFromQSparseOptions() {
        JobOptions o = JobOptions.parse("--model", "m");
        assertEquals(QSparseOptions.MODE.defaultValue().wireName(), o.mode);
        assertEquals(QSparseOptions.BATCH_MAX_SIZE.defaultValue(), o.maxBatchSize);
        assertEquals(QSparseOptions.BATCH_MAX_WAIT.defaultValue(), o.maxWait);
        assertEquals(QSparseOptions.THREADS.defaultValue(), o.threads);
        for (Field f : JobOptions.class.getDeclaredFields()) {
            CommandLine.Option option = f.getAnnotation(CommandLine.Option.class);
            if (option != null && OperatorFlags.FLAGS.containsKey(option.names()[0])) {
                assertEquals(
                        "__no_default_value__",
                        option.defaultValue(),
                        option.names()[0] + " must take its default from QSparseOptions, not repeat it");
            }
        }

        StringWriter text = new StringWriter();
        CommandLine cli = EnrichmentJob.commandLine(new JobOptions());
        cli.setOut(new PrintWriter(text));
        assertEquals(0, cli.execute("--help"));
        String help = text.toString().replaceAll("\\s+", " ");
        assertTrue(help.contains("else " + QSparseOptions.BATCH_MAX_SIZE.defaultValue() + ")"), help);
        for (ConfigOption<?> option : QSparseOptions.all()) {
            String def = option.hasDefaultValue() ? OperatorFlags.text(option.defaultValue()) : "";
            assertTrue(
                    help.contains(option.key() + " (default: " + (def.isEmpty() ? "none" : def) + ")"),
                    "help lists " + option.key() + " with its default: " + help);
            String description = new OperatorFlags.PlainText().format(option.description());
            assertTrue(help.contains(description), "help gives the description of " + option.key());
        }
    }

    @Test
    void parsesOptionsAndOperatorPassThrough() {
        JobOptions o = JobOptions.parse(
                "--model",
                "m",
                "--delivery",
                "at-least-once",
                "--checkpoint-interval",
                "PT2S",
                "--set",
                "qsparse.generate.max-new-tokens=5");
        assertEquals(JobOptions.Delivery.AT_LEAST_ONCE, o.delivery);
        assertEquals(Duration.ofSeconds(2), o.checkpointInterval);
        assertEquals("5", o.operatorOptions().get("qsparse.generate.max-new-tokens"));
        assertTrue(o.given("--checkpoint-interval"));
        assertTrue(!o.given("--max-batch-size"));
        assertEquals(JobOptions.Delivery.EXACTLY_ONCE, JobOptions.parse("--model", "m").delivery);
        assertThrows(CommandLine.ParameterException.class, () -> JobOptions.parse("--no-such-option"));
    }

    @Test
    void demoEventsMixEveryMalformedKind() {
        List<DemoEvents.Event> events = DemoEvents.build(List.of("one", "two \"quoted\""), 10, 8, null, 1);
        assertEquals(18, events.size());
        assertEquals(8, events.stream().filter(DemoEvents.Event::malformed).count());
        long invalidUtf8 = events.stream()
                .filter(e -> {
                    String s = new String(e.payload(), StandardCharsets.UTF_8);
                    return !java.util.Arrays.equals(s.getBytes(StandardCharsets.UTF_8), e.payload());
                })
                .count();
        assertEquals(1, invalidUtf8);
        // Every malformed payload still names its event, so outputs can be matched to inputs.
        for (DemoEvents.Event e : events) {
            assertTrue(new String(e.payload(), StandardCharsets.UTF_8).contains(e.id()), e.id());
        }
    }
}
