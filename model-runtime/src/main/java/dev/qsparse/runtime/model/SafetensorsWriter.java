package dev.qsparse.runtime.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes one {@code .safetensors} file. Tensors are planned first (name, dtype, shape, and a
 * supplier of their bytes), so the header is written before any tensor is produced and each
 * tensor is produced, written and dropped in turn: converting a large model never holds more than
 * one quantized tensor in memory. The header is padded with spaces so that the data section starts
 * at a multiple of 64 bytes, as the format allows.
 *
 * <p>Public for the bench, whose MiniLM directory builder (model-runtime's test-jar) runs in another
 * class loader, where package access does not reach.
 */
public final class SafetensorsWriter {

    @FunctionalInterface
    public interface Bytes {
        ByteBuffer get() throws IOException;
    }

    private record Entry(String name, String dtype, long[] shape, long length, Bytes bytes) {}

    private final List<Entry> entries = new ArrayList<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();

    public void metadata(String key, String value) {
        metadata.put(key, value);
    }

    public void add(String name, String dtype, long[] shape, long byteLength, Bytes bytes) {
        entries.add(new Entry(name, dtype, shape, byteLength, bytes));
    }

    public void write(Path file) throws IOException {
        Map<String, Object> header = new LinkedHashMap<>();
        if (!metadata.isEmpty()) {
            header.put("__metadata__", metadata);
        }
        long offset = 0;
        for (Entry e : entries) {
            Map<String, Object> t = new LinkedHashMap<>();
            t.put("dtype", e.dtype());
            t.put("shape", e.shape());
            t.put("data_offsets", new long[] {offset, offset + e.length()});
            header.put(e.name(), t);
            offset += e.length();
        }
        byte[] json = new ObjectMapper().writeValueAsBytes(header);
        int padded = json.length;
        while ((8 + padded) % 64 != 0) {
            padded++;
        }
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) {
            head.put((byte) ' ');
        }
        head.flip();
        try (FileChannel out = FileChannel.open(
                file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            writeFully(out, head);
            for (Entry e : entries) {
                ByteBuffer b = e.bytes().get().duplicate();
                b.position(0);
                if (b.remaining() != e.length()) {
                    throw new IOException(
                            "tensor " + e.name() + ": " + b.remaining() + " bytes, planned " + e.length());
                }
                writeFully(out, b);
            }
        }
    }

    private static void writeFully(FileChannel out, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            out.write(b);
        }
    }
}
