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
            selfTest(v);
            return java.util.Optional.of(v);
        } catch (ReflectiveOperationException | LinkageError | RuntimeException e) {
            LOG.debug("Vector API kernels unavailable", e);
            return java.util.Optional.empty();
        }
    }

    /**
     * Runs every kernel once on a small input against the scalar reference: a JDK whose incubator
     * API differs fails here (and the scalar kernels are used) rather than in the middle of a request.
     */
    static void selfTest(KernelBackend v) {
        KernelBackend s = scalar();
        int len = 64;
        byte[] w = new byte[2 * len];
        for (int i = 0; i < w.length; i++) {
            w[i] = (byte) ((i * 37) % 85);
        }
        int[] off = {0, len};
        float[] xs = {3, -7};
        int[] a = new int[len];
        int[] b = new int[len];
        s.int8Int(w, off, xs, 2, a, 0, len);
        v.int8Int(w, off, xs, 2, b, 0, len);
        s.ternaryInt(w, new int[] {0, 16}, xs, 2, a, 0, len);
        v.ternaryInt(w, new int[] {0, 16}, xs, 2, b, 0, len);
        float[] fa = new float[len];
        float[] fb = new float[len];
        v.int8Float(w, off, xs, 2, fb, 0, len);
        v.ternaryFloat(w, off, xs, 2, fb, 0, len);
        s.int8Float(w, off, xs, 2, fa, 0, len);
        s.ternaryFloat(w, off, xs, 2, fa, 0, len);
        float[] x = new float[len];
        java.util.Arrays.fill(x, 0.5f);
        float[] ra = new float[1];
        float[] rb = new float[1];
        s.f32Rows(x, 0, len, x, ra, 0, 1);
        v.f32Rows(x, 0, len, x, rb, 0, 1);
        v.axpy(1f, x, 0, fb, 0, len);
        s.axpy(1f, x, 0, fa, 0, len);
        if (!java.util.Arrays.equals(a, b)
                || ra[0] != rb[0]
                || v.dot(x, 0, x, 0, len) != s.dot(x, 0, x, 0, len)
                || !java.util.Arrays.equals(fa, fb)) {
            throw new IllegalStateException("Vector API kernels disagree with the scalar reference on this JVM");
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
