package dev.qsparse.flink;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qsparse.runtime.safetensors.ModelFiles;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A model directory's optional {@value #FILE_NAME}: the files that make up the model, each with its
 * size and SHA-256, and an optional version. When a remote model has one, exactly the files it lists
 * are copied into the {@link ModelCache}, and each is checked against its size and digest while it is
 * copied; without one, every file of the directory is copied unchecked.
 *
 * <pre>{@code
 * {
 *   "format": 1,
 *   "version": "2026-12-01",
 *   "files": [
 *     {"path": "config.json", "size": 812, "sha256": "<64 lowercase hex>"},
 *     {"path": "1_Pooling/config.json", "size": 297, "sha256": "..."}
 *   ]
 * }
 * }</pre>
 *
 * <p>Paths are relative, with {@code /} between segments, and never leave the directory (no
 * {@code ..}, {@code .}, empty or absolute segments, no backslash). Bounds: the file at most
 * {@value #MAX_BYTES} bytes, {@value #MAX_FILES} files, a version of at most
 * {@value #MAX_VERSION_CHARS} characters. The digests are written once, when the model is
 * published ({@code sha256sum}), and never computed again at load except while copying.
 */
public final class ModelManifest {

    public static final String FILE_NAME = "qsparse-manifest.json";
    public static final long MAX_BYTES = 1024 * 1024;
    public static final int MAX_FILES = 4096;
    public static final int MAX_VERSION_CHARS = 128;

    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
    private static final Pattern SEGMENT = Pattern.compile("[^/\\\\\\x00]+");

    /** Declared size and digest of one file. */
    public record Entry(String path, long size, String sha256) {}

    private final String version;
    private final Map<String, Entry> files;

    private ModelManifest(String version, Map<String, Entry> files) {
        this.version = version;
        this.files = files;
    }

    /** The model's version, or null when the manifest has none. */
    public String version() {
        return version;
    }

    /** The listed files by relative path, in manifest order. */
    public Map<String, Entry> files() {
        return files;
    }

    /**
     * Parses a manifest already read with the {@link #MAX_BYTES} bound; {@code source} names it in
     * errors.
     *
     * @throws IllegalArgumentException the manifest breaks a rule; the message names the source,
     *                                  the entry and the rule
     */
    public static ModelManifest parse(String source, byte[] bytes) {
        if (bytes.length > MAX_BYTES) {
            throw new IllegalArgumentException(source + ": larger than " + MAX_BYTES + " bytes");
        }
        JsonNode root;
        try {
            root = ModelFiles.parseJson(Path.of(FILE_NAME), "", bytes);
        } catch (Exception e) {
            throw new IllegalArgumentException(source + ": " + e.getMessage(), e);
        }
        if (!root.isObject()) {
            throw new IllegalArgumentException(source + ": not a JSON object");
        }
        JsonNode format = root.get("format");
        if (format == null || !format.isInt() || format.intValue() != 1) {
            throw new IllegalArgumentException(source + ": \"format\" must be 1");
        }
        String version = null;
        JsonNode v = root.get("version");
        if (v != null && !v.isNull()) {
            if (!v.isTextual() || v.textValue().isBlank() || v.textValue().length() > MAX_VERSION_CHARS) {
                throw new IllegalArgumentException(source + ": \"version\" must be a non-blank string of at most "
                        + MAX_VERSION_CHARS + " characters");
            }
            version = v.textValue();
        }
        JsonNode list = root.get("files");
        if (list == null || !list.isArray() || list.isEmpty()) {
            throw new IllegalArgumentException(source + ": \"files\" must be a non-empty array");
        }
        if (list.size() > MAX_FILES) {
            throw new IllegalArgumentException(
                    source + ": lists " + list.size() + " files, over the limit of " + MAX_FILES);
        }
        Map<String, Entry> files = new LinkedHashMap<>();
        for (int i = 0; i < list.size(); i++) {
            JsonNode f = list.get(i);
            String where = source + ": files[" + i + "]";
            if (!f.isObject()) {
                throw new IllegalArgumentException(where + " is not an object");
            }
            JsonNode p = f.get("path");
            JsonNode s = f.get("size");
            JsonNode h = f.get("sha256");
            if (p == null || !p.isTextual()) {
                throw new IllegalArgumentException(where + ": \"path\" must be a string");
            }
            String path = p.textValue();
            checkPath(where, path);
            if (s == null || !s.canConvertToLong() || !s.isIntegralNumber() || s.longValue() < 0) {
                throw new IllegalArgumentException(where + " (" + path + "): \"size\" must be a non-negative integer");
            }
            if (h == null || !h.isTextual() || !SHA256.matcher(h.textValue()).matches()) {
                throw new IllegalArgumentException(
                        where + " (" + path + "): \"sha256\" must be 64 lowercase hexadecimal digits");
            }
            if (files.put(path, new Entry(path, s.longValue(), h.textValue())) != null) {
                throw new IllegalArgumentException(where + ": " + path + " is listed twice");
            }
        }
        return new ModelManifest(version, Collections.unmodifiableMap(files));
    }

    /**
     * The version in the manifest of the local model directory {@code dir}, or null when it has no
     * manifest or the manifest no version. Reads only the manifest (bounded), never the weights.
     *
     * @throws IOException the manifest cannot be read or breaks a rule; the message names it
     */
    public static String localVersion(Path dir) throws IOException {
        Path file = dir.resolve(FILE_NAME);
        if (!ModelFiles.isPresent(dir, file)) {
            return null;
        }
        byte[] bytes = ModelFiles.readBounded(file, MAX_BYTES);
        try {
            return parse(file.toString(), bytes).version();
        } catch (IllegalArgumentException e) {
            throw new IOException(e.getMessage(), e);
        }
    }

    /**
     * Writes {@code dir}'s manifest: every regular file under it (links followed to their files, as
     * a Hugging Face snapshot has them), at most {@value #MAX_FILES} files, 8 levels deep, with its
     * size and SHA-256; written to a temporary file and renamed into place. Returns its text.
     *
     * @throws IOException a file cannot be read, or the directory breaks a bound; the message names it
     */
    public static String write(Path dir, String version) throws IOException {
        if (version != null && (version.isBlank() || version.length() > MAX_VERSION_CHARS)) {
            throw new IllegalArgumentException(
                    "a version is a non-blank string of at most " + MAX_VERSION_CHARS + " characters");
        }
        List<Path> files = new ArrayList<>();
        try (Stream<Path> s = Files.walk(dir, ModelCache.MAX_DEPTH)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                String rel = dir.relativize(p).toString().replace(File.separatorChar, '/');
                if (Files.isRegularFile(p) && !rel.equals(FILE_NAME) && !rel.startsWith(FILE_NAME + ".")) {
                    files.add(p);
                    if (files.size() > MAX_FILES) {
                        throw new IOException(dir + ": more than " + MAX_FILES + " files");
                    }
                }
            }
        }
        files.sort(Comparator.comparing(p -> dir.relativize(p).toString()));
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode();
        root.put("format", 1);
        if (version != null) {
            root.put("version", version);
        }
        ArrayNode list = root.putArray("files");
        for (Path p : files) {
            MessageDigest sha;
            try {
                sha = MessageDigest.getInstance("SHA-256");
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
            long size = 0;
            try (InputStream in = Files.newInputStream(p)) {
                byte[] buf = new byte[1 << 20];
                int r;
                while ((r = in.read(buf)) > 0) {
                    sha.update(buf, 0, r);
                    size += r;
                }
            }
            list.addObject()
                    .put("path", dir.relativize(p).toString().replace(File.separatorChar, '/'))
                    .put("size", size)
                    .put("sha256", HexFormat.of().formatHex(sha.digest()));
        }
        String text = json.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n";
        parse(dir.resolve(FILE_NAME).toString(), text.getBytes(StandardCharsets.UTF_8));
        Path tmp = dir.resolve(FILE_NAME + ".tmp");
        Files.writeString(tmp, text);
        Files.move(tmp, dir.resolve(FILE_NAME), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        return text;
    }

    private static void checkPath(String where, String path) {
        if (path.isEmpty() || path.length() > 1024 || path.startsWith("/") || path.equals(FILE_NAME)) {
            throw new IllegalArgumentException(where + ": \"path\" must be a relative path of at most 1024"
                    + " characters, other than the manifest itself");
        }
        for (String segment : path.split("/", -1)) {
            if (!SEGMENT.matcher(segment).matches() || segment.equals(".") || segment.equals("..")) {
                throw new IllegalArgumentException(
                        where + ": \"path\" " + path + " has an empty, '.', '..' or backslash segment");
            }
        }
    }
}
