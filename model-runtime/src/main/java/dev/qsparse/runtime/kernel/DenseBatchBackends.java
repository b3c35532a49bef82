package dev.qsparse.runtime.kernel;

import java.util.Locale;
import java.util.Optional;
import java.util.ServiceLoader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finds the optional {@link DenseBatchBackend} once per JVM. The system property
 * {@code qsparse.batch.backend} chooses: {@code auto} (default: use one if found, per shape where
 * it measures faster), {@code none} (never), or a backend name to require.
 */
public final class DenseBatchBackends {

    private static final Logger LOG = LoggerFactory.getLogger(DenseBatchBackends.class);
    private static volatile Optional<DenseBatchBackend> found;

    private DenseBatchBackends() {}

    public static Optional<DenseBatchBackend> find() {
        Optional<DenseBatchBackend> f = found;
        if (f == null) {
            synchronized (DenseBatchBackends.class) {
                f = found;
                if (f == null) {
                    f = load();
                    found = f;
                }
            }
        }
        return f;
    }

    private static Optional<DenseBatchBackend> load() {
        String wanted =
                System.getProperty("qsparse.batch.backend", "auto").trim().toLowerCase(Locale.ROOT);
        if (wanted.equals("none")) {
            return Optional.empty();
        }
        try {
            for (DenseBatchBackend b : ServiceLoader.load(DenseBatchBackend.class)) {
                if (wanted.equals("auto") || wanted.equals(b.name())) {
                    LOG.info("qsparse dense batch backend: {}", b.name());
                    return Optional.of(b);
                }
            }
        } catch (java.util.ServiceConfigurationError | LinkageError e) {
            LOG.warn("qsparse dense batch backend could not load, using the Vector API path: {}", e.toString());
            return Optional.empty();
        }
        if (!wanted.equals("auto")) {
            LOG.warn("qsparse dense batch backend '{}' is not on the class path", wanted);
        }
        return Optional.empty();
    }
}
