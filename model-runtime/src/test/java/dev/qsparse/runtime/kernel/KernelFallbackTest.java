package dev.qsparse.runtime.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A JVM started without --add-modules jdk.incubator.vector runs the scalar kernels (and says so). */
class KernelFallbackTest {

    static String run(String... jvmFlags) throws IOException, InterruptedException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new java.util.ArrayList<>(List.of(java));
        cmd.addAll(List.of(jvmFlags));
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), FallbackMain.class.getName()));
        Process p = new ProcessBuilder(cmd)
                .redirectError(ProcessBuilder.Redirect.DISCARD)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertEquals(0, p.waitFor());
        return out;
    }

    @Test
    void withoutTheModuleTheScalarKernelsRun() throws Exception {
        assertEquals("scalar", run());
        assertEquals("scalar", run("--add-modules", "jdk.incubator.vector", "-Dqsparse.kernels=scalar"));
        String vector = run("--add-modules", "jdk.incubator.vector");
        org.junit.jupiter.api.Assertions.assertTrue(vector.startsWith("vector-"), vector);
    }
}
