package dev.qsparse.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qsparse.jobs.demo.EmbeddedDemo;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The README's run command, in a short run, so it cannot silently rot. */
class DemoTest {

    static final Path DEMO_MODEL = Path.of("../models/qsparse-demo");

    private static String[] args(String... extra) {
        Path model = Files.isDirectory(DEMO_MODEL) ? DEMO_MODEL : Pipeline.TEST_MODEL;
        String[] base = {
            "--model",
            model.toString(),
            "--events-file",
            "../models/data/events.txt",
            "--events",
            "40",
            "--malformed",
            "8",
            "--web-port",
            "0",
            "--max-new-tokens",
            "4"
        };
        String[] all = new String[base.length + extra.length];
        System.arraycopy(base, 0, all, 0, base.length);
        System.arraycopy(extra, 0, all, base.length, extra.length);
        return all;
    }

    @Test
    void demoRunsEndToEndAndAccountsForEveryEvent() {
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        EmbeddedDemo demo = new EmbeddedDemo(new PrintStream(captured, true, StandardCharsets.UTF_8));
        int code = new CommandLine(demo).execute(args("--mode", "embed", "--checkpoint-interval", "PT0.5S"));
        String printed = captured.toString(StandardCharsets.UTF_8);
        assertEquals(0, code, printed);
        EmbeddedDemo.Summary s = demo.summary();
        assertEquals(48, s.sent());
        assertEquals(40, s.enriched());
        assertEquals(8, s.deadLettered());
        assertTrue(printed.contains("nearest:"), printed);
        assertTrue(printed.contains("Flink web UI: http://127.0.0.1:"), printed);
        assertTrue(printed.contains("accounted for    all, exactly once"), printed);
        assertTrue(s.meanSparsity() > 0.4, "sparsity " + s.meanSparsity());

        // Producing starts once the job is warm, at a steady rate; two latencies, each saying what it covers.
        assertTrue(printed.contains("Job warm after"), printed);
        assertTrue(printed.contains("input rate       " + EmbeddedDemo.DEFAULT_RATE + " events/s, steady"), printed);
        assertTrue(printed.contains("operator latency p50 "), printed);
        assertTrue(printed.contains("(the records' latency_ms)"), printed);
        assertTrue(printed.contains("visible latency  p50 "), printed);
        assertTrue(printed.contains("a checkpoint every 500 ms, --checkpoint-interval"), printed);
        assertEquals(40, s.operator().count(), "operator latency of every enriched event");
        assertEquals(40, s.committed().count(), "visible latency of every enriched event");
        assertEquals(java.time.Duration.ofMillis(500), s.checkpointInterval());
        // Micro-batch scale, not the seconds of model loading and a backlog (generous: shared CI cores).
        assertTrue(
                s.operator().p99Millis() < 1500, "operator p99 " + s.operator().p99Millis() + " ms");
        assertTrue(s.committed().p50Millis() >= s.operator().p50Millis(), "what a consumer sees includes the operator");
    }

    /** The demo command: a switch after N events, and the summary's counts per model_version. */
    @Test
    void demoSwitchesTheModelVersionMidRun(@TempDir Path tmp) throws Exception {
        Path model = Files.isDirectory(DEMO_MODEL) ? DEMO_MODEL : Pipeline.TEST_MODEL;
        String oldVersion = model.toAbsolutePath().normalize().getFileName().toString();
        Path copy = Files.createDirectories(tmp.resolve(oldVersion + "-v2"));
        try (var files = Files.list(model)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                Files.copy(f, copy.resolve(f.getFileName()));
            }
        }
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        EmbeddedDemo demo = new EmbeddedDemo(new PrintStream(captured, true, StandardCharsets.UTF_8));
        int code = new CommandLine(demo)
                .execute(args(
                        "--mode",
                        "embed",
                        "--checkpoint-interval",
                        "PT0.5S",
                        "--switch-model-at",
                        "16",
                        copy.toString()));
        String printed = captured.toString(StandardCharsets.UTF_8);
        assertEquals(0, code, printed);
        EmbeddedDemo.Summary s = demo.summary();
        assertEquals(40, s.enriched());
        assertTrue(s.modelSwitchesRefused().isEmpty(), printed);
        assertEquals(
                java.util.Set.of(oldVersion, oldVersion + "-v2"),
                s.modelVersions().keySet(),
                printed);
        assertEquals(
                40,
                s.modelVersions().values().stream().mapToInt(Integer::intValue).sum());
        assertTrue(printed.contains("Published to qsparse-demo-model-control after 16 events"), printed);
        assertTrue(printed.contains("by model version " + oldVersion + "-v2"), printed);
        assertTrue(printed.contains("accounted for    all, exactly once"), printed);
    }

    @Test
    void missingModelFailsWithAClearMessage() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        CommandLine cli = new CommandLine(new EmbeddedDemo());
        cli.setErr(new java.io.PrintWriter(err, true, StandardCharsets.UTF_8));
        int code = cli.execute("--model", "/no/such/model");
        assertTrue(code != 0);
        assertTrue(
                err.toString(StandardCharsets.UTF_8).contains("/no/such/model"), err.toString(StandardCharsets.UTF_8));
    }
}
