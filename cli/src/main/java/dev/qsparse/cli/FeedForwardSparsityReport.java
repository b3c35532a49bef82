package dev.qsparse.cli;

import dev.qsparse.runtime.model.FeedForwardSparsity;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The {@code ffn_sparsity} field of {@code score --ffn-sparsity}: per layer, the fractions of
 * exactly-zero and near-zero entries of h before the sparsifier ({@code pre_topk}) and at the
 * input of down_proj, in the layout training/ffn_sparsity.py prints.
 */
final class FeedForwardSparsityReport {

    private FeedForwardSparsityReport() {}

    static List<Map<String, Object>> of(FeedForwardSparsity counts) {
        List<Map<String, Object>> layers = new ArrayList<>();
        for (int l = 0; l < counts.layers(); l++) {
            long n = counts.entries(l);
            Map<String, Object> layer = new LinkedHashMap<>();
            layer.put("layer", l);
            layer.put(
                    "pre_topk", fractions(counts.exactZeroBeforeSparsifier(l), counts.nearZeroBeforeSparsifier(l), n));
            layer.put("down_proj_input", fractions(counts.exactZeroAtDownInput(l), counts.nearZeroAtDownInput(l), n));
            layers.add(layer);
        }
        return layers;
    }

    private static Map<String, Object> fractions(long exact, long near, long entries) {
        Map<String, Object> out = new LinkedHashMap<>();
        double n = Math.max(entries, 1);
        out.put("exact_zero", exact / n);
        out.put("near_zero", near / n);
        out.put("entries", entries);
        return out;
    }
}
