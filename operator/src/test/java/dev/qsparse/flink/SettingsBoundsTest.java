package dev.qsparse.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import org.apache.flink.configuration.Configuration;
import org.junit.jupiter.api.Test;

/**
 * Every size and duration of the operator is bounded when the job is built, through the builder's
 * setters and a Flink configuration alike; the message names the key, both bounds and the value.
 */
class SettingsBoundsTest {

    private static QSparseEnrichment.Builder builder() {
        return QSparseEnrichment.builder().modelPath("/models/m");
    }

    private static String refused(QSparseEnrichment.Builder b) {
        return assertThrows(IllegalArgumentException.class, b::build).getMessage();
    }

    private static Configuration conf(String key, String value) {
        Configuration c = new Configuration();
        c.setString(key, value);
        return c;
    }

    @Test
    void batchSizeIsBoundedInTheBuilderAndTheConfiguration() {
        // 2^30 overflowed the async capacity (2 x batch x threads); 2^31-1 ran out of memory.
        assertEquals(
                "qsparse.batch.max-size must be between 1 and 4096, got 1073741824",
                refused(builder().maxBatchSize(1 << 30)));
        assertEquals(
                "qsparse.batch.max-size must be between 1 and 4096, got 2147483647",
                refused(builder().configuration(conf("qsparse.batch.max-size", "2147483647"))));
        assertEquals(
                "qsparse.batch.max-size must be between 1 and 4096, got 4097",
                refused(builder().maxBatchSize(QSparseSettings.MAX_BATCH_SIZE + 1)));
        QSparseSettings s = builder()
                .maxBatchSize(QSparseSettings.MAX_BATCH_SIZE)
                .threads(QSparseSettings.MAX_THREADS)
                .build()
                .settings();
        assertEquals(2 * 4096 * 256, s.asyncCapacity());
        assertEquals(
                "qsparse.threads must be between 1 and 256, got 257",
                refused(builder().configuration(conf("qsparse.threads", "257"))));
    }

    @Test
    void durationsAreBoundedWithoutOverflow() {
        assertEquals(
                "qsparse.async.timeout must be between 1 ms and 1 d, got 200000 d",
                refused(builder().timeout(Duration.ofDays(200_000))));
        assertEquals(
                "qsparse.async.timeout must be between 1 ms and 1 d, got 1 ns",
                refused(builder().timeout(Duration.ofNanos(1))));
        assertEquals(
                "qsparse.async.timeout must be between 1 ms and 1 d, got 999 µs",
                refused(builder().configuration(conf("qsparse.async.timeout", "999 micros"))));
        assertEquals(
                "qsparse.batch.max-wait must be between 0 ms and 1 min, got 200000 d",
                refused(builder().maxWait(Duration.ofDays(200_000))));
        assertEquals(
                "qsparse.batch.max-wait must be between 0 ms and 1 min, got -1 ms",
                refused(builder().maxWait(Duration.ofMillis(-1))));
        QSparseSettings s = builder()
                .timeout(Duration.ofDays(1))
                .maxWait(Duration.ofMinutes(1))
                .build()
                .settings();
        assertEquals(Duration.ofDays(1), s.timeout());
    }

    @Test
    void configuredStopStringsAndTemplatesAreBoundedLikeAnEventsParams() {
        assertEquals(
                "qsparse.generate.stop must have at most 8 entries, got 9",
                refused(builder().configuration(conf("qsparse.generate.stop", "a;b;c;d;e;f;g;h;i"))));
        assertEquals(
                "qsparse.generate.stop entries must be at most 64 characters, got one of 65",
                refused(builder().configuration(conf("qsparse.generate.stop", "x".repeat(65)))));
        assertEquals(
                "qsparse.generate.chat must be at most 4096 characters, got 4103",
                refused(builder().configuration(conf("qsparse.generate.chat", "x".repeat(4096) + "{text}x"))));
        Configuration chatStops = conf("qsparse.generate.chat", "<s>{text}</s>");
        chatStops.setString("qsparse.generate.chat-stop", "y".repeat(65));
        assertEquals(
                "qsparse.generate.chat-stop entries must be at most 64 characters, got one of 65",
                refused(builder().configuration(chatStops)));
    }

    @Test
    void textAndTokenLimitsAreBounded() {
        assertEquals(
                "qsparse.input.max-chars must be between 1 and 1048576, got 2147483647",
                refused(builder().configuration(conf("qsparse.input.max-chars", "2147483647"))));
        assertEquals(
                "qsparse.generate.max-new-tokens-limit must be between 1 and 1048576, got 2147483647",
                refused(builder().configuration(conf("qsparse.generate.max-new-tokens-limit", "2147483647"))));
    }
}
