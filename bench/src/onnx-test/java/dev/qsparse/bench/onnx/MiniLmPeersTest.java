package dev.qsparse.bench.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qsparse.bench.EmbedEngine;
import dev.qsparse.bench.EmbedTable;
import dev.qsparse.bench.QSparseEmbedEngine;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The engines of the MiniLM embed table compute the same model: ours f32, ONNX Runtime on the
 * export and langchain4j (its DJL tokenizer, offline: the native library comes in its jar) agree
 * to cosine 0.9999 on every text, alone and in a batch; the table has a row per engine.
 */
class MiniLmPeersTest {

    private static final List<String> TEXTS = List.of(
            "A man is eating food.",
            "Elinor's happiness was not so great.",
            "The quick brown fox jumps over the lazy dog, twice over.",
            "Ein Mann isst Brot.");

    @Test
    void everyEngineEmbedsLikeOnnxRuntime(@TempDir Path tmp) throws Exception {
        MiniLmPeers peers = new MiniLmPeers();
        Path dir = peers.minilmDirectory(tmp.resolve("all-MiniLM-L6-v2"));
        List<String> notes = new ArrayList<>();
        List<EmbedEngine> engines = new ArrayList<>();
        try {
            engines.add(new QSparseEmbedEngine("qsparse f32", dir, 1));
            engines.addAll(peers.engines(1, notes));
            assertEquals(4, engines.size());
            EmbedEngine ort = engines.get(1);
            List<float[]> want = ort.embed(TEXTS);
            for (EmbedEngine e : engines) {
                List<float[]> batch = e.embed(TEXTS);
                for (int i = 0; i < TEXTS.size(); i++) {
                    float[] alone = e.embed(List.of(TEXTS.get(i))).get(0);
                    assertTrue(cosine(want.get(i), batch.get(i)) >= 0.9999, e.name() + ": " + TEXTS.get(i));
                    assertTrue(cosine(alone, batch.get(i)) >= 0.99999, e.name() + " alone: " + TEXTS.get(i));
                }
            }
            List<EmbedTable.Row> rows = EmbedTable.run(engines, ort, TEXTS, new int[] {1, 2}, 1, System.err);
            String table =
                    EmbedTable.markdown(rows, new int[] {1, 2}, engines.get(2).name(), ort.name());
            for (EmbedEngine e : engines) {
                assertTrue(table.contains("| " + e.name() + " |"), table);
            }
            assertEquals(2, notes.size());
        } finally {
            for (EmbedEngine e : engines) {
                e.close();
            }
        }
    }

    private static double cosine(float[] a, float[] b) {
        double dot = 0;
        double na = 0;
        double nb = 0;
        for (int i = 0; i < a.length; i++) {
            dot += (double) a[i] * b[i];
            na += (double) a[i] * a[i];
            nb += (double) b[i] * b[i];
        }
        return dot / Math.sqrt(na * nb);
    }
}
