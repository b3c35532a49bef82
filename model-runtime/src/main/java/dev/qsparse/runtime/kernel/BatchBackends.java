package dev.qsparse.runtime.kernel;

import java.util.Locale;
import java.util.Optional;
import java.util.ServiceLoader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finds the optional {@link BatchBackend} once per JVM (a provider on the class path whose
 * native code runs on this CPU). The system property {@code qsparse.batch.backend} (or its older
 * name {@code qsparse.integer.backend}, from when the backend had integer products only) chooses:
 * {@code auto} (default: use one if found), {@code none} (never: the Vector API kernels only); any
 * other value fails with a message naming the property.
 */
public final class BatchBackends {

    private static final Logger LOG = LoggerFactory.getLogger(BatchBackends.class);
    private static volatile Optional<BatchBackend> found;

    private BatchBackends() {}

    public static Optional<BatchBackend> find() {
        Optional<BatchBackend> f = found;
        if (f == null) {
            synchronized (BatchBackends.class) {
                f = found;
                if (f == null) {
                    f = load(System.getProperty(PROPERTY, System.getProperty(OLD_PROPERTY, "auto")));
                    found = f;
                }
            }
        }
        return f;
    }

    /** The system property that chooses the backend. */
    public static final String PROPERTY = "qsparse.batch.backend";
    /** Its older name, still read when {@link #PROPERTY} is not set. */
    static final String OLD_PROPERTY = "qsparse.integer.backend";

    /** The provider chosen by a {@code qsparse.batch.backend} value; any other value than auto/none is refused. */
    static Optional<BatchBackend> load(String property) {
        String wanted = property.trim().toLowerCase(Locale.ROOT);
        if (wanted.equals("none")) {
            return Optional.empty();
        }
        if (!wanted.equals("auto")) {
            throw new IllegalArgumentException(
                    PROPERTY + " must be 'auto' or 'none', got '" + abbreviate(wanted) + "'");
        }
        try {
            for (BatchBackend b : ServiceLoader.load(BatchBackend.class)) {
                LOG.info("qsparse batch backend: {}", b.name());
                return Optional.of(b);
            }
        } catch (java.util.ServiceConfigurationError | LinkageError e) {
            // A provider whose library does not load on this machine: the Vector API kernels serve.
            LOG.info("qsparse batch backend not usable here, using the Vector API path: {}", e.toString());
        }
        return Optional.empty();
    }

    /** A property value as it may appear in an error message: at most 40 characters. */
    private static String abbreviate(String v) {
        return v.length() <= 40 ? v : v.substring(0, 40) + "...";
    }
}
