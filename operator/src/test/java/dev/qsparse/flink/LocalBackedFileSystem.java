package dev.qsparse.flink;

import java.io.IOException;
import java.net.URI;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.flink.core.fs.FSDataInputStream;
import org.apache.flink.core.fs.FileSystem;
import org.apache.flink.core.fs.FileSystemFactory;
import org.apache.flink.core.fs.Path;
import org.apache.flink.core.fs.local.LocalFileSystem;

/**
 * Flink's own {@link LocalFileSystem} under a scheme that is not {@code file}
 * ({@value #SCHEME}{@code :///abs/dir}), so that the operator treats it as a remote store and goes
 * through Flink's {@link FileSystem} API, its factory lookup included: Flink finds
 * {@link Factory} through {@code META-INF/services/org.apache.flink.core.fs.FileSystemFactory},
 * as it finds the S3 and HDFS plugins' factories. Counts the files it opens, so tests can see how
 * often a model was read from the "remote" store.
 */
public final class LocalBackedFileSystem extends LocalFileSystem {

    public static final String SCHEME = "qsremote";

    /** Opens per file name (the last path segment), since the JVM started. */
    static final Map<String, AtomicInteger> OPENS = new ConcurrentHashMap<>();

    static int opens(String name) {
        AtomicInteger n = OPENS.get(name);
        return n == null ? 0 : n.get();
    }

    /** The remote URI of a local directory. */
    static String uriOf(java.nio.file.Path dir) {
        return SCHEME + "://" + dir.toAbsolutePath();
    }

    @Override
    public FSDataInputStream open(Path f) throws IOException {
        OPENS.computeIfAbsent(f.getName(), k -> new AtomicInteger()).incrementAndGet();
        return super.open(f);
    }

    @Override
    public FSDataInputStream open(Path f, int bufferSize) throws IOException {
        return open(f);
    }

    @Override
    public URI getUri() {
        return URI.create(SCHEME + ":///");
    }

    @Override
    public boolean isDistributedFS() {
        return true;
    }

    /** Registered through the service file; Flink asks it for every {@value #SCHEME} URI. */
    public static final class Factory implements FileSystemFactory {
        @Override
        public String getScheme() {
            return SCHEME;
        }

        @Override
        public FileSystem create(URI fsUri) {
            return new LocalBackedFileSystem();
        }
    }
}
