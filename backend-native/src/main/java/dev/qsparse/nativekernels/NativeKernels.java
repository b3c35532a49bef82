package dev.qsparse.nativekernels;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The JNI entry points of {@code libqsparse_kernels.so} (src/main/c/qsparse_kernels.c), built by
 * gcc during this module's build and carried inside its jar. Loading copies the library to a
 * temporary file (a jar entry cannot be mapped by the dynamic linker) and checks that this CPU has
 * the instructions it was compiled for.
 */
final class NativeKernels {

    static final int FORMAT_INT8 = 0;
    static final int FORMAT_TERNARY = 1;

    private static final String PLATFORM = "linux-x86_64";
    private static final String LIBRARY = "libqsparse_kernels.so";

    private NativeKernels() {}

    /** Loads the library once; throws with the reason when this JVM or CPU cannot use it. */
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
        if (!cpuSupported()) {
            // Loaded but not usable here: remembered, so that the library is not unpacked again.
            unusable = "this CPU lacks AVX-512 VNNI (avx512f, avx512bw, avx512vnni)";
            throw new UnsupportedOperationException(unusable);
        }
        loaded = true;
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

    static native boolean cpuSupported();

    static native long scratchBytes(int cols, int count, int xStride);

    static native void columns(
            int format,
            ByteBuffer mapped,
            byte[] heap,
            int stride,
            int cols,
            ByteBuffer rowScales,
            int o0,
            int len,
            ByteBuffer x,
            int count,
            int xStride,
            ByteBuffer tokenScales,
            ByteBuffer tokenSums,
            ByteBuffer out,
            int outStride,
            ByteBuffer scratch);

    static native void f32Rows(
            ByteBuffer weights,
            int rows,
            int cols,
            int r0,
            int n,
            ByteBuffer x,
            int count,
            int xStride,
            ByteBuffer out,
            int outStride);

    static native void int8FloatColumns(
            ByteBuffer mapped,
            byte[] heap,
            int stride,
            int cols,
            ByteBuffer rowScales,
            int o0,
            int len,
            ByteBuffer x,
            ByteBuffer index,
            ByteBuffer counts,
            int count,
            int xStride,
            ByteBuffer tokenScales,
            ByteBuffer out,
            int outStride);
}
