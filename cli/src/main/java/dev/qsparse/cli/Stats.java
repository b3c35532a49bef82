package dev.qsparse.cli;

import dev.qsparse.runtime.inference.InferenceResult;
import java.util.Map;

/** The statistics fields every command's JSON carries. */
final class Stats {

    private Stats() {}

    static void put(Map<String, Object> out, InferenceResult.Stats stats) {
        out.put("input_tokens", stats.inputTokens());
        out.put("input_truncated", stats.inputTruncated());
        out.put("activation_sparsity", stats.activationSparsity());
        out.put("millis", stats.nanos() / 1e6);
    }
}
