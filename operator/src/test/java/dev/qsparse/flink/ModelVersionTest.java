package dev.qsparse.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which version a task's results carry, and that it reaches the record's JSON. */
class ModelVersionTest {

    @TempDir
    Path tmp;

    private static String versionOf(Path model, String explicit) throws Exception {
        Configuration c = new Configuration();
        c.set(QSparseOptions.MODEL_PATH, model.toString());
        if (explicit != null) {
            c.set(QSparseOptions.MODEL_VERSION, explicit);
        }
        try (TaskModel t = TaskModel.open(QSparseSettings.from(c), new UnregisteredMetricsGroup())) {
            return t.modelVersion();
        }
    }

    @Test
    void theDirectoryNameTheManifestOrTheOptionNameTheVersion() throws Exception {
        Path plain = RemoteModels.copy(tmp.resolve("embedder/2026-11-30"), null);
        assertEquals("2026-11-30", versionOf(plain, null), "the last segment of a versioned directory");
        Path withManifest = RemoteModels.copy(tmp.resolve("embedder/current"), "build-481");
        assertEquals("build-481", versionOf(withManifest, null), "the manifest's version");
        assertEquals("canary", versionOf(withManifest, "canary"), "the option wins");
    }

    @Test
    void aBrokenLocalManifestFailsAtOpenNamingIt() throws Exception {
        Path m = RemoteModels.copy(tmp.resolve("m"), null);
        Files.writeString(m.resolve(ModelManifest.FILE_NAME), "{\"format\": 2}");
        Configuration c = new Configuration();
        c.set(QSparseOptions.MODEL_PATH, m.toString());
        ModelUnavailableException e = assertThrows(
                ModelUnavailableException.class,
                () -> TaskModel.open(QSparseSettings.from(c), new UnregisteredMetricsGroup()));
        assertTrue(
                e.getMessage().contains(m.resolve(ModelManifest.FILE_NAME) + ": \"format\" must be 1"), e.getMessage());
    }

    @Test
    void theVersionIsInTheRecordAndBoundedInTheOption() {
        EnrichedEvent e = new EnrichedEvent();
        e.id = "1";
        e.mode = "embed";
        e.model = "m";
        e.modelVersion = "v3";
        assertTrue(e.toJson().contains("\"model\":\"m\",\"model_version\":\"v3\""), e.toJson());
        Configuration c = new Configuration();
        c.set(QSparseOptions.MODEL_PATH, "/m");
        c.set(QSparseOptions.MODEL_VERSION, "v".repeat(129));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> QSparseSettings.from(c))
                .getMessage()
                .startsWith("qsparse.model.version must be at most 128 characters"));
    }
}
