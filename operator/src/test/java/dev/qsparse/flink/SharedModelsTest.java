package dev.qsparse.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SharedModelsTest {

    @Test
    void oneLoadForManyLeasesClosedWithTheLast(@TempDir Path tmp) throws IOException {
        Path link = Files.createSymbolicLink(tmp.resolve("current"), TestEvents.MODEL.toRealPath());
        long loads = SharedModels.loadCount();
        long closes = SharedModels.closeCount();
        try (SharedModels.Lease a = SharedModels.acquire(TestEvents.MODEL);
                SharedModels.Lease b = SharedModels.acquire(link)) {
            assertSame(a.model(), b.model(), "two spellings of one directory share one model");
            assertEquals(loads + 1, SharedModels.loadCount());
            assertEquals(2, SharedModels.references(TestEvents.MODEL));
            b.close();
            b.close(); // idempotent
            assertEquals(1, SharedModels.references(link));
            assertEquals(closes, SharedModels.closeCount());
            assertThrows(IllegalStateException.class, b::model);
        }
        assertEquals(0, SharedModels.references(TestEvents.MODEL));
        assertEquals(closes + 1, SharedModels.closeCount());
        assertEquals(0, SharedModels.loadedModels());

        try (SharedModels.Lease again = SharedModels.acquire(TestEvents.MODEL)) {
            assertEquals(loads + 2, SharedModels.loadCount(), "a released model is loaded afresh");
        }
    }

    @Test
    void aMissingDirectoryIsNamed(@TempDir Path tmp) {
        IOException e = assertThrows(IOException.class, () -> SharedModels.acquire(tmp.resolve("nope")));
        assertTrue(e.getMessage().contains(tmp.resolve("nope").toString()), e.getMessage());
        assertEquals(0, SharedModels.loadedModels());
    }
}
