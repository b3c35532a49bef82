package dev.qsparse.nativekernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Runs the C kernel harness (src/test/c/kernel_harness.c, built by gcc in test-compile): every level
 * this CPU runs against its scalar reference, bit for bit, without a JVM in between. It must report
 * every level the library says this CPU runs as checked, and the others as skipped.
 */
class NativeHarnessTest {

    @Test
    void everyRunnableLevelMatchesTheScalarReference() throws IOException, InterruptedException {
        Path harness = Path.of("target/native-harness/kernel_harness");
        assertTrue(Files.isExecutable(harness), "the build did not compile " + harness);
        Process p =
                new ProcessBuilder(harness.toString()).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the harness did not finish");
        assertEquals(0, p.exitValue(), output);
        for (String level : NativeKernels.LEVELS) {
            String expected = NativeKernels.runnable().contains(level)
                    ? "level " + level + ": ok"
                    : "level " + level + ": skipped, this CPU lacks it";
            assertTrue(output.contains(expected), "expected '" + expected + "' in:\n" + output);
        }
    }
}
