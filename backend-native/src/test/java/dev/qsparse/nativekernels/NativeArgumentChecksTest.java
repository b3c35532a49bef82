package dev.qsparse.nativekernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qsparse.runtime.kernel.ActivationBatch;
import dev.qsparse.runtime.kernel.OutputBlock;
import dev.qsparse.runtime.kernel.WeightSlice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * The JNI boundary refuses an output it cannot write (a read-only buffer, such as a file mapped
 * READ_ONLY), sizes past a buffer and a level this CPU does not run, with an
 * IllegalArgumentException, before any kernel runs. The checks are the boundary's, the same for
 * every level: they run at the lowest level (AVX2), which every x86-64 build machine here has. Each
 * call also carries a wrong weight (or scale) buffer that a later check would report instead: the
 * message says which check refused the call.
 */
class NativeArgumentChecksTest {

    private static final int BLOCK = 64;
    private static final int AVX2 = NativeKernels.LEVELS.indexOf("avx2");

    @BeforeAll
    static void loadTheLibrary() {
        Assumptions.assumeTrue(NativeKernels.runnable().contains("avx2"), "this CPU lacks AVX2");
    }

    private static ByteBuffer direct(long bytes) {
        return ByteBuffer.allocateDirect(Math.toIntExact(bytes)).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static void refused(Executable call, String expected) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(expected), "expected '" + expected + "' in: " + e.getMessage());
    }

    /** One 64-output int8 block of 64 columns whose weights are too small on purpose. */
    private static final WeightSlice INT8 =
            new WeightSlice(WeightSlice.Layout.INT8_COLUMNS, direct(1), null, BLOCK, BLOCK, 64, direct(1), 0, BLOCK);

    private static final ActivationBatch ONE_ROW =
            new ActivationBatch(direct(4L * 64), 1, 64, direct(4), direct(4), direct(4L * 64), direct(4));

    private static long scratchBytes() {
        return NativeKernels.scratchBytes(64, 1, 64);
    }

    @Test
    void aReadOnlyOutputIsRefusedBeforeAnythingRuns(@TempDir Path dir) throws IOException {
        refused(
                () -> NativeKernels.integer(
                        AVX2,
                        INT8,
                        ONE_ROW,
                        new OutputBlock(direct(4L * BLOCK).asReadOnlyBuffer(), BLOCK, direct(scratchBytes()))),
                "out must be a writable direct buffer");
        refused(
                () -> NativeKernels.integer(
                        AVX2,
                        INT8,
                        ONE_ROW,
                        new OutputBlock(
                                direct(4L * BLOCK),
                                BLOCK,
                                direct(scratchBytes()).asReadOnlyBuffer())),
                "scratch must be a writable direct buffer");
        // The case: an output that is a file mapped read-only.
        Path file = dir.resolve("out.bin");
        Files.write(file, new byte[4 * BLOCK]);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            MappedByteBuffer mapped = ch.map(FileChannel.MapMode.READ_ONLY, 0, 4 * BLOCK);
            refused(
                    () -> NativeKernels.integer(
                            AVX2, INT8, ONE_ROW, new OutputBlock(mapped, BLOCK, direct(scratchBytes()))),
                    "out must be a writable direct buffer");
            WeightSlice f32 = new WeightSlice(WeightSlice.Layout.F32_ROWS, direct(1), null, 64, 64, 64, null, 0, 64);
            refused(
                    () -> NativeKernels.f32(AVX2, f32, ONE_ROW, new OutputBlock(mapped, 64, null)),
                    "out must be a writable direct buffer");
            refused(
                    () -> NativeKernels.int8Float(AVX2, INT8, ONE_ROW, new OutputBlock(mapped, 64, null)),
                    "out must be a writable direct buffer");
        }
    }

    @Test
    void outputsPastTheStrideAreRefused() {
        // Outputs [64, 128) into rows of 64 floats.
        WeightSlice second = new WeightSlice(
                WeightSlice.Layout.INT8_COLUMNS, direct(1), null, 2 * BLOCK, 2 * BLOCK, 64, direct(1), BLOCK, BLOCK);
        refused(
                () -> NativeKernels.integer(
                        AVX2, second, ONE_ROW, new OutputBlock(direct(4L * BLOCK), BLOCK, direct(scratchBytes()))),
                "outputs [o0, o0 + len) past the output stride");
        // o0 + len past 2^31: refused by the slice itself, in 64-bit arithmetic, before the boundary.
        int o0 = Integer.MAX_VALUE / BLOCK * BLOCK;
        assertThrows(
                IllegalArgumentException.class,
                () -> new WeightSlice(
                        WeightSlice.Layout.TERNARY_COLUMNS,
                        direct(1),
                        null,
                        1,
                        Integer.MAX_VALUE,
                        64,
                        null,
                        o0,
                        2 * BLOCK));
    }

    @Test
    void aLevelThisCpuDoesNotRunIsRefused() {
        OutputBlock out = new OutputBlock(direct(4L * BLOCK), BLOCK, direct(scratchBytes()));
        refused(
                () -> NativeKernels.integer(NativeKernels.LEVELS.size(), INT8, ONE_ROW, out),
                "a level this CPU does not run");
        refused(() -> NativeKernels.integer(-1, INT8, ONE_ROW, out), "a level this CPU does not run");
        for (int level = 0; level < NativeKernels.LEVELS.size(); level++) {
            if (!NativeKernels.runs(level)) {
                int l = level;
                refused(() -> NativeKernels.integer(l, INT8, ONE_ROW, out), "a level this CPU does not run");
            }
        }
    }

    @Test
    void aKeptColumnOutsideTheWeightsIsRefused() {
        WeightSlice weights = new WeightSlice(
                WeightSlice.Layout.INT8_COLUMNS,
                direct(64L * BLOCK),
                null,
                BLOCK,
                BLOCK,
                64,
                direct(4L * BLOCK),
                0,
                BLOCK);
        ByteBuffer index = direct(4L * 64);
        index.putInt(0, 64); // column 64 of 64
        ByteBuffer counts = direct(4);
        counts.putInt(0, 1);
        ActivationBatch batch = new ActivationBatch(direct(4L * 64), 1, 64, direct(4), null, index, counts);
        refused(
                () -> NativeKernels.int8Float(AVX2, weights, batch, new OutputBlock(direct(4L * BLOCK), BLOCK, null)),
                "a column number outside [0, cols)");
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
