package dev.qsparse.runtime.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qsparse.runtime.kernel.FloatView;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsFileTest {

    @TempDir
    Path dir;

    private static long[] shape(long... dims) {
        return dims;
    }

    @Test
    void readsEveryDtype() throws IOException {
        ByteBuffer f16 = ByteBuffer.allocate(6).order(ByteOrder.LITTLE_ENDIAN);
        f16.putShort((short) 0x3c00).putShort((short) 0xc000).putShort((short) 0x3555); // 1, -2, ~0.3333
        ByteBuffer bf16 = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
        bf16.putShort((short) 0x3f80).putShort((short) 0xc040); // 1, -3
        Path file = new TestSafetensors()
                .f32("a", shape(2, 2), 1f, -2f, 3.5f, 0.25f)
                .bytes("h", "F16", shape(3), f16.array())
                .bytes("b", "BF16", shape(2), bf16.array())
                .bytes("i", "I8", shape(3), new byte[] {-128, 0, 127})
                .bytes("u", "U8", shape(2), new byte[] {(byte) 255, 7})
                .write(dir.resolve("all.safetensors"));
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(5, f.tensors().size());
            assertArrayEquals(
                    new float[] {1f, -2f, 3.5f, 0.25f},
                    FloatView.of(f.buffer("a"), DType.F32).toArray());
            float[] h = FloatView.of(f.buffer("h"), DType.F16).toArray();
            assertEquals(1f, h[0]);
            assertEquals(-2f, h[1]);
            assertEquals(0.33325195f, h[2], 1e-7);
            assertArrayEquals(
                    new float[] {1f, -3f},
                    FloatView.of(f.buffer("b"), DType.BF16).toArray());
            ByteBuffer i8 = f.buffer("i");
            assertEquals(-128, i8.get(0));
            assertEquals(127, i8.get(2));
            assertEquals(255, f.buffer("u").get(0) & 0xff);
            assertArrayEquals(new long[] {2, 2}, f.info("a").shape());
        }
    }

    @Test
    void truncatedDataNamesTheTensor() throws IOException {
        TestSafetensors t =
                new TestSafetensors().f32("first", shape(2), 1f, 2f).f32("second.weight", shape(4), 1f, 2f, 3f, 4f);
        byte[] data = t.dataBytes();
        Path file = TestSafetensors.writeRaw(
                dir.resolve("trunc.safetensors"), t.headerJson(), Arrays.copyOf(data, data.length - 3));
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> SafetensorsFile.open(file));
        assertTrue(e.getMessage().contains("trunc.safetensors"), e.getMessage());
        assertTrue(e.getMessage().contains("second.weight"), e.getMessage());
    }

    @Test
    void fileCutInsideTheHeader() throws IOException {
        Path good = new TestSafetensors().f32("w", shape(2), 1f, 2f).write(dir.resolve("g.safetensors"));
        byte[] all = Files.readAllBytes(good);
        Path cut = Files.write(dir.resolve("cut.safetensors"), Arrays.copyOf(all, 20));
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> SafetensorsFile.open(cut));
        assertTrue(e.getMessage().contains("cut.safetensors"), e.getMessage());
        Path tiny = Files.write(dir.resolve("tiny.safetensors"), new byte[] {1, 2, 3});
        assertThrows(ModelLoadException.class, () -> SafetensorsFile.open(tiny));
        Path empty = Files.write(dir.resolve("empty.safetensors"), new byte[0]);
        assertThrows(ModelLoadException.class, () -> SafetensorsFile.open(empty));
    }

    @Test
    void insaneHeaderLengthIsRejectedWithoutAllocatingIt() throws IOException {
        ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(Long.MAX_VALUE).putLong(0);
        Path file = Files.write(dir.resolve("huge.safetensors"), b.array());
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> SafetensorsFile.open(file));
        assertTrue(e.getMessage().contains("header length"), e.getMessage());
        b.clear();
        b.putLong(-5).putLong(0);
        Path negative = Files.write(dir.resolve("neg.safetensors"), b.array());
        assertThrows(ModelLoadException.class, () -> SafetensorsFile.open(negative));
    }

    @Test
    void headerThatIsNotJson() throws IOException {
        Path file = TestSafetensors.writeRaw(dir.resolve("nojson.safetensors"), "{\"a\": [1, 2", new byte[8]);
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> SafetensorsFile.open(file));
        assertTrue(
                e.getMessage().contains("nojson.safetensors") && e.getMessage().contains("JSON"), e.getMessage());
        Path array = TestSafetensors.writeRaw(dir.resolve("array.safetensors"), "[1,2,3]", new byte[0]);
        assertThrows(ModelLoadException.class, () -> SafetensorsFile.open(array));
    }

    @Test
    void shapeThatDisagreesWithByteLength() throws IOException {
        Path file =
                new TestSafetensors().raw("w.bad", "F32", shape(3, 3), 0, 32).write(dir.resolve("shape.safetensors"));
        Files.write(file, new byte[32], java.nio.file.StandardOpenOption.APPEND);
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> SafetensorsFile.open(file));
        assertTrue(e.getMessage().contains("w.bad") && e.getMessage().contains("does not match"), e.getMessage());
    }

    @Test
    void shapeOverflow() throws IOException {
        Path file = new TestSafetensors()
                .raw("big", "F32", shape(1L << 40, 1L << 40), 0, 4)
                .write(dir.resolve("overflow.safetensors"));
        Files.write(file, new byte[4], java.nio.file.StandardOpenOption.APPEND);
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> SafetensorsFile.open(file));
        assertTrue(e.getMessage().contains("big"), e.getMessage());
    }

    @Test
    void overlappingTensors() throws IOException {
        TestSafetensors t =
                new TestSafetensors().raw("a", "F32", shape(4), 0, 16).raw("b", "F32", shape(2), 8, 16);
        Path file = TestSafetensors.writeRaw(dir.resolve("overlap.safetensors"), t.headerJson(), new byte[16]);
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> SafetensorsFile.open(file));
        assertTrue(e.getMessage().contains("overlap"), e.getMessage());
    }

    @Test
    void badOffsetsAndDtypes() throws IOException {
        String[] headers = {
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}",
            "{\"a\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,4]}}",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}",
            "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
            "{\"a\":5}",
        };
        for (int i = 0; i < headers.length; i++) {
            Path file = TestSafetensors.writeRaw(dir.resolve("bad" + i + ".safetensors"), headers[i], new byte[8]);
            ModelLoadException e = assertThrows(ModelLoadException.class, () -> SafetensorsFile.open(file), headers[i]);
            assertTrue(e.getMessage().contains("bad" + i + ".safetensors"), e.getMessage());
        }
    }

    @Test
    void missingFile() {
        ModelLoadException e =
                assertThrows(ModelLoadException.class, () -> SafetensorsFile.open(dir.resolve("nope.safetensors")));
        assertTrue(e.getMessage().contains("nope.safetensors"), e.getMessage());
    }

    @Test
    void shardedCheckpoint() throws IOException {
        new TestSafetensors().f32("x", shape(2), 1f, 2f).write(dir.resolve("model-00001-of-00002.safetensors"));
        new TestSafetensors().f32("y", shape(1), 3f).write(dir.resolve("model-00002-of-00002.safetensors"));
        Files.writeString(
                dir.resolve(Checkpoint.INDEX_FILE),
                "{\"metadata\":{},\"weight_map\":{"
                        + "\"x\":\"model-00001-of-00002.safetensors\",\"y\":\"model-00002-of-00002.safetensors\"}}");
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertEquals(2, c.tensorNames().size());
            assertEquals(3f, c.buffer("y").getFloat(0));
            assertEquals(2f, c.buffer("x").getFloat(4));
            ModelLoadException e = assertThrows(ModelLoadException.class, () -> c.info("z"));
            assertTrue(e.getMessage().contains("'z'"));
        }
        Files.writeString(
                dir.resolve(Checkpoint.INDEX_FILE),
                "{\"weight_map\":{\"x\":\"model-00001-of-00002.safetensors\","
                        + "\"q\":\"model-00002-of-00002.safetensors\"}}");
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> Checkpoint.open(dir));
        assertTrue(e.getMessage().contains("'q'"), e.getMessage());
        Files.writeString(dir.resolve(Checkpoint.INDEX_FILE), "{\"weight_map\":{\"x\":\"../../etc/passwd\"}}");
        assertThrows(ModelLoadException.class, () -> Checkpoint.open(dir));
    }

    @Test
    void emptyDirectory() {
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> Checkpoint.open(dir));
        assertTrue(e.getMessage().contains("model.safetensors"), e.getMessage());
    }
}
