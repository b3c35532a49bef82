package dev.qsparse.runtime.model;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The kept fraction (top-K ratio) of every projection input of an encoder, per layer: one for the
 * q/k/v input, the attention output's, the intermediate's and the output's. Read from the four
 * shared keys ({@code topk_ratio}, {@code topk_ratio_attn}, ...) and, per layer, from
 * {@value #KEY} (what {@code bin/qsparse calibrate} writes), whose entries override the shared
 * values for that layer. Immutable.
 */
public final class LayerTopK {

    /** config.json key: an array of one object per layer, keys {@code attn, attn_out, mlp, mlp_out}. */
    public static final String KEY = "topk_ratio_layers";

    /** A projection input of a layer. */
    public enum Group {
        ATTN("attn"),
        ATTN_OUT("attn_out"),
        MLP("mlp"),
        MLP_OUT("mlp_out");

        public final String key;

        Group(String key) {
            this.key = key;
        }
    }

    private static final Group[] GROUPS = Group.values();

    /** [layer][group] */
    private final double[][] ratios;

    private LayerTopK(double[][] ratios) {
        this.ratios = ratios;
    }

    /** Every layer at the same four fractions (in {@link Group} order). */
    public static LayerTopK uniform(int layers, double... shared) {
        if (shared.length != GROUPS.length) {
            throw new IllegalArgumentException("expected " + GROUPS.length + " ratios, got " + shared.length);
        }
        double[][] r = new double[layers][];
        for (int l = 0; l < layers; l++) {
            r[l] = checked(shared.clone());
        }
        return new LayerTopK(r);
    }

    /**
     * The shared fractions, overridden per layer by {@code c}'s {@value #KEY} when present: exactly
     * {@code layers} objects, each with only the four group keys, each a number in (0, 1].
     */
    static LayerTopK read(JsonNode c, int layers, double... shared) {
        LayerTopK base = uniform(layers, shared);
        JsonNode v = c.get(KEY);
        if (v == null || v.isNull()) {
            return base;
        }
        if (!v.isArray() || v.size() != layers) {
            throw new IllegalArgumentException(
                    "'" + KEY + "' must be an array of one object per layer (" + layers + "), got "
                            + (v.isArray()
                                    ? v.size() + " entries"
                                    : v.getNodeType().toString().toLowerCase()));
        }
        double[][] r = base.ratios;
        for (int l = 0; l < layers; l++) {
            JsonNode layer = v.get(l);
            if (!layer.isObject()) {
                throw new IllegalArgumentException("'" + KEY + "'[" + l + "] must be an object");
            }
            for (Iterator<String> it = layer.fieldNames(); it.hasNext(); ) {
                String name = it.next();
                Group g = group(name);
                if (g == null) {
                    throw new IllegalArgumentException("'" + KEY + "'[" + l + "]: unknown key '" + name
                            + "' (expected attn, attn_out, mlp, mlp_out)");
                }
                r[l][g.ordinal()] = ConfigReader.ratio(layer, name, 1.0, KEY + "[" + l + "]." + name);
            }
        }
        return base;
    }

    private static Group group(String key) {
        for (Group g : GROUPS) {
            if (g.key.equals(key)) {
                return g;
            }
        }
        return null;
    }

    private static double[] checked(double[] r) {
        for (double x : r) {
            if (!(x > 0 && x <= 1)) {
                throw new IllegalArgumentException("a top-K ratio must be in (0, 1], got " + x);
            }
        }
        return r;
    }

    public int layers() {
        return ratios.length;
    }

    public double ratio(int layer, Group g) {
        return ratios[layer][g.ordinal()];
    }

    /** A copy with one fraction changed. */
    public LayerTopK with(int layer, Group g, double ratio) {
        double[][] r = new double[ratios.length][];
        for (int l = 0; l < r.length; l++) {
            r[l] = ratios[l].clone();
        }
        r[layer][g.ordinal()] = ratio;
        checked(r[layer]);
        return new LayerTopK(r);
    }

    /** The {@value #KEY} value: one map per layer, group key to fraction (for a JSON writer). */
    public List<Map<String, Double>> toJson() {
        List<Map<String, Double>> out = new ArrayList<>();
        for (double[] layer : ratios) {
            Map<String, Double> m = new LinkedHashMap<>();
            for (Group g : GROUPS) {
                m.put(g.key, layer[g.ordinal()]);
            }
            out.add(m);
        }
        return out;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LayerTopK t && Arrays.deepEquals(ratios, t.ratios);
    }

    @Override
    public int hashCode() {
        return Arrays.deepHashCode(ratios);
    }

    @Override
    public String toString() {
        return KEY + "=" + toJson();
    }
}
