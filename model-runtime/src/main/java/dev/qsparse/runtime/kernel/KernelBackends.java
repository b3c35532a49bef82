package dev.qsparse.runtime.kernel;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Java kernel backends: the Vector API kernels when {@code jdk.incubator.vector} is readable
 * and agree with the scalar reference on this JVM, else the scalar reference with one WARN line
 * naming the missing JVM flag. Which one runs is {@link Backends}' choice ({@code qsparse.backend}).
 */
public final class KernelBackends {

    private static final Logger LOG = LoggerFactory.getLogger(KernelBackends.class);
    static final String VECTOR_MODULE = "jdk.incubator.vector";
    /** The flag the launcher must pass; named in the fallback warning. */
    public static final String VECTOR_FLAG = "--add-modules " + VECTOR_MODULE;

    private static volatile KernelBackend best;

    private KernelBackends() {}

    /** The scalar reference kernels. */
    public static KernelBackend scalar() {
        return ScalarBackend.INSTANCE;
    }

    /** True when the Vector API module is in the boot layer (the JVM was started with {@link #VECTOR_FLAG}). */
    public static boolean vectorModulePresent() {
        return ModuleLayer.boot().findModule(VECTOR_MODULE).isPresent();
    }

    /** The Vector API kernels, or empty when the module is absent or the CPU's width is unsupported. */
    public static java.util.Optional<KernelBackend> vector() {
        if (!vectorModulePresent()) {
            return java.util.Optional.empty();
        }
        try {
            Class<?> c = Class.forName("dev.qsparse.runtime.kernel.VectorBackend");
            KernelBackend v = (KernelBackend) c.getDeclaredConstructor().newInstance();
            KernelSelfTest.run(v);
            return java.util.Optional.of(v);
        } catch (ReflectiveOperationException | LinkageError | RuntimeException e) {
            LOG.debug("Vector API kernels unavailable", e);
            return java.util.Optional.empty();
        }
    }

    /** The Java kernels {@link Backends} chose for this JVM. */
    public static KernelBackend best() {
        return Backends.chosen().kernels();
    }

    /** The fastest Java kernels this JVM can run: the Vector API ones, else the scalar reference (with a warning). */
    static KernelBackend bestJava() {
        if (!vectorModulePresent()) {
            LOG.warn(
                    "qsparse kernels: the Vector API module {} is not available, running the slow scalar kernels;"
                            + " start the JVM with {}",
                    VECTOR_MODULE,
                    VECTOR_FLAG);
            return scalar();
        }
        java.util.Optional<KernelBackend> v = vector();
        if (v.isEmpty()) {
            LOG.warn(
                    "qsparse kernels: the Vector API cannot run these kernels on this CPU, running the scalar kernels");
            return scalar();
        }
        return v.get();
    }
}
