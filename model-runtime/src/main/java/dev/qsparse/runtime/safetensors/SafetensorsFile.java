package dev.qsparse.runtime.safetensors;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One {@code .safetensors} file, read by memory-mapping: only the JSON header is read onto the
 * heap, tensor bytes stay in the page cache and are shared by every reader of the file.
 *
 * <p>The header is validated in full when the file is opened (sane header length, known dtypes,
 * shape x dtype size = byte length, offsets inside the file, no overlapping tensors), so a corrupt
 * or truncated file fails here with a {@link ModelLoadException} naming the file and the tensor,
 * never later inside a kernel.
 *
 * <p>Thread-safe. Buffers handed out stay valid after {@link #close()}: the JDK unmaps them when
 * they become unreachable.
 */
public final class SafetensorsFile implements AutoCloseable {

    /** Headers of real checkpoints are a few hundred KB; anything far beyond is corruption. */
    static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;

    private final Path path;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, TensorInfo> tensors;
    /** Where the last tensor's bytes end, relative to the data section (fixed by the header). */
    private final long dataEnd;

    private final Map<String, String> metadata;
    private final Map<String, ByteBuffer> mapped = new ConcurrentHashMap<>();

    private SafetensorsFile(
            Path path,
            FileChannel channel,
            long dataStart,
            Map<String, TensorInfo> tensors,
            Map<String, String> metadata) {
        this.path = path;
        this.channel = channel;
        this.dataStart = dataStart;
        this.tensors = tensors;
        this.metadata = metadata;
        long end = 0;
        for (TensorInfo t : tensors.values()) {
            end = Math.max(end, t.end());
        }
        this.dataEnd = end;
    }

    public static SafetensorsFile open(Path path) throws ModelLoadException {
        // Never open a FIFO (it blocks until a writer comes) or a device (endless): regular files only.
        ModelFiles.requireRegularFile(path);
        FileChannel channel;
        try {
            channel = FileChannel.open(path, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw ModelLoadException.forFile(path, "file not found");
        } catch (IOException e) {
            throw new ModelLoadException(path + ": cannot open: " + e.getMessage(), e);
        }
        try {
            return parse(path, channel);
        } catch (ModelLoadException | RuntimeException e) {
            closeQuietly(channel);
            throw e;
        }
    }

    private static SafetensorsFile parse(Path path, FileChannel channel) throws ModelLoadException {
        long fileSize;
        try {
            fileSize = channel.size();
            if (fileSize < 8) {
                throw ModelLoadException.forFile(
                        path, "truncated: " + fileSize + " bytes, shorter than the 8-byte header length");
            }
            ByteBuffer lengthBytes = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(channel, lengthBytes, 0);
            long headerLength = lengthBytes.getLong(0);
            if (headerLength < 2 || headerLength > MAX_HEADER_BYTES || headerLength > fileSize - 8) {
                // The value is the file's first 8 bytes: not echoed (the file may not be a safetensors file).
                throw ModelLoadException.forFile(
                        path,
                        "not a safetensors file: its 8-byte header length is not"
                                + " in [2, " + Math.min(MAX_HEADER_BYTES, Math.max(2, fileSize - 8))
                                + "] for a file of "
                                + fileSize + " bytes");
            }
            ByteBuffer header = ByteBuffer.allocate((int) headerLength);
            readFully(channel, header, 8);
            long dataStart = 8 + headerLength;
            long dataSize = fileSize - dataStart;
            return parseHeader(path, channel, header.array(), dataStart, dataSize);
        } catch (ModelLoadException e) {
            throw e;
        } catch (IOException e) {
            throw new ModelLoadException(path + ": cannot read header: " + e.getMessage(), e);
        }
    }

    private static SafetensorsFile parseHeader(
            Path path, FileChannel channel, byte[] headerBytes, long dataStart, long dataSize)
            throws ModelLoadException {
        // One JSON object; only white space (the format's padding) may follow it.
        JsonNode root = ModelFiles.parseJson(path, "header", headerBytes);
        if (root == null || !root.isObject()) {
            throw ModelLoadException.forFile(path, "header is not a JSON object");
        }
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getKey().equals("__metadata__")) {
                if (!e.getValue().isObject()) {
                    throw ModelLoadException.forFile(path, "__metadata__ is not an object");
                }
                e.getValue()
                        .fields()
                        .forEachRemaining(
                                m -> metadata.put(m.getKey(), m.getValue().asText()));
                continue;
            }
            tensors.put(e.getKey(), parseEntry(path, e.getKey(), e.getValue(), dataSize));
        }
        checkNoOverlap(path, tensors);
        return new SafetensorsFile(
                path, channel, dataStart, Collections.unmodifiableMap(tensors), Collections.unmodifiableMap(metadata));
    }

    private static TensorInfo parseEntry(Path path, String name, JsonNode node, long dataSize)
            throws ModelLoadException {
        if (!node.isObject()) {
            throw ModelLoadException.forTensor(path, name, "header entry is not an object");
        }
        JsonNode dtypeNode = node.get("dtype");
        DType dtype = dtypeNode == null ? null : DType.fromHeaderName(dtypeNode.asText());
        if (dtype == null) {
            throw ModelLoadException.forTensor(path, name, "unknown or missing dtype " + dtypeNode);
        }
        JsonNode shapeNode = node.get("shape");
        if (shapeNode == null || !shapeNode.isArray()) {
            throw ModelLoadException.forTensor(path, name, "missing shape");
        }
        long[] shape = new long[shapeNode.size()];
        long elements = 1;
        try {
            for (int i = 0; i < shape.length; i++) {
                JsonNode d = shapeNode.get(i);
                if (!d.canConvertToLong() || !d.isIntegralNumber() || d.asLong() < 0) {
                    throw ModelLoadException.forTensor(path, name, "bad shape " + shapeNode);
                }
                shape[i] = d.asLong();
                elements = Math.multiplyExact(elements, shape[i]);
            }
            elements = Math.multiplyExact(elements, (long) dtype.bytes());
        } catch (ArithmeticException overflow) {
            throw ModelLoadException.forTensor(path, name, "shape " + shapeNode + " overflows");
        }
        JsonNode offsets = node.get("data_offsets");
        if (offsets == null
                || !offsets.isArray()
                || offsets.size() != 2
                || !offsets.get(0).isIntegralNumber()
                || !offsets.get(1).isIntegralNumber()
                || !offsets.get(0).canConvertToLong()
                || !offsets.get(1).canConvertToLong()) {
            throw ModelLoadException.forTensor(path, name, "bad data_offsets " + offsets);
        }
        long begin = offsets.get(0).asLong();
        long end = offsets.get(1).asLong();
        if (begin < 0 || end < begin) {
            throw ModelLoadException.forTensor(path, name, "bad data_offsets [" + begin + ", " + end + "]");
        }
        if (end > dataSize) {
            throw ModelLoadException.forTensor(
                    path,
                    name,
                    "ends at data byte " + end + " but the file's data section has only " + dataSize
                            + " bytes (truncated file?)");
        }
        if (end - begin != elements) {
            throw ModelLoadException.forTensor(
                    path,
                    name,
                    "byte length " + (end - begin) + " does not match shape " + shapeNode + " x " + dtype + " = "
                            + elements + " bytes");
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    private static void checkNoOverlap(Path path, Map<String, TensorInfo> tensors) throws ModelLoadException {
        List<TensorInfo> sorted = new ArrayList<>();
        for (TensorInfo t : tensors.values()) {
            if (t.byteLength() > 0) {
                sorted.add(t);
            }
        }
        sorted.sort(Comparator.comparingLong(TensorInfo::begin));
        for (int i = 1; i < sorted.size(); i++) {
            TensorInfo prev = sorted.get(i - 1);
            TensorInfo cur = sorted.get(i);
            if (cur.begin() < prev.end()) {
                throw ModelLoadException.forTensor(
                        path,
                        cur.name(),
                        "bytes [" + cur.begin() + ", "
                                + cur.end() + ") overlap tensor '" + prev.name() + "' [" + prev.begin() + ", "
                                + prev.end() + ")");
            }
        }
    }

    private static void readFully(FileChannel channel, ByteBuffer into, long position) throws IOException {
        long pos = position;
        while (into.hasRemaining()) {
            int n = channel.read(into, pos);
            if (n < 0) {
                throw new IOException("unexpected end of file at byte " + pos);
            }
            pos += n;
        }
    }

    public Path path() {
        return path;
    }

    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    /**
     * Throws when the file is now shorter than the data section its tensors map: reading a mapped
     * page past the end of a file is a {@code SIGBUS} (an {@code InternalError} in Java, a crash of
     * the whole JVM in native code). One {@code fstat}; a check before each batch narrows the window
     * in which a file truncated in place is read, it cannot close it (replace files by rename).
     */
    public void checkIntact() {
        long needed = dataStart + dataEnd;
        long size;
        try {
            size = channel.size();
        } catch (java.nio.channels.ClosedChannelException closed) {
            return; // the model was closed: nothing can be checked, the mappings stay readable as before
        } catch (IOException e) {
            throw new ModelFilesChangedException(path + ": cannot read the size of the mapped model file: " + e, e);
        }
        if (size < needed) {
            throw new ModelFilesChangedException(
                    path + ": the file shrank to " + size + " bytes under its memory map (its tensors end at byte "
                            + needed + "): it was truncated or rewritten in place. Replace model files by rename,"
                            + " never in place, and reload the model",
                    null);
        }
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    public TensorInfo info(String name) {
        return tensors.get(name);
    }

    /**
     * A read-only little-endian view of a tensor's bytes. The data section is mapped once, on
     * first use, when it fits one mapping (2 GiB); larger files map each tensor on its own. Each
     * call returns an independent buffer (own position) over the same shared mapping.
     */
    public ByteBuffer buffer(String name) throws ModelLoadException {
        TensorInfo info = tensors.get(name);
        if (info == null) {
            throw ModelLoadException.forTensor(path, name, "not in this file");
        }
        if (info.byteLength() > Integer.MAX_VALUE) {
            throw ModelLoadException.forTensor(
                    path,
                    name,
                    info.byteLength() + " bytes exceed the 2 GiB a single mapping can hold; shard the checkpoint");
        }
        long dataBytes = dataEnd;
        if (dataBytes <= Integer.MAX_VALUE) {
            ByteBuffer whole = mapping(WHOLE_DATA, 0, dataBytes);
            return whole.slice((int) info.begin(), (int) info.byteLength()).order(ByteOrder.LITTLE_ENDIAN);
        }
        return mapping(name, info.begin(), info.byteLength()).duplicate().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Key of the single mapping of the whole data section. */
    private static final String WHOLE_DATA = "";

    private ByteBuffer mapping(String key, long offset, long length) throws ModelLoadException {
        ByteBuffer existing = mapped.get(key);
        if (existing != null) {
            return existing;
        }
        synchronized (mapped) {
            existing = mapped.get(key);
            if (existing != null) {
                return existing;
            }
            try {
                MappedByteBuffer m = channel.map(FileChannel.MapMode.READ_ONLY, dataStart + offset, length);
                mapped.put(key, m);
                return m;
            } catch (IOException e) {
                throw new ModelLoadException(
                        path + ": tensor '" + (key.isEmpty() ? "(data section)" : key) + "': cannot map: "
                                + e.getMessage(),
                        e);
            }
        }
    }

    @Override
    public void close() {
        closeQuietly(channel);
    }

    private static void closeQuietly(FileChannel channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // Nothing useful to do: the file was opened read-only.
        }
    }
}
