package dev.qsparse.runtime.safetensors;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * The rules every file of a model directory is read by (config.json, tokenizer.json, the weights
 * and their index):
 * <ul>
 *   <li><b>Only regular files.</b> A FIFO (which would block the load forever), a device such as
 *       {@code /dev/zero} (endless), a socket or a directory fails with a message naming the file
 *       and what it is, before it is opened.
 *   <li><b>Symbolic links only inside the model directory.</b> A link (of the file or of a
 *       directory on its way) is followed only when its target resolves inside the model
 *       directory's real path; a link out of it fails without the target being opened (unless
 *       {@link #EXTERNAL_LINKS_PROPERTY} allows it for a trusted layout). A Hugging Face cache
 *       snapshot ({@code models--ORG--NAME/snapshots/REV}, beside {@code models--ORG--NAME/blobs})
 *       has its files as links to {@code ../../blobs/SHA}: there the links may lead anywhere
 *       inside the repository's cache root {@code models--ORG--NAME}, and still not out of it.
 *   <li><b>No read without a size bound.</b> {@link #readBounded} reads at most the given number
 *       of bytes, whatever the file claims or grows to.
 *   <li><b>Contents are never echoed in errors</b>: messages name the file, a position and the
 *       problem, never bytes of the file (a JSON error says line and column, not the token).
 * </ul>
 */
public final class ModelFiles {

    /** Largest config.json read (real ones are a few KB). */
    public static final long MAX_CONFIG_BYTES = 4L * 1024 * 1024;
    /** Largest model.safetensors.index.json read (real ones are well under 1 MB). */
    public static final long MAX_INDEX_BYTES = 64L * 1024 * 1024;
    /** Largest tokenizer.json read (the largest real ones are ~35 MB). */
    public static final long MAX_TOKENIZER_BYTES = 256L * 1024 * 1024;

    private ModelFiles() {}

    /**
     * Whether {@code file} is present: false when nothing (not even a dangling link) is there;
     * true when it is a regular file inside {@code modelDir}; a {@link ModelLoadException} naming
     * it when it is something else or a link out of the directory.
     */
    public static boolean isPresent(Path modelDir, Path file) throws ModelLoadException {
        if (!Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
            return false;
        }
        requireRegular(modelDir, file);
        return true;
    }

    /** Throws unless {@code file} is a regular file whose real path lies inside {@code modelDir}'s. */
    public static void requireRegular(Path modelDir, Path file) throws ModelLoadException {
        Path real;
        try {
            real = file.toRealPath();
        } catch (NoSuchFileException e) {
            throw ModelLoadException.forFile(
                    file,
                    Files.isSymbolicLink(file) ? "a symbolic link to a file that does not exist" : "file not found");
        } catch (IOException e) {
            throw ModelLoadException.forFile(
                    file, "cannot resolve: " + e.getClass().getSimpleName());
        }
        if (modelDir != null && !externalLinksAllowed()) {
            Path dir;
            try {
                dir = modelDir.toRealPath();
            } catch (IOException e) {
                throw ModelLoadException.forFile(modelDir, "cannot resolve the model directory");
            }
            Path cacheRoot = huggingFaceCacheRoot(dir);
            if (cacheRoot != null && !real.startsWith(cacheRoot)) {
                throw ModelLoadException.forFile(
                        file,
                        "a symbolic link that leads outside the Hugging Face cache root " + cacheRoot
                                + " of the snapshot " + modelDir + "; links are followed only inside it (-D"
                                + EXTERNAL_LINKS_PROPERTY + "=allow lifts this)");
            }
            if (cacheRoot == null && !real.startsWith(dir)) {
                throw ModelLoadException.forFile(
                        file,
                        "a symbolic link that leads outside the model directory "
                                + modelDir + "; links are followed only inside it (-D" + EXTERNAL_LINKS_PROPERTY
                                + "=allow lifts this for a trusted layout)");
            }
        }
        checkKind(file, real);
    }

    /**
     * System property that lifts the directory rule for links ({@code -Dqsparse.model.external-links=allow}),
     * for trusted layouts that link outside the model directory, such as a Hugging Face cache
     * snapshot ({@code snapshots/REV/model.safetensors -> ../../blobs/SHA}). Regular files only,
     * bounded reads and errors without contents still apply.
     */
    public static final String EXTERNAL_LINKS_PROPERTY = "qsparse.model.external-links";

    /**
     * The repository's cache root when {@code realDir} is a Hugging Face cache snapshot
     * ({@code ROOT/snapshots/REV} with a {@code ROOT/blobs} directory), else null.
     */
    static Path huggingFaceCacheRoot(Path realDir) {
        Path snapshots = realDir.getParent();
        if (snapshots == null
                || snapshots.getFileName() == null
                || !snapshots.getFileName().toString().equals("snapshots")) {
            return null;
        }
        Path root = snapshots.getParent();
        if (root == null || !Files.isDirectory(root.resolve("blobs"), LinkOption.NOFOLLOW_LINKS)) {
            return null;
        }
        return root;
    }

    static boolean externalLinksAllowed() {
        return "allow".equals(System.getProperty(EXTERNAL_LINKS_PROPERTY));
    }

    /** Throws unless {@code real} (the resolved {@code file}) is a regular file; no directory rule. */
    public static void requireRegularFile(Path file) throws ModelLoadException {
        Path real;
        try {
            real = file.toRealPath();
        } catch (NoSuchFileException e) {
            throw ModelLoadException.forFile(file, "file not found");
        } catch (IOException e) {
            throw ModelLoadException.forFile(
                    file, "cannot resolve: " + e.getClass().getSimpleName());
        }
        checkKind(file, real);
    }

    private static void checkKind(Path file, Path real) throws ModelLoadException {
        BasicFileAttributes attrs;
        try {
            attrs = Files.readAttributes(real, BasicFileAttributes.class);
        } catch (IOException e) {
            throw ModelLoadException.forFile(
                    file, "cannot read its attributes: " + e.getClass().getSimpleName());
        }
        if (!attrs.isRegularFile()) {
            throw ModelLoadException.forFile(file, "is " + kind(real, attrs) + ", not a regular file");
        }
    }

    /** "a directory", "a FIFO (named pipe)", "a character device", ... */
    static String kind(Path real, BasicFileAttributes attrs) {
        if (attrs.isDirectory()) {
            return "a directory";
        }
        try {
            int mode = (Integer) Files.getAttribute(real, "unix:mode");
            switch (mode & 0170000) {
                case 0010000:
                    return "a FIFO (named pipe)";
                case 0020000:
                    return "a character device";
                case 0060000:
                    return "a block device";
                case 0140000:
                    return "a socket";
                default:
                    break;
            }
        } catch (IOException | RuntimeException e) {
            // No unix view: say it generically.
        }
        return "a special file";
    }

    /**
     * The bytes of {@code file} (already checked by {@link #requireRegular}), at most
     * {@code maxBytes}: a longer file fails, naming the bound, after reading one byte past it.
     */
    public static byte[] readBounded(Path file, long maxBytes) throws ModelLoadException {
        try (InputStream in = Files.newInputStream(file)) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] chunk = new byte[64 * 1024];
            long total = 0;
            int n;
            while ((n = in.read(chunk, 0, (int) Math.min(chunk.length, maxBytes - total + 1))) > 0) {
                total += n;
                if (total > maxBytes) {
                    throw ModelLoadException.forFile(file, "larger than the " + maxBytes + "-byte limit for this file");
                }
                out.write(chunk, 0, n);
            }
            return out.toByteArray();
        } catch (ModelLoadException e) {
            throw e;
        } catch (IOException e) {
            throw ModelLoadException.forFile(
                    file, "cannot read: " + e.getClass().getSimpleName());
        }
    }

    /**
     * Parses {@code bytes} as exactly one JSON value (white space around it allowed), with
     * duplicate keys rejected. Errors name {@code file}, {@code what} ("header", or "" for the
     * whole file) and the position, never the offending text.
     */
    public static JsonNode parseJson(Path file, String what, byte[] bytes) throws ModelLoadException {
        String subject = what.isEmpty() ? "" : what + " ";
        try (JsonParser p = STRICT.getFactory().createParser(bytes)) {
            JsonNode root = STRICT.readTree(p);
            JsonLocation end = p.currentLocation();
            try {
                if (p.nextToken() != null) {
                    throw ModelLoadException.forFile(file, subject + "has data after its JSON value" + at(end));
                }
            } catch (JsonProcessingException trailing) {
                throw ModelLoadException.forFile(file, subject + "has data after its JSON value" + at(end));
            }
            return root;
        } catch (ModelLoadException e) {
            throw e;
        } catch (JsonProcessingException e) {
            throw ModelLoadException.forFile(file, subject + (subject.isEmpty() ? "" : "is ") + jsonError(e));
        } catch (IOException e) {
            throw ModelLoadException.forFile(
                    file, subject + "cannot be parsed: " + e.getClass().getSimpleName());
        }
    }

    private static final ObjectMapper STRICT = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private static String at(JsonLocation l) {
        return l == null ? "" : " (line " + l.getLineNr() + ", column " + l.getColumnNr() + ")";
    }

    /** "not valid JSON at line L, column C": where, never the offending text. */
    public static String jsonError(JsonProcessingException e) {
        JsonLocation at = e.getLocation();
        String where = at == null ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr();
        String msg = e.getOriginalMessage();
        if (msg != null && msg.startsWith("Trailing token")) {
            return "not valid JSON: data after the top-level JSON value" + where;
        }
        return "not valid JSON" + where;
    }
}
