package dev.qsparse.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qsparse.runtime.safetensors.ModelFiles;
import dev.qsparse.runtime.safetensors.ModelLoadException;
import dev.qsparse.runtime.tokenizer.Tokenizer;
import dev.qsparse.runtime.tokenizer.TokenizerLoadException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Only regular files of the model directory are read: a FIFO, a device, a directory or a link out
 * of the directory fails at once with a message naming the file and what it is (never a hang,
 * never a misleading "not found"), and never quoting the file's bytes.
 */
class ModelFileKindsTest {

    private static final String SECRET = "SECRET-CONTENT-0123456789";

    @TempDir
    Path tmp;

    private Path model() throws IOException {
        return PoisonedModels.copy(TestModels.TEST_MODEL, tmp.resolve("model"));
    }

    /** Loads under a time bound (a FIFO would block forever) and returns the failure. */
    private static <E extends Exception> E loadFails(Class<E> type, Path dir) {
        return assertTimeoutPreemptively(
                Duration.ofSeconds(20),
                () -> assertThrows(type, () -> {
                    try (Model ignored = Model.load(dir)) {
                        // not reached
                    }
                }));
    }

    private static void mkfifo(Path p) throws Exception {
        Process proc;
        try {
            proc = new ProcessBuilder("mkfifo", p.toString())
                    .redirectErrorStream(true)
                    .start();
        } catch (IOException e) {
            Assumptions.abort("mkfifo is not available: " + e.getMessage());
            return;
        }
        Assumptions.assumeTrue(proc.waitFor() == 0 && Files.exists(p), "mkfifo failed");
    }

    private static void says(Exception e, String... fragments) {
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), "says '" + f + "': " + e.getMessage());
        }
        assertFalse(e.getMessage().contains(SECRET), "echoes file contents: " + e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"config.json", "model.safetensors", "tokenizer.json"})
    void aFifoFailsAtOnceNamingTheFile(String file) throws Exception {
        Path m = model();
        Files.delete(m.resolve(file));
        mkfifo(m.resolve(file));
        Exception e = loadFails(IOException.class, m);
        says(e, m.resolve(file).toString(), "is a FIFO (named pipe), not a regular file");
    }

    @ParameterizedTest
    @ValueSource(strings = {"config.json", "model.safetensors", "tokenizer.json"})
    void aDirectoryFailsNamingTheFile(String file) throws Exception {
        Path m = model();
        Files.delete(m.resolve(file));
        Files.createDirectory(m.resolve(file));
        ModelLoadException e = loadFails(ModelLoadException.class, m);
        says(e, m.resolve(file) + ": is a directory, not a regular file");
    }

    @ParameterizedTest
    @ValueSource(strings = {"config.json", "model.safetensors", "tokenizer.json"})
    void aLinkToDevZeroIsALinkOutOfTheDirectory(String file) throws Exception {
        Assumptions.assumeTrue(Files.exists(Path.of("/dev/zero")), "no /dev/zero");
        Path m = model();
        Files.delete(m.resolve(file));
        Files.createSymbolicLink(m.resolve(file), Path.of("/dev/zero"));
        ModelLoadException e = loadFails(ModelLoadException.class, m);
        says(e, m.resolve(file) + ": a symbolic link that leads outside the model directory");
    }

    @Test
    void devZeroItselfIsACharacterDevice() {
        Assumptions.assumeTrue(Files.exists(Path.of("/dev/zero")), "no /dev/zero");
        ModelLoadException e = assertThrows(
                ModelLoadException.class,
                () -> dev.qsparse.runtime.safetensors.SafetensorsFile.open(Path.of("/dev/zero")));
        says(e, "/dev/zero: is a character device, not a regular file");
        TokenizerLoadException t =
                assertThrows(TokenizerLoadException.class, () -> Tokenizer.load(Path.of("/dev/zero")));
        says(t, "/dev/zero: is a character device, not a regular file");
    }

    @Test
    void aLinkedWeightFileOutsideTheDirectoryIsNeitherReadNorEchoed() throws Exception {
        Path outside = Files.createDirectories(tmp.resolve("elsewhere")).resolve("secret.txt");
        Files.writeString(outside, SECRET + "\n");
        Path m = model();
        Files.delete(m.resolve("model.safetensors"));
        Files.createSymbolicLink(m.resolve("model.safetensors"), outside);
        ModelLoadException e = loadFails(ModelLoadException.class, m);
        says(e, "model.safetensors: a symbolic link that leads outside the model directory");
        // Its first 8 bytes as a little-endian number used to appear as the "header length".
        long first8 = ByteBuffer.wrap(SECRET.getBytes(StandardCharsets.US_ASCII), 0, 8)
                .order(ByteOrder.LITTLE_ENDIAN)
                .getLong();
        assertFalse(e.getMessage().contains(Long.toString(first8)), e.getMessage());
    }

    @Test
    void aHuggingFaceCacheSnapshotLoadsWithItsLinksInsideTheCacheRoot() throws Exception {
        // snapshots/REV/* -> ../../blobs/SHA, as huggingface_hub lays a repository out.
        Path blobs = Files.createDirectories(tmp.resolve("hub/models--org--m/blobs"));
        Path m = PoisonedModels.copy(TestModels.TEST_MODEL, tmp.resolve("hub/models--org--m/snapshots/rev"));
        for (String f : new String[] {"model.safetensors", "config.json"}) {
            Files.move(m.resolve(f), blobs.resolve("sha-" + f));
            Files.createSymbolicLink(m.resolve(f), Path.of("../../blobs/sha-" + f));
        }
        try (Model model = Model.load(m)) {
            assertEquals(1000, model.config().vocabSize());
        }
    }

    @Test
    void aHuggingFaceCacheSnapshotLinkOutOfTheCacheRootIsRefused() throws Exception {
        Path outside = Files.createDirectories(tmp.resolve("elsewhere")).resolve("weights");
        Files.createDirectories(tmp.resolve("hub/models--org--m/blobs"));
        Path m = PoisonedModels.copy(TestModels.TEST_MODEL, tmp.resolve("hub/models--org--m/snapshots/rev"));
        Files.move(m.resolve("model.safetensors"), outside);
        Files.createSymbolicLink(m.resolve("model.safetensors"), outside);
        ModelLoadException e = loadFails(ModelLoadException.class, m);
        says(
                e,
                "model.safetensors: a symbolic link that leads outside the Hugging Face cache root",
                tmp.resolve("hub/models--org--m").toRealPath().toString());
        // The property still lifts the rule for a layout the user trusts.
        System.setProperty(ModelFiles.EXTERNAL_LINKS_PROPERTY, "allow");
        try (Model model = Model.load(m)) {
            assertEquals(1000, model.config().vocabSize());
        } finally {
            System.clearProperty(ModelFiles.EXTERNAL_LINKS_PROPERTY);
        }
    }

    @Test
    void aSnapshotsDirectoryWithoutBlobsIsAnOrdinaryModelDirectory() throws Exception {
        Path elsewhere = Files.createDirectories(tmp.resolve("plain/blobs-not"));
        Path m = PoisonedModels.copy(TestModels.TEST_MODEL, tmp.resolve("plain/snapshots/rev"));
        Files.move(m.resolve("model.safetensors"), elsewhere.resolve("w"));
        Files.createSymbolicLink(m.resolve("model.safetensors"), Path.of("../../blobs-not/w"));
        says(loadFails(ModelLoadException.class, m), "a symbolic link that leads outside the model directory");
    }

    @Test
    void aNonSafetensorsFileInsideTheDirectoryIsNotEchoedEither() throws Exception {
        Path m = model();
        // Big enough for the config's weight budget, so the weight file itself is read.
        Files.writeString(m.resolve("model.safetensors"), SECRET + " ".repeat(400_000));
        ModelLoadException e = loadFails(ModelLoadException.class, m);
        says(e, "model.safetensors: not a safetensors file: its 8-byte header length is not in [2, ");
        long first8 = ByteBuffer.wrap(SECRET.getBytes(StandardCharsets.US_ASCII), 0, 8)
                .order(ByteOrder.LITTLE_ENDIAN)
                .getLong();
        assertFalse(e.getMessage().contains(Long.toString(first8)), e.getMessage());
    }

    @Test
    void invalidJsonIsReportedByPositionNotByContent() throws Exception {
        Path m = model();
        Files.writeString(m.resolve("config.json"), "{\"model_type\": " + SECRET + "}");
        ModelLoadException e = loadFails(ModelLoadException.class, m);
        says(e, "config.json: not valid JSON at line 1, column ");
        Path t = PoisonedModels.copy(TestModels.TEST_MODEL, tmp.resolve("model2"));
        Files.writeString(t.resolve("tokenizer.json"), SECRET);
        TokenizerLoadException te = loadFails(TokenizerLoadException.class, t);
        says(te, "tokenizer.json: not valid JSON at line 1, column ");
    }

    @Test
    void linksInsideTheDirectoryAreFollowed() throws Exception {
        Path m = model();
        Path weights = Files.createDirectory(m.resolve("weights"));
        Files.move(m.resolve("model.safetensors"), weights.resolve("v1.safetensors"));
        Files.createSymbolicLink(m.resolve("model.safetensors"), Path.of("weights/v1.safetensors"));
        Files.move(m.resolve("tokenizer.json"), weights.resolve("tokenizer.json"));
        Files.createSymbolicLink(m.resolve("tokenizer.json"), weights.resolve("tokenizer.json"));
        // And the model directory itself reached through a link.
        Path alias = Files.createSymbolicLink(tmp.resolve("alias"), m);
        try (Model model = Model.load(alias)) {
            assertTrue(model.tokenizer().isPresent());
            assertEquals(
                    48,
                    model.newSession()
                            .embed("a text", dev.qsparse.runtime.inference.Pooling.MEAN)
                            .vector()
                            .length);
        }
    }

    /** An index whose every tensor lives in {@code shard}; model.safetensors moved to {@code realShard}. */
    private Path sharded(String shard) throws IOException {
        Path m = model();
        ObjectMapper json = new ObjectMapper();
        byte[] file = Files.readAllBytes(m.resolve("model.safetensors"));
        long n = ByteBuffer.wrap(file, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        JsonNode header = json.readTree(new String(file, 8, (int) n, StandardCharsets.UTF_8));
        ObjectNode index = json.createObjectNode();
        ObjectNode map = index.putObject("weight_map");
        for (Iterator<String> it = header.fieldNames(); it.hasNext(); ) {
            String name = it.next();
            if (!name.equals("__metadata__")) {
                map.put(name, shard);
            }
        }
        json.writeValue(m.resolve("model.safetensors.index.json").toFile(), index);
        return m;
    }

    @Test
    void aFifoShardFailsAtOnce() throws Exception {
        Path m = sharded("model-00001-of-00001.safetensors");
        Files.delete(m.resolve("model.safetensors"));
        mkfifo(m.resolve("model-00001-of-00001.safetensors"));
        ModelLoadException e = loadFails(ModelLoadException.class, m);
        says(e, "model-00001-of-00001.safetensors: is a FIFO (named pipe), not a regular file");
    }

    @Test
    void aShardLinkedOutOfTheDirectoryFails() throws Exception {
        Path m = sharded("model-00001-of-00001.safetensors");
        Path outside = Files.createDirectories(tmp.resolve("other")).resolve("weights.safetensors");
        Files.move(m.resolve("model.safetensors"), outside);
        Files.createSymbolicLink(m.resolve("model-00001-of-00001.safetensors"), outside);
        ModelLoadException e = loadFails(ModelLoadException.class, m);
        says(e, "model-00001-of-00001.safetensors: a symbolic link that leads outside the model directory");
        // The same shard as a regular file loads.
        Files.delete(m.resolve("model-00001-of-00001.safetensors"));
        Files.move(outside, m.resolve("model-00001-of-00001.safetensors"));
        try (Model model = Model.load(m)) {
            assertEquals(1000, model.config().vocabSize());
        }
    }

    @Test
    void aSafetensorsHeaderWithTrailingGarbageFails() throws Exception {
        Path m = model();
        Path f = m.resolve("model.safetensors");
        byte[] file = Files.readAllBytes(f);
        int n = (int) ByteBuffer.wrap(file, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        String header = new String(file, 8, n, StandardCharsets.UTF_8);
        String trimmed = header.stripTrailing();
        // Replace the header's padding (or its last bytes) with garbage after the object, same length.
        String garbage = trimmed + " xx";
        byte[] g = garbage.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + g.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(g.length).put(g);
        byte[] data = java.util.Arrays.copyOfRange(file, 8 + n, file.length);
        Files.write(f, concat(b.array(), data));
        ModelLoadException e = loadFails(ModelLoadException.class, m);
        says(e, "model.safetensors: header has data after its JSON value (line 1, column ");
        // Trailing spaces (the format's padding) stay fine: the untouched model loads.
        try (Model ok = Model.load(TestModels.TEST_MODEL)) {
            assertEquals(1000, ok.config().vocabSize());
        }
    }

    @Test
    void aHugeConfigIsNotReadPastItsBound() throws Exception {
        Path m = model();
        String config = Files.readString(m.resolve("config.json"));
        Files.writeString(m.resolve("config.json"), " ".repeat((int) ModelFiles.MAX_CONFIG_BYTES) + config);
        ModelLoadException e = loadFails(ModelLoadException.class, m);
        says(e, "config.json: larger than the " + ModelFiles.MAX_CONFIG_BYTES + "-byte limit for this file");
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
