package dev.qsparse.flink;

import dev.qsparse.runtime.Model;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One loaded {@link Model} per model directory, shared by every task that asks for it: the
 * reference-counted registry that gives one copy of the weights per task manager.
 *
 * <p><b>Why per task manager.</b> The registry is a static of this class, so its scope is the class
 * loader that loaded the class. Flink gives all tasks of one job in one task manager the same
 * user-code class loader, so they find the same registry; tasks of the job in another task manager
 * (another JVM) have their own. If the operator's jar is on the task manager's own class path
 * (application mode with the job in {@code lib/}), the registry is per JVM: still one per task
 * manager, now shared across jobs, which is equally correct because entries are counted.
 *
 * <p><b>Why nothing survives a restart or leaks a class loader.</b> Each task takes one
 * {@link Lease} in {@code open()} and closes it in {@code close()}, which Flink calls on success,
 * failure and cancellation alike. When the last lease of a model is closed, the model is closed
 * and its entry removed, so when every task of a job has left a task manager the registry is empty:
 * it holds no {@code Model}, no thread and no reference into the user-code class loader, which can
 * then be collected. A restarted job starts from an empty registry and loads the model afresh (one
 * load per task manager again). The registry starts no threads and registers no shutdown hooks.
 *
 * <p><b>Keys.</b> A local directory's real path ({@link Path#toRealPath}), so that two spellings of one
 * directory (relative, through a symlink) share one model; a remote model's URI, so that the tasks
 * of a task manager share the one copy {@link ModelCache} made for the first of them (and a model
 * rewritten remotely while they run is not mixed into the same job's tasks).
 *
 * <p>Fetching into the cache, evicting from it and loading happen under the registry's lock, which
 * is what serialises the cache within a task manager (entries loaded here are never evicted): a second task asking for a model that is being
 * loaded waits for it instead of loading a second copy.
 */
public final class SharedModels {

    private static final Object LOCK = new Object();
    private static final Map<String, Entry> ENTRIES = new HashMap<>();
    private static long loads;
    private static long closes;

    private SharedModels() {}

    private static final class Entry {
        final String key;
        final Path directory;
        final Model model;
        final String version;
        int references;

        Entry(String key, Path directory, Model model, String version) {
            this.key = key;
            this.directory = directory;
            this.model = model;
            this.version = version;
        }
    }

    /** One task's hold on a shared model. Close it exactly once; later closes do nothing. */
    public static final class Lease implements AutoCloseable {
        private final Entry entry;
        private final long loadNanos;
        private final long bytesFetched;
        private final AtomicBoolean closed = new AtomicBoolean();

        private Lease(Entry entry, long loadNanos, long bytesFetched) {
            this.entry = entry;
            this.loadNanos = loadNanos;
            this.bytesFetched = bytesFetched;
        }

        public Model model() {
            if (closed.get()) {
                throw new IllegalStateException("lease on " + entry.key + " is closed");
            }
            return entry.model;
        }

        /** The local directory the model was loaded from (a cache entry for a remote model). */
        public Path path() {
            return entry.directory;
        }

        /** The registry key: the local real path, or the remote URI. */
        public String key() {
            return entry.key;
        }

        /** The version in the model's manifest, or null. */
        public String version() {
            return entry.version;
        }

        /** How long this task waited for the model: fetch and load, or the lookup when shared. */
        public long loadNanos() {
            return loadNanos;
        }

        /** Bytes this task's acquisition copied into the cache (0 when cached or shared). */
        public long bytesFetched() {
            return bytesFetched;
        }

        @Override
        public void close() {
            if (closed.compareAndSet(false, true)) {
                release(entry);
            }
        }
    }

    /**
     * Takes a reference to the local model in {@code directory}, loading it if no task holds it yet.
     *
     * @throws IOException the model cannot be loaded; the message names the directory and the cause
     */
    public static Lease acquire(Path directory) throws IOException {
        long start = System.nanoTime();
        Path key = realDirectory(directory);
        synchronized (LOCK) {
            Entry entry = ENTRIES.get(key.toString());
            if (entry == null) {
                String version = ModelManifest.localVersion(key);
                entry = new Entry(key.toString(), key, Model.load(key), version);
                loads++;
                ENTRIES.put(entry.key, entry);
            }
            entry.references++;
            return new Lease(entry, System.nanoTime() - start, 0);
        }
    }

    /**
     * Takes a reference to the model at {@code location}: a local one as {@link #acquire(Path)}, a
     * remote one copied into {@code cache} first unless a task here holds it already or the cache
     * has it.
     *
     * @throws IOException the model cannot be fetched or loaded; the message names the location,
     *                     the file and the cause
     */
    public static Lease acquire(ModelLocation location, ModelCache cache) throws IOException {
        if (!location.isRemote()) {
            return acquire(location.local());
        }
        long start = System.nanoTime();
        String key = location.remote().toString();
        synchronized (LOCK) {
            Entry entry = ENTRIES.get(key);
            long fetched = 0;
            if (entry == null) {
                Set<Path> inUse = new HashSet<>();
                for (Entry e : ENTRIES.values()) {
                    inUse.add(e.directory);
                }
                ModelCache.Fetched f = cache.fetch(location.remote(), inUse);
                Path dir = f.directory().toRealPath();
                entry = new Entry(key, dir, Model.load(dir), f.version());
                fetched = f.bytesFetched();
                loads++;
                ENTRIES.put(key, entry);
            }
            entry.references++;
            return new Lease(entry, System.nanoTime() - start, fetched);
        }
    }

    private static Path realDirectory(Path directory) throws IOException {
        Path key;
        try {
            key = directory.toRealPath();
        } catch (NoSuchFileException e) {
            throw new NoSuchFileException(
                    directory.toAbsolutePath().toString(), null, "model directory does not exist");
        }
        if (!Files.isDirectory(key)) {
            throw new IOException(directory.toAbsolutePath() + ": not a model directory");
        }
        return key;
    }

    private static void release(Entry entry) {
        synchronized (LOCK) {
            entry.references--;
            if (entry.references == 0) {
                ENTRIES.remove(entry.key);
                closes++;
                entry.model.close();
            }
        }
    }

    /** Current references to the local model in {@code directory} (0 when it is not loaded). */
    public static int references(Path directory) {
        Path key;
        try {
            key = directory.toRealPath();
        } catch (IOException e) {
            return 0;
        }
        return references(key.toString());
    }

    /** Current references to the model under {@code key} ({@link Lease#key}; 0 when not loaded). */
    public static int references(String key) {
        synchronized (LOCK) {
            Entry e = ENTRIES.get(key);
            return e == null ? 0 : e.references;
        }
    }

    /** References to all models. */
    public static int totalReferences() {
        synchronized (LOCK) {
            return ENTRIES.values().stream().mapToInt(e -> e.references).sum();
        }
    }

    /** Models currently loaded. */
    public static int loadedModels() {
        synchronized (LOCK) {
            return ENTRIES.size();
        }
    }

    /** Model loads performed since this class was loaded. */
    public static long loadCount() {
        synchronized (LOCK) {
            return loads;
        }
    }

    /** Models closed (last reference released) since this class was loaded. */
    public static long closeCount() {
        synchronized (LOCK) {
            return closes;
        }
    }
}
