package dev.qsparse.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.qsparse.runtime.Model;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CLI bundle ({@code cli/target/qsparse-cli}, built by the cli module's package phase) runs
 * where there is no Maven, no gcc and no source tree: copied to a temporary directory and started
 * with an environment holding only {@code JAVA_HOME} and a PATH with nothing but {@code bash} and
 * {@code find} on it, it embeds texts (equal to the runtime's own embedding), reads JSON Lines on
 * stdin, and runs as a plain {@code java -jar}. The source checkout's {@code bin/qsparse} runs the
 * bundle under the same PATH, without building. With the runtime its {@code bin/add-runtime} makes
 * (jlink), the bundle runs with no JAVA_HOME and no java on the PATH at all. Needs the reactor to have packaged the cli module
 * ({@code mvn verify}, or {@code -pl tests -am verify -Dtest=CliBundleTest}).
 */
class CliBundleTest {

    private static final Path BUNDLE = Path.of("../cli/target/qsparse-cli");
    private static final Path DEMO_MODEL = Path.of("../models/qsparse-demo").toAbsolutePath();
    private static final String TEXT = "It is a truth universally acknowledged";
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path tmp;

    /** A PATH with bash and find only (no mvn, java, gcc). */
    private static Path bareBin;

    /** The bundle, copied away from the source tree. */
    private static Path copied;

    @BeforeAll
    static void copyTheBundleAndStripThePath() throws IOException {
        assertTrue(
                Files.isExecutable(BUNDLE.resolve("bin/qsparse")),
                BUNDLE.toAbsolutePath() + " has no bin/qsparse: package the cli module first (mvn verify)");
        copied = copyOfTheBundle("elsewhere");
        bareBin = Files.createDirectories(tmp.resolve("bare-bin"));
        for (String tool : new String[] {"bash", "find"}) {
            Path real = Stream.of("/usr/bin/", "/bin/")
                    .map(dir -> Path.of(dir + tool))
                    .filter(Files::isExecutable)
                    .findFirst()
                    .orElseThrow(() -> new AssertionError("no " + tool + " in /usr/bin or /bin"));
            Files.createSymbolicLink(bareBin.resolve(tool), real);
        }
        assertFalse(Files.exists(bareBin.resolve("mvn"), LinkOption.NOFOLLOW_LINKS));
    }

    /** The bundle copied to {@code tmp/where/qsparse-cli}, file modes kept. */
    private static Path copyOfTheBundle(String where) throws IOException {
        Path copy = tmp.resolve(where).resolve("qsparse-cli");
        try (Stream<Path> files = Files.walk(BUNDLE)) {
            for (Path from : (Iterable<Path>) files::iterator) {
                Path to = copy.resolve(BUNDLE.relativize(from).toString());
                if (Files.isDirectory(from)) {
                    Files.createDirectories(to);
                } else {
                    Files.copy(from, to, StandardCopyOption.COPY_ATTRIBUTES);
                }
            }
        }
        return copy;
    }

    private record Result(int exitCode, String stdout, String stderr) {}

    /** Runs {@code command} with only PATH (bash and find) and JAVA_HOME (this JVM's) set. */
    private static Result run(String stdin, String... command) throws Exception {
        return runWithJavaHome(System.getProperty("java.home"), stdin, command);
    }

    /** Runs {@code command} with only PATH (bash and find) and, unless null, JAVA_HOME set. */
    private static Result runWithJavaHome(String javaHome, String stdin, String... command) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(command).directory(tmp.toFile());
        Map<String, String> env = pb.environment();
        env.clear();
        env.put("PATH", bareBin.toString());
        if (javaHome != null) {
            env.put("JAVA_HOME", javaHome);
        }
        Path out = Files.createTempFile(tmp, "stdout", ".txt");
        Path err = Files.createTempFile(tmp, "stderr", ".txt");
        pb.redirectOutput(out.toFile()).redirectError(err.toFile());
        Process p = pb.start();
        try (var in = p.getOutputStream()) {
            if (stdin != null) {
                in.write(stdin.getBytes(StandardCharsets.UTF_8));
            }
        }
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the CLI did not finish in 120 s");
        return new Result(p.exitValue(), Files.readString(out), Files.readString(err));
    }

    private static List<JsonNode> ok(Result r) throws IOException {
        assertEquals(0, r.exitCode(), r.stdout() + r.stderr());
        List<JsonNode> lines = new ArrayList<>();
        for (String line : r.stdout().lines().toList()) {
            lines.add(JSON.readTree(line));
        }
        return lines;
    }

    private static float[] expectedEmbedding() throws IOException {
        try (Model model = Model.load(DEMO_MODEL)) {
            return model.newSession().embed(TEXT, null).vector();
        }
    }

    private static float[] floats(JsonNode array) {
        float[] v = new float[array.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) array.get(i).asDouble();
        }
        return v;
    }

    @Test
    void theCopiedBundleEmbedsWithoutMavenOrASourceTree() throws Exception {
        String launcher = copied.resolve("bin/qsparse").toString();
        List<JsonNode> one = ok(run(null, launcher, "embed", "--model", DEMO_MODEL.toString(), "--text", TEXT));
        assertEquals(1, one.size());
        assertArrayEquals(expectedEmbedding(), floats(one.get(0).get("embedding")));

        String jsonl = "{\"id\": \"a\", \"text\": \"" + TEXT + "\"}\n{\"id\": 2, \"text\": \"Short.\"}\n";
        List<JsonNode> many = ok(
                run(jsonl, launcher, "embed", "--model", DEMO_MODEL.toString(), "--input", "-", "--format", "jsonl"));
        assertEquals(2, many.size());
        assertEquals("a", many.get(0).get("id").asText());
        assertEquals(2, many.get(1).get("id").asInt());
        assertArrayEquals(expectedEmbedding(), floats(many.get(0).get("embedding")));
    }

    @Test
    void theBundlesJarRunsWithJavaDashJar() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String jar = copied.resolve("lib/qsparse-cli.jar").toString();
        List<JsonNode> out = ok(run(
                null,
                java,
                "--add-modules",
                "jdk.incubator.vector",
                "-jar",
                jar,
                "embed",
                "--model",
                DEMO_MODEL.toString(),
                "--text",
                TEXT));
        assertArrayEquals(expectedEmbedding(), floats(out.get(0).get("embedding")));
    }

    @Test
    void theSourceCheckoutsLauncherRunsTheBundleWithoutMaven() throws Exception {
        String launcher = Path.of("../bin/qsparse").toAbsolutePath().normalize().toString();
        Result r = run(null, launcher, "embed", "--model", DEMO_MODEL.toString(), "--text", TEXT);
        List<JsonNode> out = ok(r);
        assertArrayEquals(expectedEmbedding(), floats(out.get(0).get("embedding")));
        assertFalse(r.stderr().contains("building"), r.stderr());
    }

    @Test
    void withAJlinkedRuntimeTheBundleNeedsNoJavaOnTheMachine() throws Exception {
        Path bundle = copyOfTheBundle("with-runtime");
        // add-runtime runs where a JDK is (this JVM's); the bundle then runs with no JAVA_HOME and no java on the PATH.
        Result added = run(null, bundle.resolve("bin/add-runtime").toString());
        assertEquals(0, added.exitCode(), added.stdout() + added.stderr());
        assertTrue(added.stderr().contains("made " + bundle.resolve("runtime")), added.stderr());
        assertTrue(Files.isExecutable(bundle.resolve("runtime/bin/java")));
        List<JsonNode> out = ok(runWithJavaHome(
                null,
                null,
                bundle.resolve("bin/qsparse").toString(),
                "embed",
                "--model",
                DEMO_MODEL.toString(),
                "--text",
                TEXT));
        assertArrayEquals(expectedEmbedding(), floats(out.get(0).get("embedding")));
    }
}
