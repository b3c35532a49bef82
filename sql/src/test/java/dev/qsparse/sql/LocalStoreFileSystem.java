package dev.qsparse.sql;

import java.net.URI;
import org.apache.flink.core.fs.FileSystem;
import org.apache.flink.core.fs.FileSystemFactory;
import org.apache.flink.core.fs.local.LocalFileSystem;

/**
 * Flink's {@link LocalFileSystem} under the scheme {@value #SCHEME} ({@code qsstore:///abs/dir}):
 * a store the provider must reach through Flink's FileSystem API, as it reaches S3 or HDFS. Flink
 * finds {@link Factory} through {@code META-INF/services/org.apache.flink.core.fs.FileSystemFactory}.
 */
public final class LocalStoreFileSystem extends LocalFileSystem {

    public static final String SCHEME = "qsstore";

    @Override
    public URI getUri() {
        return URI.create(SCHEME + ":///");
    }

    @Override
    public boolean isDistributedFS() {
        return true;
    }

    /** Registered through the service file. */
    public static final class Factory implements FileSystemFactory {
        @Override
        public String getScheme() {
            return SCHEME;
        }

        @Override
        public FileSystem create(URI fsUri) {
            return new LocalStoreFileSystem();
        }
    }
}
