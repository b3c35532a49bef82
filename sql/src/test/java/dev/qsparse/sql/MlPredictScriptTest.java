package dev.qsparse.sql;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.flink.table.api.TableEnvironment;
import org.junit.jupiter.api.Test;

/**
 * The documented SQL client script ({@code sql/examples/enrichment.sql}) as written: its settings,
 * Kafka tables and model are accepted, and its INSERT plans into an ML_PREDICT on the shipped demo
 * model (planning only; no broker is contacted).
 */
class MlPredictScriptTest {

    private static final Path SCRIPT = Path.of("examples/enrichment.sql");
    private static final Pattern SET = Pattern.compile("SET '([^']+)' = '([^']*)'");
    private static final Path DEMO_MODEL = Path.of("../models/qsparse-demo");

    /** The statements of a script: comments removed, split at ';'. */
    static List<String> statements(String script) {
        StringBuilder code = new StringBuilder();
        for (String line : script.split("\n")) {
            int comment = line.indexOf("--");
            code.append(comment >= 0 ? line.substring(0, comment) : line).append('\n');
        }
        List<String> out = new ArrayList<>();
        for (String s : code.toString().split(";")) {
            if (!s.isBlank()) {
                out.add(s.strip());
            }
        }
        return out;
    }

    @Test
    void theScriptPlansAsWritten() throws Exception {
        String script =
                Files.readString(SCRIPT).replace("'/opt/qsparse/models/qsparse-demo'", SqlModels.quoted(DEMO_MODEL));
        List<String> statements = statements(script);
        assertEquals(6, statements.size(), statements.toString());
        TableEnvironment tEnv = SqlModels.tableEnvironment();
        for (String s : statements.subList(0, statements.size() - 1)) {
            Matcher set = SET.matcher(s);
            if (set.matches()) {
                // A SQL client command, not a TableEnvironment statement: applied as the client does.
                tEnv.getConfig().set(set.group(1), set.group(2));
            } else {
                tEnv.executeSql(s);
            }
        }
        assertEquals(
                "32",
                tEnv.getConfig()
                        .get(org.apache.flink.configuration.ConfigOptions.key(
                                        "table.exec.async-ml-predict.max-concurrent-operations")
                                .stringType()
                                .noDefaultValue()));
        String plan = tEnv.explainSql(statements.get(statements.size() - 1));
        assertTrue(plan.contains("ML_PREDICT") || plan.contains("MLPredict"), plan);
        assertTrue(plan.contains("embedder"), plan);
    }
}
