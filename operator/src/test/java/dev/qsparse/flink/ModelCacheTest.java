package dev.qsparse.flink;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The task manager's cache of remote models, over Flink's {@code FileSystem} API under a scheme
 * other than {@code file} ({@link LocalBackedFileSystem}, found by Flink's factory lookup).
 */
class ModelCacheTest {

    @TempDir
    Path tmp;

    private URI remote(Path dir) {
        return URI.create(LocalBackedFileSystem.uriOf(dir));
    }

    private List<Path> tmpDirs(Path cache) throws IOException {
        try (Stream<Path> s = Files.list(cache)) {
            return s.filter(p -> p.getFileName().toString().startsWith(".tmp-")).toList();
        }
    }

    @Test
    void aRemoteModelIsCopiedOnceWithItsManifestAndVersion() throws Exception {
        Path src = RemoteModels.copy(tmp.resolve("store/m-v1"), "v1");
        ModelCache cache = new ModelCache(tmp.resolve("cache"), 16L << 20);
        int before = LocalBackedFileSystem.opens("model.safetensors");

        ModelCache.Fetched first = cache.fetch(remote(src), Set.of());
        assertEquals(RemoteModels.size(src), first.bytesFetched());
        assertEquals("v1", first.version());
        for (String f : RemoteModels.FILES) {
            assertArrayEquals(
                    Files.readAllBytes(src.resolve(f)),
                    Files.readAllBytes(first.directory().resolve(f)),
                    f);
        }
        ModelCache.Fetched again = cache.fetch(remote(src), Set.of());
        assertEquals(first.directory(), again.directory());
        assertEquals(0, again.bytesFetched(), "served from the cache");
        assertEquals(before + 1, LocalBackedFileSystem.opens("model.safetensors"), "the weights read once");
        assertEquals(1, cache.entries().size());
    }

    @Test
    void aModelWithoutManifestIsCopiedWholeAndHasNoVersion() throws Exception {
        Path src = RemoteModels.copy(tmp.resolve("store/plain"), null);
        Files.createDirectories(src.resolve("1_Pooling"));
        Files.writeString(src.resolve("1_Pooling/config.json"), "{}");
        ModelCache.Fetched f = new ModelCache(tmp.resolve("cache"), 16L << 20).fetch(remote(src), Set.of());
        assertNull(f.version());
        assertTrue(Files.isRegularFile(f.directory().resolve("1_Pooling/config.json")));
        assertEquals(RemoteModels.size(src) + 2, f.bytesFetched());
    }

    @Test
    void theLeastRecentlyUsedModelIsEvictedBeyondTheBound() throws Exception {
        Path a = RemoteModels.copy(tmp.resolve("store/a"), "a");
        Path b = RemoteModels.copy(tmp.resolve("store/b"), "b");
        Path c = RemoteModels.copy(tmp.resolve("store/c"), "c");
        long one = RemoteModels.size(a) + Files.size(a.resolve(ModelManifest.FILE_NAME));
        ModelCache cache = new ModelCache(tmp.resolve("cache"), 2 * one + one / 2); // room for two

        Path ea = cache.fetch(remote(a), Set.of()).directory();
        Thread.sleep(20);
        Path eb = cache.fetch(remote(b), Set.of()).directory();
        Thread.sleep(20);
        cache.fetch(remote(a), Set.of()); // a used again: b is now the least recently used
        Thread.sleep(20);
        Path ec = cache.fetch(remote(c), Set.of()).directory();

        assertTrue(Files.isDirectory(ea), "a, used recently, stays");
        assertFalse(Files.exists(eb), "b, least recently used, evicted");
        assertTrue(Files.isDirectory(ec));
        assertEquals(List.of(ea, ec), cache.entries());

        // A model loaded now is never evicted, even when least recently used: then there is no room.
        IOException full =
                assertThrows(IOException.class, () -> cache.fetch(remote(b), Set.of(ea.toRealPath(), ec.toRealPath())));
        assertTrue(full.getMessage().contains(QSparseOptions.MODEL_CACHE_MAX_SIZE.key()), full.getMessage());
        assertTrue(Files.isDirectory(ea) && Files.isDirectory(ec));
    }

    @Test
    void aModelLargerThanTheCacheFailsNamingTheOption() throws Exception {
        Path src = RemoteModels.copy(tmp.resolve("store/big"), null);
        IOException e = assertThrows(
                IOException.class, () -> new ModelCache(tmp.resolve("cache"), 1000).fetch(remote(src), Set.of()));
        assertTrue(
                e.getMessage().contains(QSparseOptions.MODEL_CACHE_MAX_SIZE.key() + " (1000 bytes)"), e.getMessage());
    }

    @Test
    void aCorruptedFileFailsNamingItAndLeavesNothingBehind() throws Exception {
        Path src = RemoteModels.copy(tmp.resolve("store/bad"), "v1");
        byte[] w = Files.readAllBytes(src.resolve("model.safetensors"));
        w[w.length - 5] ^= 1; // same size, one bit flipped
        Files.write(src.resolve("model.safetensors"), w);
        Path cacheDir = tmp.resolve("cache");
        IOException e =
                assertThrows(IOException.class, () -> new ModelCache(cacheDir, 16L << 20).fetch(remote(src), Set.of()));
        assertTrue(e.getMessage().contains(remote(src) + "/model.safetensors: SHA-256 "), e.getMessage());
        assertTrue(e.getMessage().contains("does not match"), e.getMessage());
        assertEquals(List.of(), new ModelCache(cacheDir, 16L << 20).entries());
        assertEquals(List.of(), tmpDirs(cacheDir));
    }

    @Test
    void aFileOfAnotherSizeThanTheManifestSaysFailsBeforeItIsCopied() throws Exception {
        Path src = RemoteModels.copy(tmp.resolve("store/short"), "v1");
        Files.writeString(src.resolve("config.json"), "{}");
        IOException e = assertThrows(
                IOException.class, () -> new ModelCache(tmp.resolve("cache"), 16L << 20).fetch(remote(src), Set.of()));
        assertTrue(e.getMessage().contains("config.json: 2 bytes, but "), e.getMessage());
        assertTrue(e.getMessage().contains("declared in " + ModelManifest.FILE_NAME), e.getMessage());
    }

    @Test
    void aDirectoryWithoutConfigJsonIsNotAModel() throws Exception {
        Path src = Files.createDirectories(tmp.resolve("store/empty"));
        Files.writeString(src.resolve("notes.txt"), "not a model");
        IOException e = assertThrows(
                IOException.class, () -> new ModelCache(tmp.resolve("cache"), 16L << 20).fetch(remote(src), Set.of()));
        assertTrue(e.getMessage().equals(remote(src) + ": no config.json, not a model directory"), e.getMessage());
    }

    @Test
    void aMissingRemoteDirectoryIsNamed() {
        URI missing = remote(tmp.resolve("store/none"));
        IOException e = assertThrows(
                IOException.class, () -> new ModelCache(tmp.resolve("cache"), 16L << 20).fetch(missing, Set.of()));
        assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());
    }
}
