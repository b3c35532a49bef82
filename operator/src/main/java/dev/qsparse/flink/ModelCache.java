package dev.qsparse.flink;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Stream;
import org.apache.flink.core.fs.FSDataInputStream;
import org.apache.flink.core.fs.FileStatus;
import org.apache.flink.core.fs.FileSystem;

/**
 * A task manager's local copies of remote models: a directory ({@code qsparse.model.cache.dir}) of
 * complete model directories, at most {@code qsparse.model.cache.max-size} bytes in all.
 *
 * <p><b>Copy.</b> A remote model (any scheme Flink has a {@link FileSystem} for) is copied into a
 * temporary directory next to its entry, each file's size and SHA-256 computed while it streams,
 * and checked against the model's {@link ModelManifest} when it has one; only then is the directory
 * renamed into place (atomic), so an entry that exists is complete: a crash mid-copy leaves only a
 * {@code .tmp-} directory, removed by the next copy into the cache.
 *
 * <p><b>Entries</b> are named by a SHA-256 of the location and the remote listing (each file's path,
 * size and modification time, and the manifest's bytes): a model rewritten at the same location gets
 * a new entry, and nothing hashes the weights to find one.
 *
 * <p><b>Bound.</b> Before a copy, least recently used entries (by the entry directory's modification
 * time, set at each use) are deleted until the new model fits, never one that {@link SharedModels}
 * holds loaded in this task manager. A model larger than the bound, or one that does not fit beside
 * the loaded ones, fails with a message naming the option.
 *
 * <p>The object holds no state: the directory is the state, and {@link SharedModels} serialises
 * fetches and evictions within a task manager. Give each task manager its own directory (the
 * default, under {@code java.io.tmpdir}, is shared by task managers of one host that share that
 * directory: two of them may evict an entry the other has mapped).
 */
public final class ModelCache {

    /** Deepest directory nesting copied from a model without a manifest. */
    static final int MAX_DEPTH = 8;

    private static final String TMP_PREFIX = ".tmp-";
    private static final int BUFFER = 1 << 20;

    private final Path root;
    private final long maxBytes;

    /** What one fetch did: the local directory and the bytes it copied (0 when already cached). */
    public record Fetched(Path directory, long bytesFetched, String version) {}

    public ModelCache(Path root, long maxBytes) {
        if (maxBytes <= 0) {
            throw new IllegalArgumentException(QSparseOptions.MODEL_CACHE_MAX_SIZE.key() + " must be positive");
        }
        this.root = root.toAbsolutePath();
        this.maxBytes = maxBytes;
    }

    public Path root() {
        return root;
    }

    /**
     * The local copy of the model at {@code remote}, copied now unless the cache has it.
     *
     * @param inUse entries loaded in this task manager: never evicted
     * @throws IOException the model cannot be listed or copied, a file does not match the manifest,
     *                     or it does not fit; the message names the file or the option
     */
    public Fetched fetch(URI remote, Set<Path> inUse) throws IOException {
        org.apache.flink.core.fs.Path base = new org.apache.flink.core.fs.Path(remote);
        FileSystem fs = FileSystem.get(remote);
        FileStatus status;
        try {
            status = fs.getFileStatus(base);
        } catch (FileNotFoundException e) {
            throw new NoSuchFileException(remote.toString(), null, "model directory does not exist");
        }
        if (!status.isDir()) {
            throw new IOException(remote + ": not a model directory");
        }
        ModelManifest manifest = null;
        byte[] manifestBytes = null;
        org.apache.flink.core.fs.Path manifestPath = new org.apache.flink.core.fs.Path(base, ModelManifest.FILE_NAME);
        if (fs.exists(manifestPath)) {
            manifestBytes = readBounded(fs, manifestPath, ModelManifest.MAX_BYTES);
            manifest = ModelManifest.parse(remote + "/" + ModelManifest.FILE_NAME, manifestBytes);
        }
        Map<String, FileStatus> files = manifest != null ? listed(fs, base, manifest) : walk(fs, base);
        if (!files.containsKey("config.json")) {
            throw new IOException(remote + ": no config.json"
                    + (manifest != null ? " listed in " + ModelManifest.FILE_NAME : "") + ", not a model directory");
        }
        long total = manifestBytes == null ? 0 : manifestBytes.length;
        for (FileStatus f : files.values()) {
            total += f.getLen();
        }
        if (total > maxBytes) {
            throw new IOException(remote + " holds " + total + " bytes, more than "
                    + QSparseOptions.MODEL_CACHE_MAX_SIZE.key() + " (" + maxBytes + " bytes)");
        }
        String version = manifest == null ? null : manifest.version();
        Files.createDirectories(root);
        Path entry = root.resolve(key(remote, files, manifestBytes));
        if (Files.isDirectory(entry)) {
            touch(entry);
            return new Fetched(entry, 0, version);
        }
        removeStaleTemporaries();
        makeRoom(total, inUse, remote);
        long usable = Files.getFileStore(root).getUsableSpace();
        if (usable < total) {
            throw new IOException("no room for " + remote + " (" + total + " bytes) in " + root + ": " + usable
                    + " bytes free on its file system (" + QSparseOptions.MODEL_CACHE_DIR.key() + ")");
        }
        Path tmp = root.resolve(TMP_PREFIX + entry.getFileName() + "-" + UUID.randomUUID());
        try {
            Files.createDirectory(tmp);
            long copied = 0;
            for (Map.Entry<String, FileStatus> f : files.entrySet()) {
                ModelManifest.Entry declared =
                        manifest == null ? null : manifest.files().get(f.getKey());
                copied += copy(fs, base, f.getKey(), f.getValue().getLen(), declared, tmp, remote);
            }
            if (manifestBytes != null) {
                Files.write(tmp.resolve(ModelManifest.FILE_NAME), manifestBytes);
            }
            try {
                Files.move(tmp, entry, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileAlreadyExistsException | DirectoryNotEmptyException raced) {
                // Another task manager sharing the directory copied it first: same key, same files.
                deleteTree(tmp);
                copied = 0;
            }
            touch(entry);
            return new Fetched(entry, copied, version);
        } catch (IOException | RuntimeException e) {
            deleteTree(tmp);
            throw e;
        }
    }

    /** Entries in the cache now, least recently used first. */
    List<Path> entries() throws IOException {
        if (!Files.isDirectory(root)) {
            return List.of();
        }
        List<Path> out = new ArrayList<>();
        try (Stream<Path> s = Files.list(root)) {
            s.filter(p -> !p.getFileName().toString().startsWith(".") && Files.isDirectory(p))
                    .forEach(out::add);
        }
        Map<Path, FileTime> times = new LinkedHashMap<>();
        for (Path p : out) {
            times.put(p, Files.getLastModifiedTime(p));
        }
        out.sort(Comparator.comparing(times::get));
        return out;
    }

    private void makeRoom(long needed, Set<Path> inUse, URI remote) throws IOException {
        List<Path> entries = entries();
        Map<Path, Long> sizes = new LinkedHashMap<>();
        long used = 0;
        for (Path p : entries) {
            long s = treeSize(p);
            sizes.put(p, s);
            used += s;
        }
        for (Path p : entries) {
            if (used + needed <= maxBytes) {
                return;
            }
            if (!inUse.contains(p.toRealPath())) {
                deleteTree(p);
                used -= sizes.get(p);
            }
        }
        if (used + needed > maxBytes) {
            throw new IOException("no room for " + remote + " (" + needed + " bytes) in the model cache " + root
                    + ": the models loaded now take " + used + " of " + QSparseOptions.MODEL_CACHE_MAX_SIZE.key()
                    + " (" + maxBytes + " bytes)");
        }
    }

    private void removeStaleTemporaries() throws IOException {
        // A copy in progress in another task manager is at most as old as a copy takes: a day is stale.
        long cutoff = System.currentTimeMillis() - 24L * 3600 * 1000;
        try (Stream<Path> s = Files.list(root)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                if (p.getFileName().toString().startsWith(TMP_PREFIX)
                        && Files.getLastModifiedTime(p).toMillis() < cutoff) {
                    deleteTree(p);
                }
            }
        }
    }

    private static long copy(
            FileSystem fs,
            org.apache.flink.core.fs.Path base,
            String relative,
            long listedSize,
            ModelManifest.Entry declared,
            Path tmp,
            URI remote)
            throws IOException {
        String name = remote + "/" + relative;
        long expected = declared != null ? declared.size() : listedSize;
        Path target = tmp.resolve(relative).normalize();
        if (!target.startsWith(tmp)) {
            throw new IOException(name + ": leaves the model directory");
        }
        Files.createDirectories(target.getParent());
        MessageDigest sha = sha256();
        long n = 0;
        try (FSDataInputStream in = fs.open(new org.apache.flink.core.fs.Path(base, relative));
                OutputStream out = Files.newOutputStream(target)) {
            byte[] buf = new byte[BUFFER];
            int r;
            while ((r = in.read(buf)) > 0) {
                // A cancelled task is interrupted: stop a copy of gigabytes instead of finishing it.
                if (Thread.currentThread().isInterrupted()) {
                    throw new InterruptedIOException("copy of " + name + " interrupted");
                }
                n += r;
                if (n > expected) {
                    throw new IOException(name + ": longer than the " + expected + " bytes "
                            + (declared != null ? "the manifest declares" : "listed (it changed while copied)"));
                }
                sha.update(buf, 0, r);
                out.write(buf, 0, r);
            }
        }
        if (n != expected) {
            throw new IOException(name + ": " + n + " bytes, but " + expected + " "
                    + (declared != null ? "declared in " + ModelManifest.FILE_NAME : "listed"));
        }
        if (declared != null) {
            String actual = HexFormat.of().formatHex(sha.digest());
            if (!actual.equals(declared.sha256())) {
                throw new IOException(name + ": SHA-256 " + actual + " does not match " + declared.sha256() + " in "
                        + ModelManifest.FILE_NAME + " (corrupted or replaced)");
            }
        }
        return n;
    }

    private static Map<String, FileStatus> listed(FileSystem fs, org.apache.flink.core.fs.Path base, ModelManifest m)
            throws IOException {
        Map<String, FileStatus> out = new LinkedHashMap<>();
        for (ModelManifest.Entry e : m.files().values()) {
            org.apache.flink.core.fs.Path p = new org.apache.flink.core.fs.Path(base, e.path());
            FileStatus s;
            try {
                s = fs.getFileStatus(p);
            } catch (FileNotFoundException missing) {
                throw new IOException(
                        base + "/" + e.path() + ": listed in " + ModelManifest.FILE_NAME + " but not there");
            }
            if (s.isDir()) {
                throw new IOException(
                        base + "/" + e.path() + ": a directory, listed in " + ModelManifest.FILE_NAME + " as a file");
            }
            if (s.getLen() != e.size()) {
                throw new IOException(base + "/" + e.path() + ": " + s.getLen() + " bytes, but " + e.size()
                        + " declared in " + ModelManifest.FILE_NAME);
            }
            out.put(e.path(), s);
        }
        return out;
    }

    private static Map<String, FileStatus> walk(FileSystem fs, org.apache.flink.core.fs.Path base) throws IOException {
        Map<String, FileStatus> out = new LinkedHashMap<>();
        walk(fs, base, "", 0, out);
        return out;
    }

    private static void walk(
            FileSystem fs, org.apache.flink.core.fs.Path dir, String prefix, int depth, Map<String, FileStatus> out)
            throws IOException {
        FileStatus[] children = fs.listStatus(dir);
        if (children == null) {
            return;
        }
        List<FileStatus> sorted = new ArrayList<>(List.of(children));
        sorted.sort(Comparator.comparing(s -> s.getPath().getName()));
        for (FileStatus s : sorted) {
            String name = s.getPath().getName();
            if (name.isEmpty() || name.equals(".") || name.equals("..") || name.contains("\\")) {
                throw new IOException(dir + ": an entry named '" + name + "' cannot be copied");
            }
            String relative = prefix + name;
            org.apache.flink.core.fs.Path child = new org.apache.flink.core.fs.Path(dir, name);
            if (s.isDir()) {
                if (depth + 1 >= MAX_DEPTH) {
                    throw new IOException(child + ": nested deeper than " + MAX_DEPTH + " directories");
                }
                walk(fs, child, relative + "/", depth + 1, out);
            } else {
                out.put(relative, s);
                if (out.size() > ModelManifest.MAX_FILES) {
                    throw new IOException(dir + ": more than " + ModelManifest.MAX_FILES + " files in the model");
                }
            }
        }
    }

    private static byte[] readBounded(FileSystem fs, org.apache.flink.core.fs.Path p, long max) throws IOException {
        try (InputStream in = fs.open(p)) {
            byte[] bytes = in.readNBytes((int) max + 1);
            if (bytes.length > max) {
                throw new IOException(p + ": larger than " + max + " bytes");
            }
            return bytes;
        }
    }

    private static String key(URI remote, Map<String, FileStatus> files, byte[] manifest) {
        MessageDigest sha = sha256();
        sha.update(remote.toString().getBytes(StandardCharsets.UTF_8));
        for (Map.Entry<String, FileStatus> f : files.entrySet()) {
            String line = "\n" + f.getKey() + "\t" + f.getValue().getLen() + "\t"
                    + f.getValue().getModificationTime();
            sha.update(line.getBytes(StandardCharsets.UTF_8));
        }
        if (manifest != null) {
            sha.update(manifest);
        }
        return HexFormat.of().formatHex(sha.digest(), 0, 16);
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JVM has no SHA-256", e);
        }
    }

    private static void touch(Path entry) throws IOException {
        Files.setLastModifiedTime(entry, FileTime.fromMillis(System.currentTimeMillis()));
    }

    private static long treeSize(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            long total = 0;
            for (Path p : (Iterable<Path>) s::iterator) {
                if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                    total += Files.size(p);
                }
            }
            return total;
        }
    }

    static void deleteTree(Path dir) {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) s.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            // Best effort: what is left is a .tmp- directory (removed later) or a smaller cache.
        }
    }
}
