package dev.qsparse.flink;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Where a model lives, as given in {@code qsparse.model.path}, the job's {@code --model} or SQL's
 * {@code model-path}: a local directory (a plain path, or a {@code file:} URI) that is memory-mapped
 * in place, or a remote directory ({@code s3://bucket/models/m}, {@code hdfs://nn/m}, any scheme
 * Flink has a {@link org.apache.flink.core.fs.FileSystem} for) that is copied into the task
 * manager's {@link ModelCache} first.
 *
 * <p>Parsed as a string, never through {@link Path}: {@code Path.of("s3://b/m")} is the relative
 * local path {@code s3:/b/m}.
 */
public final class ModelLocation {

    /** Longest location accepted (longer ones are refused before anything is parsed). */
    public static final int MAX_CHARS = 4096;

    // RFC 3986 scheme followed by "://"; a single-letter scheme is left to the path (C:\...).
    private static final Pattern SCHEME = Pattern.compile("^([A-Za-z][A-Za-z0-9+.-]+):");

    private final String text;
    private final Path local;
    private final URI remote;

    private ModelLocation(String text, Path local, URI remote) {
        this.text = text;
        this.local = local;
        this.remote = remote;
    }

    /**
     * Parses {@code location}.
     *
     * @throws IllegalArgumentException blank, too long, or not a valid URI; the message names
     *                                  {@code key}
     */
    public static ModelLocation parse(String location, String key) {
        if (location == null || location.isBlank()) {
            throw new IllegalArgumentException(key + " is required");
        }
        if (location.length() > MAX_CHARS) {
            throw new IllegalArgumentException(
                    key + " is " + location.length() + " characters, over the limit of " + MAX_CHARS);
        }
        var m = SCHEME.matcher(location);
        if (!m.find()) {
            return new ModelLocation(location, Path.of(location), null);
        }
        URI uri;
        try {
            uri = new URI(location);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException(key + " = " + location + " is not a valid URI: " + e.getReason(), e);
        }
        String scheme = uri.getScheme().toLowerCase(Locale.ROOT);
        if (scheme.equals("file")) {
            if (uri.getPath() == null || uri.getPath().isEmpty()) {
                throw new IllegalArgumentException(key + " = " + location + ": a file URI needs an absolute path");
            }
            return new ModelLocation(location, Path.of(uri.getPath()), null);
        }
        if (uri.getPath() == null || uri.getPath().isEmpty() || uri.getPath().equals("/")) {
            throw new IllegalArgumentException(key + " = " + location + ": names no directory (a model is a directory: "
                    + scheme + "://.../model)");
        }
        return new ModelLocation(location, null, uri.normalize());
    }

    public boolean isRemote() {
        return remote != null;
    }

    /** The local directory; only for a local location. */
    public Path local() {
        if (local == null) {
            throw new IllegalStateException(text + " is remote");
        }
        return local;
    }

    /** The remote directory; only for a remote location. */
    public URI remote() {
        if (remote == null) {
            throw new IllegalStateException(text + " is local");
        }
        return remote;
    }

    /** The directory's own name: the last non-empty path segment. */
    public String lastSegment() {
        if (remote == null) {
            Path p = local.normalize().getFileName();
            return p == null ? text : p.toString();
        }
        String path = remote.getPath();
        int end = path.length();
        while (end > 1 && path.charAt(end - 1) == '/') {
            end--;
        }
        return path.substring(path.lastIndexOf('/', end - 1) + 1, end);
    }

    @Override
    public String toString() {
        return remote != null ? remote.toString() : local.toAbsolutePath().toString();
    }
}
