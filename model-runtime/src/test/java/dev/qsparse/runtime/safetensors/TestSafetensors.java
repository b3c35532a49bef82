package dev.qsparse.runtime.safetensors;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes safetensors files for tests, including deliberately broken ones: the header JSON is
 * given as text so any field can be wrong.
 */
public final class TestSafetensors {

    private final List<String> entries = new ArrayList<>();
    private final ByteBuffer data = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);

    /** Adds an F32 tensor with a correct header entry. */
    public TestSafetensors f32(String name, long[] shape, float... values) {
        int begin = data.position();
        for (float v : values) {
            data.putFloat(v);
        }
        return raw(name, "F32", shape, begin, data.position());
    }

    /** Adds raw bytes with a correct header entry of the given dtype. */
    public TestSafetensors bytes(String name, String dtype, long[] shape, byte[] bytes) {
        int begin = data.position();
        data.put(bytes);
        return raw(name, dtype, shape, begin, data.position());
    }

    /** Adds a header entry only: begin/end/shape/dtype exactly as given. */
    public TestSafetensors raw(String name, String dtype, long[] shape, long begin, long end) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < shape.length; i++) {
            s.append(i == 0 ? "" : ",").append(shape[i]);
        }
        entries.add("\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":[" + s + "],\"data_offsets\":[" + begin
                + "," + end + "]}");
        return this;
    }

    public String headerJson() {
        return "{" + String.join(",", entries) + "}";
    }

    public byte[] dataBytes() {
        byte[] out = new byte[data.position()];
        data.duplicate().flip().get(out);
        return out;
    }

    public Path write(Path file) throws IOException {
        return writeRaw(file, headerJson(), dataBytes());
    }

    public static Path writeRaw(Path file, String header, byte[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer out = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(h.length).put(h).put(data);
        Files.write(file, out.array());
        return file;
    }
}
