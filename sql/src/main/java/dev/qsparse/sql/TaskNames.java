package dev.qsparse.sql;

import dev.qsparse.runtime.inference.Task;
import java.util.Locale;

/**
 * The values of {@code 'task'}: this provider's names ({@code embed}, {@code generate},
 * {@code score}) and, where the meaning is the same, the task names of Flink's own model DDL
 * ({@code embedding}, {@code text_generation}), so a model definition written for another provider
 * reads the same here. Case does not matter, as for Flink's enum options.
 */
final class TaskNames {

    private TaskNames() {}

    static Task parse(String value) {
        String v = value == null ? "" : value.trim().toLowerCase(Locale.ROOT);
        switch (v) {
            case "embed":
            case "embedding":
                return Task.EMBED;
            case "generate":
            case "text_generation":
                return Task.GENERATE;
            case "score":
                return Task.SCORE;
            default:
                throw new IllegalArgumentException("'" + QSparseModelOptions.TASK.key() + "' = '" + value
                        + "' is not a task of this provider: embed (Flink's name: embedding), generate"
                        + " (text_generation) or score");
        }
    }
}
