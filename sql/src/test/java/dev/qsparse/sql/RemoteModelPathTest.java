package dev.qsparse.sql;

import static dev.qsparse.sql.SqlModels.MODEL;
import static dev.qsparse.sql.SqlModels.collectById;
import static dev.qsparse.sql.SqlModels.quoted;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.types.Row;
import org.apache.flink.util.ExceptionUtils;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code 'model-path'} as a URI of a Flink file system ({@link LocalStoreFileSystem}'s scheme):
 * rows served from the task manager's cached copy equal the local model's; a remote scheme the
 * planner has no file system for only warns at planning and fails the task naming the location; a
 * local {@code file://} path that does not exist still fails the statement.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class RemoteModelPathTest {

    @RegisterExtension
    static final MiniClusterExtension CLUSTER = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1)
            .setNumberSlotsPerTaskManager(1)
            .build());

    private static final String QUERY =
            "SELECT id, e, model_version FROM ML_PREDICT(TABLE docs, MODEL m, DESCRIPTOR(text))";

    private static TableEnvironment withModel(String path, String extra) {
        TableEnvironment tEnv = SqlModels.tableEnvironment();
        SqlModels.registerDocs(tEnv);
        tEnv.executeSql("CREATE TEMPORARY MODEL m INPUT (text STRING) OUTPUT (e ARRAY<FLOAT>, model_version STRING)"
                + " WITH ('provider' = 'qsparse', 'model-path' = '" + path + "', 'task' = 'embed'" + extra + ")");
        return tEnv;
    }

    @Test
    void aRemoteModelIsServedFromTheCacheAsTheLocalOneIs(@TempDir Path tmp) throws Exception {
        Path store = Files.createDirectories(tmp.resolve("store/embedder"));
        for (String f : List.of("config.json", "model.safetensors", "tokenizer.json")) {
            Files.copy(MODEL.resolve(f), store.resolve(f));
        }
        Path cache = tmp.resolve("cache");
        Map<String, Row> remote = collectById(
                withModel(LocalStoreFileSystem.SCHEME + "://" + store, ", 'model.cache.dir' = '" + cache + "'"), QUERY);
        Map<String, Row> local =
                collectById(withModel(quoted(MODEL).replace("'", ""), ", 'model-version' = 'local-1'"), QUERY);
        assertEquals(SqlModels.TEXTS.length, remote.size());
        for (String id : local.keySet()) {
            assertArrayEquals(
                    (Float[]) local.get(id).getField(1),
                    (Float[]) remote.get(id).getField(1),
                    id);
            assertEquals("embedder", remote.get(id).getField(2), "the directory's name as its version");
            assertEquals("local-1", local.get(id).getField(2), "the option's version");
        }
        try (Stream<Path> entries = Files.list(cache)) {
            assertEquals(
                    1,
                    entries.filter(p -> !p.getFileName().toString().startsWith("."))
                            .count());
        }
    }

    @Test
    void aSchemeThePlannerCannotOpenOnlyWarnsAndTheTaskNamesIt() throws Exception {
        String path = "nosuchfs://bucket/models/embedder";
        TableEnvironment tEnv = withModel(path, "");
        tEnv.explainSql(QUERY); // plans
        Exception e = assertThrows(Exception.class, () -> collectById(tEnv, QUERY));
        String chain = ExceptionUtils.stringifyException(e);
        assertTrue(chain.contains("cannot load the Q-Sparse model at " + path), chain);
    }

    @Test
    void aMissingModelInAStoreThePlannerCanOpenFailsThePlan(@TempDir Path tmp) {
        String path = LocalStoreFileSystem.SCHEME + "://" + tmp.resolve("nothing-here");
        Throwable t = assertThrows(Throwable.class, () -> withModel(path, "").explainSql(QUERY));
        String chain = ExceptionUtils.stringifyException(t);
        assertTrue(chain.contains("'model-path' = " + path + ": no config.json there"), chain);
    }

    @Test
    void aLocalFileUriThatDoesNotExistStillFailsThePlan() {
        Throwable t = assertThrows(
                Throwable.class, () -> withModel("file:///no/such/model", "").explainSql(QUERY));
        String chain = ExceptionUtils.stringifyException(t);
        assertTrue(chain.contains("'model-path' = file:///no/such/model: no such directory"), chain);
    }
}
