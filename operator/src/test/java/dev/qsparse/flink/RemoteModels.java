package dev.qsparse.flink;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/** Model directories laid out for a remote store, with or without a manifest, for tests. */
final class RemoteModels {

    static final List<String> FILES = List.of("config.json", "model.safetensors", "tokenizer.json");

    private RemoteModels() {}

    /** A copy of the test model in {@code dir}, with a manifest (version {@code version}) when not null. */
    static Path copy(Path dir, String version) throws Exception {
        Files.createDirectories(dir);
        for (String f : FILES) {
            Files.copy(TestEvents.MODEL.resolve(f), dir.resolve(f));
        }
        if (version != null) {
            writeManifest(dir, version);
        }
        return dir;
    }

    static void writeManifest(Path dir, String version) throws Exception {
        List<String> entries = new ArrayList<>();
        for (String f : FILES) {
            byte[] bytes = Files.readAllBytes(dir.resolve(f));
            String sha = HexFormat.of()
                    .formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
            entries.add("{\"path\": \"" + f + "\", \"size\": " + bytes.length + ", \"sha256\": \"" + sha + "\"}");
        }
        Files.writeString(
                dir.resolve(ModelManifest.FILE_NAME),
                "{\"format\": 1, \"version\": \"" + version + "\", \"files\": [" + String.join(", ", entries) + "]}");
    }

    /** Bytes of the model's files (the manifest not counted). */
    static long size(Path dir) throws IOException {
        long n = 0;
        for (String f : FILES) {
            n += Files.size(dir.resolve(f));
        }
        return n;
    }
}
