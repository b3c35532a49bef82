package dev.qsparse.runtime.kernel;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place that chooses, once per JVM, what runs the products: the Java kernels (Vector API,
 * or the scalar reference), the optional native batch backend (backend-native) and the optional
 * dense batch backend (backend-nd4j). One grammar:
 *
 * <ul>
 *   <li>{@code qsparse.backend} = {@code auto} (default: the Vector API kernels, plus each optional
 *       backend found on the class path that runs on this CPU), {@code java} (the Java kernels
 *       only), {@code scalar} (the scalar reference only), {@code native} (require the native
 *       backend) or {@code nd4j} (require ND4J, for every float32 micro-batch);
 *   <li>{@code qsparse.native.level} = {@code auto} (the best level this CPU runs), {@code
 *       avx512-vnni}, {@code avx-vnni} or {@code avx2} (require that level, a lower one than the CPU's
 *       best included: every path can be tested on a machine that has the highest), or {@code java}
 *       (no native backend, as {@code qsparse.backend=java}).
 * </ul>
 *
 * The older properties still read, as aliases, when {@code qsparse.backend} is not set: {@code
 * qsparse.kernels} = {@code scalar|vector}, {@code qsparse.batch.backend} (or {@code
 * qsparse.integer.backend}) = {@code auto|none|native|nd4j}. A value outside a grammar, an alias that
 * contradicts {@code qsparse.backend}, or a required backend that cannot run here fails with a
 * message naming the property.
 */
public final class Backends {

    private static final Logger LOG = LoggerFactory.getLogger(Backends.class);

    public static final String PROPERTY = "qsparse.backend";
    public static final String LEVEL_PROPERTY = "qsparse.native.level";
    static final String KERNELS_ALIAS = "qsparse.kernels";
    static final String BATCH_ALIAS = "qsparse.batch.backend";
    static final String INTEGER_ALIAS = "qsparse.integer.backend";

    /** The native levels a build knows, best first, after "auto" and "java". */
    static final List<String> LEVELS = List.of("auto", "java", "avx512-vnni", "avx-vnni", "avx2");

    /** What {@code qsparse.backend} can name. */
    public enum Mode {
        AUTO,
        JAVA,
        SCALAR,
        NATIVE,
        ND4J
    }

    /**
     * The chosen backends.
     *
     * @param kernels the Java kernels every product falls back to
     * @param batch the native batch backend for int8/ternary (and mapped float32) micro-batches
     * @param dense the dense backend for float32 micro-batches
     * @param denseAlways true when ND4J was named: every float32 micro-batch goes to it (else each
     *     shape is timed on both paths and the faster kept)
     */
    public record Choice(
            KernelBackend kernels,
            Optional<BatchBackend> batch,
            Optional<DenseBatchBackend> dense,
            boolean denseAlways) {

        /** The Java kernels alone, no optional backend (tests, and {@code qsparse.backend=java}). */
        public static Choice only(KernelBackend kernels) {
            return new Choice(kernels, Optional.empty(), Optional.empty(), false);
        }

        /** What runs micro-batch products, for metrics, logs and bench headers: e.g. "native-avx512-vnni", "nd4j", "vector-256". */
        public String batchName() {
            List<String> names = new ArrayList<>();
            batch.ifPresent(b -> names.add(b.name()));
            dense.ifPresent(d -> names.add(d.name()));
            return names.isEmpty() ? kernels.name() : String.join("+", names);
        }

        /** Every part, e.g. "vector-256+native-avx512-vnni". */
        public String describe() {
            String b = batchName();
            return b.equals(kernels.name()) ? b : kernels.name() + "+" + b;
        }
    }

    private static volatile Choice chosen;
    private static volatile RuntimeException failure;

    private Backends() {}

    /** The JVM's choice, made on first use from the system properties. */
    public static Choice chosen() {
        Choice c = chosen;
        if (c == null) {
            synchronized (Backends.class) {
                if (failure != null) {
                    throw failure;
                }
                c = chosen;
                if (c == null) {
                    try {
                        c = choose(System::getProperty, new Discovery());
                    } catch (RuntimeException e) {
                        failure = e;
                        throw e;
                    }
                    LOG.info("qsparse backends: {}", c.describe());
                    chosen = c;
                }
            }
        }
        return c;
    }

    /** How the optional backends are found; the tests give their own. */
    static class Discovery {
        /** The native provider's reason for not loading, when it did not. */
        String nativeProblem = "backend-native is not on the class path";

        String ndProblem = "backend-nd4j is not on the class path";

        /** The native backend at {@code level} ("auto": the best this CPU runs), when it can run here. */
        Optional<BatchBackend> nativeBackend(String level) {
            try {
                Optional<BatchBackendProvider> provider =
                        ServiceLoader.load(BatchBackendProvider.class).findFirst();
                if (provider.isEmpty()) {
                    return Optional.empty();
                }
                List<String> runnable = provider.get().runnableLevels();
                if (runnable.isEmpty()) {
                    nativeProblem = "this CPU runs none of the native levels "
                            + provider.get().levels();
                    return Optional.empty();
                }
                if (level.equals("auto")) {
                    return Optional.of(provider.get().open(runnable.get(0)));
                }
                if (!runnable.contains(level)) {
                    nativeProblem = "this CPU runs only " + runnable + " of the native levels "
                            + provider.get().levels();
                    return Optional.empty();
                }
                return Optional.of(provider.get().open(level));
            } catch (ServiceConfigurationError | LinkageError | UnsupportedOperationException e) {
                // A provider whose library does not load on this machine: the Java kernels serve.
                nativeProblem = rootMessage(e);
                return Optional.empty();
            }
        }

        Optional<DenseBatchBackend> nd4j() {
            try {
                return ServiceLoader.load(DenseBatchBackend.class).findFirst();
            } catch (ServiceConfigurationError | LinkageError e) {
                ndProblem = rootMessage(e);
                return Optional.empty();
            }
        }

        KernelBackend javaKernels() {
            return KernelBackends.bestJava();
        }
    }

    static Choice choose(UnaryOperator<String> properties, Discovery found) {
        VectorWidth.requested(properties); // a bad width fails here, naming its property
        Mode mode = mode(properties);
        String level = oneOf(properties, LEVEL_PROPERTY, "auto", LEVELS);
        if (level.equals("java")) {
            if (mode != Mode.AUTO && mode != Mode.JAVA) {
                throw new IllegalArgumentException(LEVEL_PROPERTY + "=java contradicts " + PROPERTY + "="
                        + mode.name().toLowerCase(Locale.ROOT));
            }
            mode = Mode.JAVA;
            level = "auto";
        }
        boolean nativeRequired = mode == Mode.NATIVE || !level.equals("auto");
        if (!level.equals("auto") && mode != Mode.AUTO && mode != Mode.NATIVE) {
            throw new IllegalArgumentException(LEVEL_PROPERTY + "=" + level + " asks for the native backend, but "
                    + PROPERTY + " is " + mode.name().toLowerCase(Locale.ROOT));
        }
        KernelBackend kernels = mode == Mode.SCALAR ? KernelBackends.scalar() : found.javaKernels();
        Optional<BatchBackend> batch = Optional.empty();
        if (mode == Mode.AUTO || mode == Mode.NATIVE) {
            batch = found.nativeBackend(level);
            if (batch.isEmpty() && nativeRequired) {
                throw new IllegalStateException((mode == Mode.NATIVE && level.equals("auto")
                                ? PROPERTY + "=native"
                                : LEVEL_PROPERTY + "=" + level)
                        + " requires the native backend, which cannot run here: " + found.nativeProblem);
            }
        }
        Optional<DenseBatchBackend> dense = Optional.empty();
        if (mode == Mode.AUTO || mode == Mode.ND4J) {
            dense = found.nd4j();
            if (dense.isEmpty() && mode == Mode.ND4J) {
                throw new IllegalStateException(
                        PROPERTY + "=nd4j requires backend-nd4j, which cannot run here: " + found.ndProblem);
            }
        }
        return new Choice(kernels, batch, dense, mode == Mode.ND4J);
    }

    /** {@code qsparse.backend}, or what the older properties mean when it is not set; they must not contradict it. */
    static Mode mode(UnaryOperator<String> properties) {
        List<String> modes = List.of("auto", "java", "scalar", "native", "nd4j");
        String named = properties.apply(PROPERTY);
        Mode fromAliases = aliases(properties);
        if (named == null) {
            return fromAliases == null ? Mode.AUTO : fromAliases;
        }
        Mode mode = Mode.valueOf(oneOf(properties, PROPERTY, "auto", modes).toUpperCase(Locale.ROOT));
        if (fromAliases != null && fromAliases != mode) {
            throw new IllegalArgumentException("the older properties " + KERNELS_ALIAS + "/" + BATCH_ALIAS + " ask for "
                    + fromAliases.name().toLowerCase(Locale.ROOT) + ", which contradicts " + PROPERTY + "="
                    + mode.name().toLowerCase(Locale.ROOT) + ": remove them");
        }
        return mode;
    }

    /** The mode the older properties mean, or null when none is set. */
    private static Mode aliases(UnaryOperator<String> properties) {
        String kernels = properties.apply(KERNELS_ALIAS);
        String batchKey = properties.apply(BATCH_ALIAS) != null ? BATCH_ALIAS : INTEGER_ALIAS;
        String batch = properties.apply(batchKey);
        if (kernels == null && batch == null) {
            return null;
        }
        String k = kernels == null ? "vector" : oneOf(properties, KERNELS_ALIAS, "vector", List.of("scalar", "vector"));
        String b =
                batch == null ? "auto" : oneOf(properties, batchKey, "auto", List.of("auto", "none", "native", "nd4j"));
        if (k.equals("scalar")) {
            return Mode.SCALAR;
        }
        return switch (b) {
            case "none" -> Mode.JAVA;
            case "native" -> Mode.NATIVE;
            case "nd4j" -> Mode.ND4J;
            default -> Mode.AUTO;
        };
    }

    /** The property's value, trimmed and lower-cased, which must be one of {@code allowed}. */
    private static String oneOf(UnaryOperator<String> properties, String key, String fallback, List<String> allowed) {
        String raw = properties.apply(key);
        String v = raw == null ? fallback : raw.trim().toLowerCase(Locale.ROOT);
        if (!allowed.contains(v)) {
            throw new IllegalArgumentException(
                    key + " must be one of " + String.join(", ", allowed) + "; got '" + abbreviate(v) + "'");
        }
        return v;
    }

    /** A property value as it may appear in an error message: at most 40 characters. */
    private static String abbreviate(String v) {
        return v.length() <= 40 ? v : v.substring(0, 40) + "...";
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null) {
            t = t.getCause();
        }
        return t.toString();
    }
}
