package dev.qsparse.jobs.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Ctrl-C or SIGTERM during the demo stops its Flink job and its Kafka broker and removes its
 * temporary files (issue 22: the demo left the broker's log directory behind). Runs the real demo
 * in a JVM of its own, with a temporary directory of its own, and sends that JVM SIGTERM (what
 * {@code kill} sends; a terminal's Ctrl-C sends SIGINT, which runs the same shutdown hooks) while
 * the job runs: afterwards that temporary directory is empty.
 */
class DemoShutdownTest {

    @Test
    void sigtermDuringTheDemoStopsEverythingAndLeavesNoTemporaryFiles(@TempDir Path tmp) throws Exception {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        // The test JVM's module flags (the Vector API), not its agents or its tmpdir.
        ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
                .filter(a -> a.startsWith("--add-modules"))
                .forEach(command::add);
        command.addAll(List.of(
                "-Djava.io.tmpdir=" + tmp,
                "-Xmx768m",
                "-cp",
                System.getProperty("java.class.path"),
                EmbeddedDemo.class.getName(),
                "--model",
                "../models/qsparse-demo",
                "--events-file",
                "../models/data/events.txt",
                "--web-port",
                "0",
                "--parallelism",
                "1",
                "--rate",
                "2"));
        Path log = Files.createTempFile("demo-shutdown", ".log");
        Process demo = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        try {
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
            while (!output(log).contains("now producing") && demo.isAlive()) {
                assertTrue(System.nanoTime() < deadline, () -> "the demo did not warm up: " + output(log));
                Thread.sleep(200);
            }
            assertTrue(demo.isAlive(), () -> "the demo ended early: " + output(log));
            List<Path> running = list(tmp);
            assertEquals(1, running.size(), running::toString);
            assertTrue(Files.isDirectory(running.get(0).resolve("kafka")), "the broker's log directory is in it");

            demo.destroy(); // SIGTERM
            assertTrue(demo.waitFor(90, TimeUnit.SECONDS), "the demo exits after SIGTERM");
        } finally {
            demo.destroyForcibly();
        }
        String output = output(log);
        assertEquals(143, demo.exitValue(), () -> "ended by SIGTERM: " + output);
        assertEquals(List.of(), list(tmp), () -> "temporary files left behind: " + output);
        assertFalse(output.contains("Exception in thread"), output);
        Files.delete(log);
    }

    private static List<Path> list(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.toList();
        }
    }

    private static String output(Path log) {
        try {
            return Files.readString(log, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return e.toString();
        }
    }
}
