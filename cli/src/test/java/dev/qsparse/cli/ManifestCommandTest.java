package dev.qsparse.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qsparse.flink.ModelCache;
import dev.qsparse.flink.ModelManifest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code qsparse manifest} writes what the task managers' cache checks copies against. */
class ManifestCommandTest {

    @TempDir
    Path tmp;

    private Path model() throws IOException {
        Path m = Files.createDirectories(tmp.resolve("store/embedder"));
        for (String f : List.of("config.json", "model.safetensors", "tokenizer.json")) {
            Files.copy(Path.of(QSparseCliTest.MODEL).resolve(f), m.resolve(f));
        }
        Files.createDirectories(m.resolve("1_Pooling"));
        Files.writeString(m.resolve("1_Pooling/config.json"), "{}");
        return m;
    }

    @Test
    void theManifestListsEveryFileAndTheCacheChecksCopiesAgainstIt() throws Exception {
        Path m = model();
        assertEquals(0, QSparseCli.run("manifest", "--model", m.toString(), "--model-version", "v3"));
        ModelManifest manifest = ModelManifest.parse(
                "manifest", Files.readString(m.resolve(ModelManifest.FILE_NAME)).getBytes(StandardCharsets.UTF_8));
        assertEquals("v3", manifest.version());
        assertEquals(
                Set.of("1_Pooling/config.json", "config.json", "model.safetensors", "tokenizer.json"),
                manifest.files().keySet());
        assertEquals(
                Files.size(m.resolve("model.safetensors")),
                manifest.files().get("model.safetensors").size());

        // Through Flink's FileSystem (file:// here), as a task manager copies it.
        ModelCache.Fetched f = new ModelCache(tmp.resolve("cache"), 16L << 20).fetch(m.toUri(), Set.of());
        assertEquals("v3", f.version());
        assertTrue(Files.isRegularFile(f.directory().resolve("1_Pooling/config.json")));

        byte[] w = Files.readAllBytes(m.resolve("model.safetensors"));
        w[w.length - 1] ^= 1;
        Files.write(m.resolve("model.safetensors"), w);
        IOException e = assertThrows(
                IOException.class, () -> new ModelCache(tmp.resolve("cache2"), 16L << 20).fetch(m.toUri(), Set.of()));
        assertTrue(e.getMessage().contains("model.safetensors: SHA-256"), e.getMessage());
    }

    @Test
    void withoutAVersionTheManifestHasNone() throws Exception {
        Path m = model();
        assertEquals(0, QSparseCli.run("manifest", "--model", m.toString()));
        assertNull(ModelManifest.parse("manifest", Files.readAllBytes(m.resolve(ModelManifest.FILE_NAME)))
                .version());
        assertEquals(
                1, QSparseCli.run("manifest", "--model", tmp.resolve("none").toString()));
        assertEquals(0, QSparseCli.run("manifest", "--help"));
    }
}
