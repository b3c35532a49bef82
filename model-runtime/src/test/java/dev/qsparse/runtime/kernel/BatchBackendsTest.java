package dev.qsparse.runtime.kernel;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class BatchBackendsTest {

    @Test
    void noneMeansNoBackendAndAnythingElseThanAutoIsRefused() {
        assertTrue(BatchBackends.load(" NONE ").isEmpty());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BatchBackends.load("native"));
        assertTrue(e.getMessage().contains("qsparse.batch.backend"), e.getMessage());
        String hostile = "x".repeat(10_000);
        e = assertThrows(IllegalArgumentException.class, () -> BatchBackends.load(hostile));
        assertTrue(e.getMessage().length() < 200, "the value is cut in the message");
    }
}
