package dev.qsparse.runtime;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.stream.Stream;

/**
 * Copies of the committed test model with chosen float32 weights overwritten (NaN, infinity, huge
 * values): a model as a corrupt or badly converted checkpoint would be.
 */
public final class PoisonedModels {

    private PoisonedModels() {}

    /** Copies {@code source} (a model directory) into {@code target}. */
    public static Path copy(Path source, Path target) throws IOException {
        Files.createDirectories(target);
        try (Stream<Path> files = Files.list(source)) {
            for (Path f : files.toList()) {
                Files.copy(f, target.resolve(f.getFileName()));
            }
        }
        return target;
    }

    /**
     * Sets elements {@code [from, to)} of F32 tensor {@code tensor} in {@code dir/model.safetensors}
     * to {@code value} (to = -1: to the end of the tensor).
     */
    public static void poison(Path dir, String tensor, float value, long from, long to) throws IOException {
        Path file = dir.resolve("model.safetensors");
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(len, 0);
            int headerLength = (int) len.getLong(0);
            ByteBuffer header = ByteBuffer.allocate(headerLength);
            ch.read(header, 8);
            JsonNode info = new ObjectMapper().readTree(header.array()).get(tensor);
            if (info == null || !"F32".equals(info.get("dtype").asText())) {
                throw new IllegalArgumentException("no F32 tensor " + tensor + " in " + file);
            }
            long begin = info.get("data_offsets").get(0).asLong();
            long end = info.get("data_offsets").get(1).asLong();
            long count = (end - begin) / 4;
            long stop = to < 0 ? count : to;
            ByteBuffer b = ByteBuffer.allocate((int) (4 * (stop - from))).order(ByteOrder.LITTLE_ENDIAN);
            for (long i = from; i < stop; i++) {
                b.putFloat(value);
            }
            b.flip();
            long pos = 8 + headerLength + begin + 4 * from;
            while (b.hasRemaining()) {
                pos += ch.write(b, pos);
            }
        }
    }

    /** A copy of the test model whose every weight of {@code tensor} is {@code value}. */
    public static Path withTensor(Path target, String tensor, float value) throws IOException {
        copy(TestModels.TEST_MODEL, target);
        poison(target, tensor, value, 0, -1);
        return target;
    }
}
