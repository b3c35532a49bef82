package dev.qsparse.jobs.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Ctrl-C or SIGTERM during the demo stops its Flink job and its Kafka broker and removes the
 * broker's temporary log directory (issue 22: the demo left it behind). Runs the demo's resources
 * in a JVM of its own and sends that JVM SIGTERM, as a terminal's Ctrl-C (SIGINT) or a
 * {@code kill} would.
 */
class DemoShutdownTest {

    private static String output(Path log) {
        try {
            return Files.readString(log, StandardCharsets.UTF_8);
        } catch (java.io.IOException e) {
            return e.toString();
        }
    }

    @Test
    void sigtermStopsTheJobAndTheBrokerAndRemovesTheLogDirectory() throws Exception {
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp",
                System.getProperty("java.class.path"),
                "-Djava.io.tmpdir=" + System.getProperty("java.io.tmpdir"),
                "-Xmx512m",
                DemoShutdownMain.class.getName()));
        Path log = Files.createTempFile("demo-shutdown", ".log");
        Process demo = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        Path dir = null;
        try {
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
            while (dir == null && demo.isAlive() && System.nanoTime() < deadline) {
                List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
                int ready = lines.indexOf("READY");
                dir = ready > 0 ? Path.of(lines.get(ready - 1)) : null;
                Thread.sleep(100);
            }
            assertTrue(dir != null && Files.isDirectory(dir), () -> "the demo did not start: " + output(log));
            assertTrue(Files.list(dir).findAny().isPresent(), "the broker writes its log directory");

            demo.destroy(); // SIGTERM
            assertTrue(demo.waitFor(90, TimeUnit.SECONDS), "the JVM exits after SIGTERM");
        } finally {
            demo.destroyForcibly();
        }
        String output = output(log);
        assertEquals(143, demo.exitValue(), () -> "killed by SIGTERM: " + output);
        assertFalse(Files.exists(dir), () -> "the broker's log directory is gone: " + output);
        assertFalse(output.contains("Exception in thread"), output);
        Files.delete(log);
    }
}
