package dev.qsparse.flink;

import dev.qsparse.runtime.Model;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
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
 * <p><b>Keys.</b> The directory's real path ({@link Path#toRealPath}), so that two spellings of one
 * directory (relative, through a symlink) share one model.
 *
 * <p>Loading happens under the registry's lock: a second task asking for a model that is being
 * loaded waits for it instead of loading a second copy.
 */
public final class SharedModels {

    private static final Object LOCK = new Object();
    private static final Map<Path, Entry> ENTRIES = new HashMap<>();
    private static long loads;
    private static long closes;

    private SharedModels() {}

    private static final class Entry {
        final Path key;
        final Model model;
        int references;

        Entry(Path key, Model model) {
            this.key = key;
            this.model = model;
        }
    }

    /** One task's hold on a shared model. Close it exactly once; later closes do nothing. */
    public static final class Lease implements AutoCloseable {
        private final Entry entry;
        private final AtomicBoolean closed = new AtomicBoolean();

        private Lease(Entry entry) {
            this.entry = entry;
        }

        public Model model() {
            if (closed.get()) {
                throw new IllegalStateException("lease on " + entry.key + " is closed");
            }
            return entry.model;
        }

        /** The real path the model was loaded from. */
        public Path path() {
            return entry.key;
        }

        @Override
        public void close() {
            if (closed.compareAndSet(false, true)) {
                release(entry);
            }
        }
    }

    /**
     * Takes a reference to the model in {@code directory}, loading it if no task holds it yet.
     *
     * @throws IOException the model cannot be loaded; the message names the directory and the cause
     */
    public static Lease acquire(Path directory) throws IOException {
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
        synchronized (LOCK) {
            Entry entry = ENTRIES.get(key);
            if (entry == null) {
                entry = new Entry(key, Model.load(key));
                loads++;
                ENTRIES.put(key, entry);
            }
            entry.references++;
            return new Lease(entry);
        }
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

    /** Current references to the model in {@code directory} (0 when it is not loaded). */
    public static int references(Path directory) {
        Path key;
        try {
            key = directory.toRealPath();
        } catch (IOException e) {
            return 0;
        }
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
