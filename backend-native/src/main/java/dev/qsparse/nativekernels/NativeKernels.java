package dev.qsparse.nativekernels;

import dev.qsparse.runtime.kernel.ActivationBatch;
import dev.qsparse.runtime.kernel.OutputBlock;
import dev.qsparse.runtime.kernel.WeightSlice;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The JNI entry points of {@code libqsparse_kernels.so} (src/main/c: jni_boundary.c reads the
 * records into C structs and checks them, kernels_*.c hold one table of products per level), built
 * by gcc during this module's build and carried inside its jar. Loading copies the library to a
 * temporary file (a jar entry cannot be mapped by the dynamic linker); the library loads on every
 * x86-64 and says which levels this CPU runs.
 */
final class NativeKernels {

    /** The levels the library has, best first: its level numbers are indexes into this list. */
    static final List<String> LEVELS = List.of("avx512-vnni", "avx-vnni", "avx2");

    private static final String PLATFORM = "linux-x86_64";
    private static final String LIBRARY = "libqsparse_kernels.so";

    private NativeKernels() {}

    /** Loads the library once; throws with the reason when this JVM cannot load it. */
    static synchronized void load() {
        if (loaded) {
            return;
        }
        if (unusable != null) {
            throw new UnsupportedOperationException(unusable);
        }
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "");
        if (!os.contains("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) {
            throw new UnsupportedOperationException(
                    "qsparse native kernels are built for " + PLATFORM + ", not " + os + "/" + arch);
        }
        String resource = PLATFORM + "/" + LIBRARY;
        try (InputStream in = NativeKernels.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new UnsupportedOperationException("qsparse native library missing from the jar: " + resource);
            }
            Path file = unpack(in);
            try {
                System.load(file.toAbsolutePath().toString());
            } finally {
                // Once loaded the mapping outlives the name: nothing is left behind in the temp dir.
                Files.deleteIfExists(file);
            }
        } catch (IOException e) {
            throw new UnsupportedOperationException("qsparse native library could not be unpacked: " + e, e);
        }
        List<String> built = List.of(levelNames());
        if (!built.equals(LEVELS)) {
            // A library from another build: its level numbers would mean other kernels.
            unusable = "qsparse native library has levels " + built + ", this jar expects " + LEVELS;
            throw new UnsupportedOperationException(unusable);
        }
        loaded = true;
    }

    /** The levels this CPU runs, best first (the library loaded). */
    static List<String> runnable() {
        load();
        List<String> out = new ArrayList<>();
        for (int i = 0; i < LEVELS.size(); i++) {
            if (runs(i)) {
                out.add(LEVELS.get(i));
            }
        }
        return List.copyOf(out);
    }

    /**
     * Copies the library into a new temporary file that only this user can read or write. It is
     * written into the file {@code createTempFile} made (owner-only permissions on POSIX): {@code
     * Files.copy} with {@code REPLACE_EXISTING} would delete that file and create another with the
     * umask's permissions (0644), which another local user could read, or swap in the window before
     * {@code System.load} if the directory allowed it.
     */
    static Path unpack(InputStream in) throws IOException {
        Path file = Files.createTempFile("qsparse_kernels", ".so");
        try (OutputStream o = Files.newOutputStream(file)) {
            in.transferTo(o);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(file);
            throw e;
        }
        return file;
    }

    private static boolean loaded;
    private static String unusable;

    /** The library's level names, in its order. */
    static native String[] levelNames();

    /** Whether this CPU runs level number {@code level}. */
    static native boolean runs(int level);

    static native long scratchBytes(int cols, int count, int xStride);

    /** {@link dev.qsparse.runtime.kernel.BatchBackend#integer} at level number {@code level}. */
    static native void integer(int level, WeightSlice weights, ActivationBatch x, OutputBlock out);

    /** {@link dev.qsparse.runtime.kernel.BatchBackend#integerSparse} at level number {@code level}. */
    static native void integerSparse(int level, WeightSlice weights, ActivationBatch x, OutputBlock out);

    /** {@link dev.qsparse.runtime.kernel.BatchBackend#int8Float} at level number {@code level}. */
    static native void int8Float(int level, WeightSlice weights, ActivationBatch x, OutputBlock out);

    /** {@link dev.qsparse.runtime.kernel.BatchBackend#f32} at level number {@code level}. */
    static native void f32(int level, WeightSlice weights, ActivationBatch x, OutputBlock out);
}
