package dev.qsparse.sql;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qsparse.flink.EnrichedEvent;
import dev.qsparse.flink.QSparseEnrichment;
import dev.qsparse.runtime.inference.Task;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.RuntimeExecutionMode;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ExecutionOptions;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.types.Row;
import org.apache.flink.util.CloseableIterator;

/** The test model, texts, table environments and the DataStream operator's results for comparison. */
final class SqlModels {

    /** The runtime's random-weight test model (48-dim, BPE tokenizer, context 128). */
    static final Path MODEL = Path.of("../model-runtime/src/test/resources/test-model");

    static final String[] TEXTS = {
        "The stream carries a sentence to the model.",
        "Elinor's happiness was not so great.",
        "A sparse network skips the zero activations.",
        "Every event comes out exactly once.",
        "Flink checkpoints the records still in flight.",
        "Short.",
        "It is a truth universally acknowledged",
        "The quick brown fox jumps over the lazy dog, twice over.",
        "Tables and streams are two views of one thing.",
        "Q-Sparse keeps only the largest activations.",
        "Ein Satz auf Deutsch.",
        "1, 2, 3, 4, 5, 6, 7, 8, 9, 10",
    };

    private static final ObjectMapper JSON = new ObjectMapper();

    private SqlModels() {}

    /** A streaming table environment on the test's mini cluster, parallelism 1. */
    static TableEnvironment tableEnvironment() {
        TableEnvironment tEnv = TableEnvironment.create(
                EnvironmentSettings.newInstance().inStreamingMode().build());
        tEnv.getConfig().set("parallelism.default", "1");
        return tEnv;
    }

    /** Registers {@code docs(id STRING, text STRING)} holding {@link #TEXTS} with ids d0, d1, .... */
    static void registerDocs(TableEnvironment tEnv) {
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < TEXTS.length; i++) {
            rows.add(Row.of("d" + i, TEXTS[i]));
        }
        tEnv.createTemporaryView(
                "docs",
                tEnv.fromValues(
                        DataTypes.ROW(
                                DataTypes.FIELD("id", DataTypes.STRING()), DataTypes.FIELD("text", DataTypes.STRING())),
                        rows));
    }

    static String quoted(Path p) {
        return "'" + p.toAbsolutePath().normalize() + "'";
    }

    /** All rows of a query, by the value of its first column. */
    static Map<String, Row> collectById(TableEnvironment tEnv, String query) throws Exception {
        Map<String, Row> out = new HashMap<>();
        try (CloseableIterator<Row> it = tEnv.executeSql(query).collect()) {
            while (it.hasNext()) {
                Row r = it.next();
                out.put((String) r.getField(0), r);
            }
        }
        return out;
    }

    /** What the DataStream operator (QSparseEnrichment, async, micro-batched) gives for {@link #TEXTS}. */
    static Map<String, EnrichedEvent> operatorResults(Task task, int maxNewTokens) throws Exception {
        Configuration conf = new Configuration();
        conf.set(ExecutionOptions.RUNTIME_MODE, RuntimeExecutionMode.STREAMING);
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
        env.setParallelism(1);
        List<byte[]> events = new ArrayList<>();
        for (int i = 0; i < TEXTS.length; i++) {
            ObjectNode o = JSON.createObjectNode();
            o.put("id", "d" + i);
            o.put("text", TEXTS[i]);
            events.add(JSON.writeValueAsBytes(o));
        }
        DataStream<byte[]> in = env.fromData(events, QSparseEnrichment.BYTES);
        QSparseEnrichment enrichment = QSparseEnrichment.builder()
                .modelPath(MODEL.toString())
                .mode(task)
                .maxNewTokens(maxNewTokens)
                .build();
        Map<String, EnrichedEvent> out = new HashMap<>();
        try (CloseableIterator<EnrichedEvent> it =
                enrichment.apply(in).enriched().executeAndCollect()) {
            while (it.hasNext()) {
                EnrichedEvent e = it.next();
                out.put(e.id, e);
            }
        }
        return out;
    }
}
