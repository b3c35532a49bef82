package dev.qsparse.nativekernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * The native entry points refuse an output they cannot write (a read-only buffer, such as a file
 * mapped READ_ONLY) and sizes whose sum overflows an int, with an IllegalArgumentException, before
 * any kernel runs. The library loads on every x86-64 (only the kernels need AVX-512 VNNI), so these
 * checks run on any build machine. Each call also carries a wrong weight (or scale) buffer that the
 * old checks would have reported instead: the message says which check refused the call.
 */
class NativeArgumentChecksTest {

    private static final int BLOCK = 64;

    @BeforeAll
    static void loadTheLibrary() {
        try {
            NativeKernels.load();
        } catch (UnsupportedOperationException e) {
            // Loaded, but this CPU cannot run the kernels: the checks in front of them still run.
            if (!String.valueOf(e.getMessage()).contains("lacks AVX-512 VNNI")) {
                throw e;
            }
        }
    }

    private static ByteBuffer direct(long bytes) {
        return ByteBuffer.allocateDirect(Math.toIntExact(bytes)).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static void refused(Executable call, String expected) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(expected), "expected '" + expected + "' in: " + e.getMessage());
    }

    /** int8 columns(), one 64-column block, one token; {@code weights} too small on purpose. */
    private static void int8Columns(ByteBuffer out, ByteBuffer scratch) {
        int cols = 64;
        int count = 1;
        int xStride = 64;
        NativeKernels.columns(
                NativeKernels.FORMAT_INT8,
                direct(1),
                null,
                BLOCK,
                cols,
                direct(4L * BLOCK),
                0,
                BLOCK,
                direct(4L * count * xStride),
                count,
                xStride,
                direct(4L * count),
                direct(4L * count),
                out,
                BLOCK,
                scratch);
    }

    private static long scratchBytes() {
        return NativeKernels.scratchBytes(64, 1, 64);
    }

    @Test
    void aReadOnlyOutputIsRefusedBeforeAnythingRuns(@TempDir Path dir) throws IOException {
        refused(
                () -> int8Columns(direct(4L * BLOCK).asReadOnlyBuffer(), direct(scratchBytes())),
                "out must be a writable direct buffer");
        refused(
                () -> int8Columns(direct(4L * BLOCK), direct(scratchBytes()).asReadOnlyBuffer()),
                "scratch must be a writable direct buffer");
        // The case: an output that is a file mapped read-only.
        Path file = dir.resolve("out.bin");
        Files.write(file, new byte[4 * BLOCK]);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            MappedByteBuffer mapped = ch.map(FileChannel.MapMode.READ_ONLY, 0, 4 * BLOCK);
            refused(() -> int8Columns(mapped, direct(scratchBytes())), "out must be a writable direct buffer");
            refused(
                    () -> NativeKernels.f32Rows(direct(1), 64, 64, 0, 64, direct(4L * 64), 1, 64, mapped, 64),
                    "out must be a writable direct buffer");
            refused(
                    () -> NativeKernels.int8FloatColumns(
                            direct(64L * 64),
                            null,
                            64,
                            64,
                            direct(1),
                            0,
                            64,
                            direct(4L * 64),
                            direct(4L * 64),
                            direct(4),
                            1,
                            64,
                            direct(4),
                            mapped,
                            64),
                    "out must be a writable direct buffer");
        }
    }

    @Test
    void outputsPastTheStrideAreRefusedIn64BitArithmetic() {
        // o0 + len = 2^31 + 64 wrapped to a negative int, and "ostride < o0 + len" let it pass: the
        // kernel would have written out[o0 ...] far past the 64-float output rows.
        int o0 = Integer.MAX_VALUE / BLOCK * BLOCK;
        int len = 2 * BLOCK;
        int stride = (int) (((long) o0 + len) / 4); // ternary: 4 outputs per byte
        int cols = 64;
        refused(
                () -> NativeKernels.columns(
                        NativeKernels.FORMAT_TERNARY,
                        direct(1),
                        null,
                        stride,
                        cols,
                        null,
                        o0,
                        len,
                        direct(4L * 64),
                        1,
                        64,
                        direct(4),
                        direct(4),
                        direct(4L * 64),
                        64,
                        direct(scratchBytes())),
                "outputs [o0, o0 + len) past the output stride");
    }

    @Test
    void theUnpackedLibraryIsReadableByItsOwnerOnly() throws IOException {
        Path file = NativeKernels.unpack(new java.io.ByteArrayInputStream(new byte[] {1, 2, 3}));
        try {
            // Before, Files.copy(REPLACE_EXISTING) recreated the file with the umask's 0644.
            assertEquals(
                    java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"),
                    Files.getPosixFilePermissions(file));
            assertEquals(3, Files.size(file));
        } finally {
            Files.deleteIfExists(file);
        }
    }

    @Test
    void scratchSizeIsComputedIn64Bits() {
        // (cols + 3) / 4 in int arithmetic wrapped for cols near 2^31: the scratch asked for was negative.
        assertTrue(NativeKernels.scratchBytes(Integer.MAX_VALUE, 1, 64) > 0);
    }
}
