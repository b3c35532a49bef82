package dev.qsparse.runtime.safetensors;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The weights of a model directory: {@code model.safetensors}, or the shards listed in
 * {@code model.safetensors.index.json}. Tensors are looked up by name across all shards.
 * Thread-safe and read-only.
 */
public final class Checkpoint implements AutoCloseable {

    public static final String SINGLE_FILE = "model.safetensors";
    public static final String INDEX_FILE = "model.safetensors.index.json";

    private final Path directory;
    private final List<SafetensorsFile> files;
    private final Map<String, SafetensorsFile> byTensor;
    /** Float tensors already scanned and found finite. */
    private final Set<String> finite = ConcurrentHashMap.newKeySet();

    private Checkpoint(Path directory, List<SafetensorsFile> files, Map<String, SafetensorsFile> byTensor) {
        this.directory = directory;
        this.files = files;
        this.byTensor = byTensor;
    }

    public static Checkpoint open(Path directory) throws ModelLoadException {
        Path single = directory.resolve(SINGLE_FILE);
        Path index = directory.resolve(INDEX_FILE);
        List<SafetensorsFile> files = new ArrayList<>();
        Map<String, SafetensorsFile> byTensor = new LinkedHashMap<>();
        try {
            if (ModelFiles.isPresent(directory, single)) {
                SafetensorsFile f = SafetensorsFile.open(single);
                files.add(f);
                for (String name : f.tensors().keySet()) {
                    byTensor.put(name, f);
                }
            } else if (ModelFiles.isPresent(directory, index)) {
                openShards(directory, index, files, byTensor);
            } else {
                throw ModelLoadException.forFile(directory, "no " + SINGLE_FILE + " or " + INDEX_FILE);
            }
        } catch (ModelLoadException | RuntimeException e) {
            files.forEach(SafetensorsFile::close);
            throw e;
        }
        return new Checkpoint(directory, Collections.unmodifiableList(files), Collections.unmodifiableMap(byTensor));
    }

    private static void openShards(
            Path directory, Path index, List<SafetensorsFile> files, Map<String, SafetensorsFile> byTensor)
            throws ModelLoadException {
        JsonNode root;
        root = ModelFiles.parseJson(index, "", ModelFiles.readBounded(index, ModelFiles.MAX_INDEX_BYTES));
        JsonNode weightMap = root == null ? null : root.get("weight_map");
        if (weightMap == null || !weightMap.isObject()) {
            throw ModelLoadException.forFile(index, "missing weight_map object");
        }
        Map<String, SafetensorsFile> shards = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = weightMap.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String shardName = e.getValue().asText();
            Path shardPath = directory.resolve(shardName).normalize();
            if (!shardPath.startsWith(directory.normalize()) || shardName.isEmpty()) {
                throw ModelLoadException.forTensor(
                        index, e.getKey(), "shard '" + shardName + "' is outside the model directory");
            }
            SafetensorsFile shard = shards.get(shardName);
            if (shard == null) {
                ModelFiles.requireRegular(directory, shardPath);
                shard = SafetensorsFile.open(shardPath);
                shards.put(shardName, shard);
                files.add(shard);
            }
            if (shard.info(e.getKey()) == null) {
                throw ModelLoadException.forTensor(
                        shardPath, e.getKey(), "listed in " + INDEX_FILE + " but not in the shard");
            }
            byTensor.put(e.getKey(), shard);
        }
    }

    public Path directory() {
        return directory;
    }

    public Set<String> tensorNames() {
        return byTensor.keySet();
    }

    public boolean contains(String name) {
        return byTensor.containsKey(name);
    }

    /** The header entry of a tensor, or a load error naming the directory and the missing tensor. */
    public TensorInfo info(String name) throws ModelLoadException {
        SafetensorsFile f = byTensor.get(name);
        if (f == null) {
            throw ModelLoadException.forTensor(directory, name, "missing from the checkpoint");
        }
        return f.info(name);
    }

    public Path fileOf(String name) throws ModelLoadException {
        SafetensorsFile f = byTensor.get(name);
        if (f == null) {
            throw ModelLoadException.forTensor(directory, name, "missing from the checkpoint");
        }
        return f.path();
    }

    /**
     * A read-only little-endian view of a tensor's bytes. A float tensor (F64, F32, F16, BF16) is
     * scanned once, on its first use, and fails naming its file, itself and its first NaN or
     * infinite element: no code path (loader, converter, quantizer) ever sees a non-finite weight.
     */
    public ByteBuffer buffer(String name) throws ModelLoadException {
        SafetensorsFile f = byTensor.get(name);
        if (f == null) {
            throw ModelLoadException.forTensor(directory, name, "missing from the checkpoint");
        }
        ByteBuffer data = f.buffer(name);
        if (!finite.contains(name)) {
            FiniteWeights.require(f.path(), f.info(name), data);
            finite.add(name);
        }
        return data;
    }

    /**
     * Scans every float tensor now (each one once over this checkpoint's life), failing on the first
     * non-finite weight: {@code convert} calls it before it starts writing.
     */
    public void requireFinite() throws ModelLoadException {
        for (String name : byTensor.keySet()) {
            if (FiniteWeights.isFloat(info(name).dtype())) {
                buffer(name);
            }
        }
    }

    /**
     * Throws {@link ModelFilesChangedException} naming the file when a weight file is now shorter
     * than its mapped data (see {@link SafetensorsFile#checkIntact}).
     */
    public void checkIntact() {
        for (SafetensorsFile f : files) {
            f.checkIntact();
        }
    }

    /** Total number of elements (parameters) across all tensors. */
    public long elementCount() {
        long n = 0;
        for (SafetensorsFile f : files) {
            for (TensorInfo t : f.tensors().values()) {
                n += t.elementCount();
            }
        }
        return n;
    }

    /** Total bytes of tensor data across all files. */
    public long totalBytes() {
        long n = 0;
        for (SafetensorsFile f : files) {
            for (TensorInfo t : f.tensors().values()) {
                n += t.byteLength();
            }
        }
        return n;
    }

    @Override
    public void close() {
        files.forEach(SafetensorsFile::close);
    }
}
