package dev.qsparse.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class ModelLocationTest {

    private static ModelLocation parse(String s) {
        return ModelLocation.parse(s, "qsparse.model.path");
    }

    @Test
    void anObjectStoreUriKeepsItsSchemeAndAuthority() {
        ModelLocation m = parse("s3://bucket/models/embedder/v3/");
        assertTrue(m.isRemote());
        assertEquals(URI.create("s3://bucket/models/embedder/v3/"), m.remote());
        assertEquals("v3", m.lastSegment());
        assertEquals("hdfs://nn:8020/m", parse("hdfs://nn:8020/m").remote().toString());
    }

    @Test
    void plainPathsAndFileUrisAreLocal() {
        assertEquals(Path.of("models/demo"), parse("models/demo").local());
        assertEquals(Path.of("/models/demo"), parse("file:///models/demo").local());
        assertEquals(Path.of("/models/demo"), parse("file:/models/demo").local());
        assertFalse(parse("/models/demo").isRemote());
        assertEquals("demo", parse("/models/demo/").lastSegment());
    }

    @Test
    void badLocationsAreNamedByKey() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> parse("s3://bucket"))
                .getMessage()
                .contains("names no directory"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> parse("s3://b/a b"))
                .getMessage()
                .startsWith("qsparse.model.path = s3://b/a b is not a valid URI"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> parse("/m".repeat(3000)))
                .getMessage()
                .contains("over the limit of 4096"));
        assertThrows(IllegalArgumentException.class, () -> parse(" "));
    }
}
