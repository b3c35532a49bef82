package dev.qsparse.nd4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.inference.InferenceSession;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Every documented backend value, set as a JVM property on a real JVM with backend-nd4j on its
 * class path, loads a model and serves it, and the backend in use is the one named
 * ({@code -Dqsparse.batch.backend=nd4j}, one of the older spellings, made model load fail).
 */
class Nd4jBackendPropertyTest {

    static final String MODEL = "../model-runtime/src/test/resources/fixtures/qsparse_dense";

    /** Loads the model, serves logits, prints the batch backend in use. */
    public static void main(String[] args) throws IOException {
        try (Model model = Model.load(Path.of(MODEL));
                InferenceSession session = model.newSession()) {
            session.logits(new int[] {3, 5, 7});
            System.out.println("backend=" + model.batchBackend());
        }
    }

    private static String run(String property) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules",
                "jdk.incubator.vector",
                "-Dorg.bytedeco.javacpp.cachedir="
                        + System.getProperty("org.bytedeco.javacpp.cachedir", "target/javacpp"),
                "-cp",
                System.getProperty("java.class.path")));
        if (property != null) {
            cmd.add(property);
        }
        cmd.add(Nd4jBackendPropertyTest.class.getName());
        Path log = Files.createTempFile(Path.of("target"), "backend", ".log");
        Process p = new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the JVM did not finish");
        String out = Files.readString(log);
        assertEquals(0, p.exitValue(), out);
        return out.lines().filter(l -> l.startsWith("backend=")).findFirst().orElse(out);
    }

    @Test
    void everyDocumentedValueServesWithTheBackendItNames() throws Exception {
        assertEquals("backend=nd4j", run("-Dqsparse.batch.backend=nd4j"));
        assertEquals("backend=nd4j", run("-Dqsparse.backend=nd4j"));
        for (String javaOnly : new String[] {"-Dqsparse.backend=java", "-Dqsparse.batch.backend=none"}) {
            assertTrue(run(javaOnly).startsWith("backend=vector-"), javaOnly);
        }
        assertEquals("backend=scalar", run("-Dqsparse.backend=scalar"));
        assertTrue(run(null).contains("nd4j"), "auto finds ND4J on the class path");
    }
}
