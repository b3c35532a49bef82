package dev.qsparse.runtime.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.qsparse.runtime.kernel.FloatView;
import dev.qsparse.runtime.safetensors.DType;
import dev.qsparse.runtime.safetensors.ModelFiles;
import dev.qsparse.runtime.safetensors.ModelLoadException;
import dev.qsparse.runtime.safetensors.SafetensorsFile;
import dev.qsparse.runtime.safetensors.TensorInfo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;

/**
 * A centre for every projection input of an encoder: top-K drops the smallest {@code |x_i - c_i|}
 * instead of the smallest {@code |x_i|}, so what a dropped input costs is its distance from a
 * typical value, not from zero. The product runs on {@code x - c} (where the zeros are) and
 * {@code W c} is folded into the bias: with nothing dropped the output is unchanged. An encoder's
 * inputs sit far from zero per channel (LayerNorm's bias, GELU's floor), which is why this keeps
 * more of the embedding at the same sparsity. {@code bin/qsparse calibrate} writes the per-channel
 * medians of a corpus's dense pass.
 *
 * <p>Stored beside the weights in the file that config.json's {@value #KEY} names: one F32 vector
 * per layer and group, {@code layers.L.attn} (hidden), {@code .attn_out} (hidden), {@code .mlp}
 * (hidden), {@code .mlp_out} (intermediate); every one present, nothing else, every value finite.
 * Immutable.
 */
public final class TopKCentres {

    /** config.json key: the centres' file name, inside the model directory. */
    public static final String KEY = "topk_centres";

    /** The file name {@code bin/qsparse calibrate} writes. */
    public static final String DEFAULT_FILE = "topk_centres.safetensors";

    private static final LayerTopK.Group[] GROUPS = LayerTopK.Group.values();

    /** [layer][group ordinal] */
    private final float[][][] centres;

    private TopKCentres(float[][][] centres) {
        this.centres = centres;
    }

    /** Centres given per layer and group (copied); widths checked against the model's. */
    public static TopKCentres of(float[][][] centres, int hidden, int intermediate) {
        float[][][] copy = new float[centres.length][GROUPS.length][];
        for (int l = 0; l < centres.length; l++) {
            if (centres[l].length != GROUPS.length) {
                throw new IllegalArgumentException(
                        "layer " + l + ": " + centres[l].length + " centres, expected " + GROUPS.length);
            }
            for (LayerTopK.Group g : GROUPS) {
                float[] c = centres[l][g.ordinal()];
                int width = width(g, hidden, intermediate);
                if (c.length != width) {
                    throw new IllegalArgumentException(name(l, g) + ": " + c.length + " values, expected " + width);
                }
                for (float v : c) {
                    if (!Float.isFinite(v)) {
                        throw new IllegalArgumentException(name(l, g) + ": a value is not finite");
                    }
                }
                copy[l][g.ordinal()] = c.clone();
            }
        }
        return new TopKCentres(copy);
    }

    /** The width of {@code g}'s input. */
    static int width(LayerTopK.Group g, int hidden, int intermediate) {
        return g == LayerTopK.Group.MLP_OUT ? intermediate : hidden;
    }

    /** The tensor name of one centre. */
    static String name(int layer, LayerTopK.Group g) {
        return "layers." + layer + "." + g.key;
    }

    /**
     * The centres config.json {@code c} names under {@value #KEY}, read from {@code dir}; null when
     * the key is absent. The name must be a plain file name (no directory part).
     */
    static TopKCentres read(JsonNode c, Path dir, int layers, int hidden, int intermediate) throws ModelLoadException {
        JsonNode v = c.get(KEY);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isTextual()) {
            throw new IllegalArgumentException("'" + KEY + "' must be a file name, got " + v.getNodeType());
        }
        String file = v.asText();
        if (file.isEmpty()
                || file.length() > 255
                || file.contains("/")
                || file.contains("\\")
                || file.equals(".")
                || file.equals("..")
                || file.indexOf('\0') >= 0) {
            throw new IllegalArgumentException(
                    "'" + KEY + "' must be a plain file name inside the model directory (no directory part)");
        }
        Path path = dir.resolve(file);
        if (!ModelFiles.isPresent(dir, path)) {
            throw ModelLoadException.forFile(path, "missing: config.json's '" + KEY + "' names it");
        }
        try (SafetensorsFile f = SafetensorsFile.open(path)) {
            Set<String> expected = new HashSet<>();
            float[][][] centres = new float[layers][GROUPS.length][];
            for (int l = 0; l < layers; l++) {
                for (LayerTopK.Group g : GROUPS) {
                    String name = name(l, g);
                    expected.add(name);
                    TensorInfo info = f.info(name);
                    if (info == null) {
                        throw ModelLoadException.forTensor(path, name, "missing (one centre per layer and group)");
                    }
                    int width = width(g, hidden, intermediate);
                    if (info.dtype() != DType.F32 || !Arrays.equals(info.shape(), new long[] {width})) {
                        throw ModelLoadException.forTensor(
                                path,
                                name,
                                info.dtype() + Arrays.toString(info.shape()) + ", expected F32[" + width + "]");
                    }
                    float[] values = FloatView.of(f.buffer(name), DType.F32).toArray();
                    for (float x : values) {
                        if (!Float.isFinite(x)) {
                            throw ModelLoadException.forTensor(path, name, "a value is not finite");
                        }
                    }
                    centres[l][g.ordinal()] = values;
                }
            }
            for (String name : f.tensors().keySet()) {
                if (!expected.contains(name)) {
                    throw ModelLoadException.forTensor(
                            path,
                            name,
                            "not a centre of this model (expected layers.L."
                                    + "{attn,attn_out,mlp,mlp_out} for L below " + layers + ")");
                }
            }
            return new TopKCentres(centres);
        }
    }

    /** Writes the centres as {@link #read} reads them. */
    public void write(Path file) throws IOException {
        SafetensorsWriter w = new SafetensorsWriter();
        for (int l = 0; l < centres.length; l++) {
            for (LayerTopK.Group g : GROUPS) {
                float[] c = centres[l][g.ordinal()];
                w.add(name(l, g), "F32", new long[] {c.length}, 4L * c.length, () -> {
                    ByteBuffer b = ByteBuffer.allocate(4 * c.length).order(ByteOrder.LITTLE_ENDIAN);
                    b.asFloatBuffer().put(c);
                    return b;
                });
            }
        }
        w.write(file);
    }

    public int layers() {
        return centres.length;
    }

    /** Throws {@link IllegalArgumentException} naming the first layer or centre that does not fit the model. */
    void check(int layers, int hidden, int intermediate) {
        if (centres.length != layers) {
            throw new IllegalArgumentException(
                    "top-K centres for " + centres.length + " layers, the model has " + layers);
        }
        for (int l = 0; l < layers; l++) {
            for (LayerTopK.Group g : GROUPS) {
                int width = width(g, hidden, intermediate);
                if (centres[l][g.ordinal()].length != width) {
                    throw new IllegalArgumentException("top-K centre " + name(l, g) + ": "
                            + centres[l][g.ordinal()].length + " values, the input is " + width + " wide");
                }
            }
        }
    }

    /** The centre of {@code g}'s input in {@code layer} (not to be modified). */
    float[] centre(int layer, LayerTopK.Group g) {
        return centres[layer][g.ordinal()];
    }

    /** A copy of one centre. */
    public float[] copyOf(int layer, LayerTopK.Group g) {
        return centre(layer, g).clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TopKCentres t && Arrays.deepEquals(centres, t.centres);
    }

    @Override
    public int hashCode() {
        return Arrays.deepHashCode(centres);
    }
}
