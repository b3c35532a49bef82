package dev.qsparse.cli;

import dev.qsparse.runtime.inference.InferenceRequest;
import dev.qsparse.runtime.inference.InferenceResult;
import dev.qsparse.runtime.inference.InferenceSession;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Runs checked inputs through one session a micro-batch at a time and prints one JSON object per
 * input as its batch is done, in input order: the input's origin ({@code "line"}, {@code "id"})
 * followed by the command's fields for the result. A batch's results are those of each request run
 * alone ({@link InferenceSession#run(List)}), so the batch size changes speed, never output.
 */
final class BatchRun {

    private BatchRun() {}

    /**
     * @param requests one per record, same order
     * @param fields   a result's JSON fields (the same the single-input form of the command prints)
     * @throws IllegalArgumentException for an input the model cannot serve, naming its line (the
     *     results before it are already printed)
     */
    static void run(
            InferenceSession session,
            List<InputRecord> records,
            List<InferenceRequest> requests,
            int batch,
            Function<InferenceResult, Map<String, Object>> fields)
            throws IOException {
        for (int from = 0; from < records.size(); from += batch) {
            int to = Math.min(records.size(), from + batch);
            List<InferenceResult> results = session.run(requests.subList(from, to));
            for (int k = 0; k < results.size(); k++) {
                InputRecord record = records.get(from + k);
                if (results.get(k) instanceof InferenceResult.Failure f) {
                    throw record.error(f.reason());
                }
                Map<String, Object> out = new LinkedHashMap<>();
                record.putOrigin(out);
                out.putAll(fields.apply(results.get(k)));
                Json.print(out);
            }
        }
    }
}
