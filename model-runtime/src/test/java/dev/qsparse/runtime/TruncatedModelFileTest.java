package dev.qsparse.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qsparse.runtime.inference.InferenceRequest;
import dev.qsparse.runtime.inference.InferenceResult;
import dev.qsparse.runtime.inference.InferenceSession;
import dev.qsparse.runtime.inference.Pooling;
import dev.qsparse.runtime.safetensors.ModelFilesChangedException;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A weight file truncated in place while a model has it mapped: the next request (single, batch
 * or logits) fails with {@link ModelFilesChangedException} naming the file, instead of reading
 * pages past the end of the file (an {@code InternalError} in Java, {@code SIGBUS} in native code).
 * Run in a forked JVM, since on the old code a fault could take the JVM down.
 */
class TruncatedModelFileTest {

    @TempDir
    Path dir;

    /** In the forked JVM: load, serve, truncate the weights to half, serve again; prints what happened. */
    public static void main(String[] args) throws Exception {
        Path model = Path.of(args[0]);
        try (Model m = Model.load(model);
                InferenceSession s = m.newSession()) {
            InferenceResult before = s.run(InferenceRequest.embed("a text before", Pooling.MEAN));
            System.out.println("BEFORE " + before.getClass().getSimpleName());
            try (FileChannel ch = FileChannel.open(model.resolve("model.safetensors"), StandardOpenOption.WRITE)) {
                ch.truncate(ch.size() / 2);
            }
            for (String call : new String[] {"single", "batch", "logits"}) {
                try {
                    switch (call) {
                        case "single" -> s.run(InferenceRequest.embed("a text after", Pooling.MEAN));
                        case "batch" ->
                            s.run(List.of(InferenceRequest.embed("one", Pooling.MEAN), InferenceRequest.score("two")));
                        default -> s.logits(new int[] {5, 17});
                    }
                    System.out.println(call + " SERVED");
                } catch (ModelFilesChangedException e) {
                    System.out.println(call + " REFUSED " + e.getMessage());
                } catch (Throwable t) {
                    System.out.println(call + " OTHER " + t);
                }
            }
        }
    }

    @Test
    void aFileTruncatedUnderItsMappingIsRefusedBeforeItIsRead() throws IOException, InterruptedException {
        Path model = PoisonedModels.copy(TestModels.TEST_MODEL, dir.resolve("m"));
        Process p = new ProcessBuilder(
                        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "--add-modules",
                        "jdk.incubator.vector",
                        "-cp",
                        System.getProperty("java.class.path"),
                        TruncatedModelFileTest.class.getName(),
                        model.toAbsolutePath().toString())
                .redirectErrorStream(true)
                .start();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "child JVM finished");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("BEFORE Embedding"), out);
        for (String call : new String[] {"single", "batch", "logits"}) {
            assertTrue(
                    out.contains(call + " REFUSED "
                            + model.resolve("model.safetensors").toAbsolutePath() + ": the file shrank to "),
                    out);
        }
        assertTrue(out.contains("Replace model files by rename, never in place"), out);
    }
}
