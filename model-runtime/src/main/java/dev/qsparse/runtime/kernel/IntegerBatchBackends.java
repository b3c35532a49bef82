package dev.qsparse.runtime.kernel;

import java.util.Locale;
import java.util.Optional;
import java.util.ServiceLoader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finds the optional {@link IntegerBatchBackend} once per JVM (a provider on the class path whose
 * native code runs on this CPU). The system property {@code qsparse.integer.backend} chooses:
 * {@code auto} (default: use one if found), {@code none} (never: the Vector API kernels only); any
 * other value fails with a message naming the property.
 */
public final class IntegerBatchBackends {

    private static final Logger LOG = LoggerFactory.getLogger(IntegerBatchBackends.class);
    private static volatile Optional<IntegerBatchBackend> found;

    private IntegerBatchBackends() {}

    public static Optional<IntegerBatchBackend> find() {
        Optional<IntegerBatchBackend> f = found;
        if (f == null) {
            synchronized (IntegerBatchBackends.class) {
                f = found;
                if (f == null) {
                    f = load(System.getProperty("qsparse.integer.backend", "auto"));
                    found = f;
                }
            }
        }
        return f;
    }

    /** The provider chosen by a {@code qsparse.integer.backend} value; any other value than auto/none is refused. */
    static Optional<IntegerBatchBackend> load(String property) {
        String wanted = property.trim().toLowerCase(Locale.ROOT);
        if (wanted.equals("none")) {
            return Optional.empty();
        }
        if (!wanted.equals("auto")) {
            throw new IllegalArgumentException(
                    "qsparse.integer.backend must be 'auto' or 'none', got '" + abbreviate(wanted) + "'");
        }
        try {
            for (IntegerBatchBackend b : ServiceLoader.load(IntegerBatchBackend.class)) {
                LOG.info("qsparse integer batch backend: {}", b.name());
                return Optional.of(b);
            }
        } catch (java.util.ServiceConfigurationError | LinkageError e) {
            // A provider whose library does not load on this machine: the Vector API kernels serve.
            LOG.info("qsparse integer batch backend not usable here, using the Vector API path: {}", e.toString());
        }
        return Optional.empty();
    }

    /** A property value as it may appear in an error message: at most 40 characters. */
    private static String abbreviate(String v) {
        return v.length() <= 40 ? v : v.substring(0, 40) + "...";
    }
}
