package dev.qsparse.bench.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.qsparse.bench.EmbeddingModelPeer;
import dev.qsparse.bench.EmbeddingModelsBench;
import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.inference.InferenceRequest;
import dev.qsparse.runtime.inference.InferenceResult;
import dev.qsparse.runtime.inference.InferenceSession;
import dev.qsparse.runtime.model.RandomModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ONNX Runtime on the export of a tiny random Qwen3-Embedding directory (bf16 as published, GQA 2:1,
 * head_dim 16 with hidden 32 and 4 heads) embeds as our runtime does: cosine within 1e-4 of 1 on
 * every text, in a right-padded batch and alone (needs /usr/bin/python3 with torch to export).
 */
class OrtQwen3EmbedPeerTest {

    private static final List<String> TEXTS = List.of(
            "A man is eating food.",
            "Elinor's happiness was not so great, and her sister's was greater still.",
            "ok",
            "The quick brown fox jumps over the lazy dog, twice over.");

    @Test
    void embeddingsMatchOursOnTheSameIds(@TempDir Path tmp) throws Exception {
        assumeTrue(OnnxRuntimePeerTest.torch(), "/usr/bin/python3 cannot import torch");
        Path model = tmp.resolve("qwen3-embedding-tiny");
        RandomModels.writeQwen3(model, new RandomModels.Qwen3Shape(4096, 32, 4, 2, 16, 2, 48), 3, false);
        Files.copy(Path.of("../models/qsparse-demo/tokenizer.json"), model.resolve("tokenizer.json"));
        List<int[]> ids = EmbeddingModelsBench.tokenIds(model, TEXTS);
        float[][] ours = new float[TEXTS.size()][];
        try (Model m = Model.load(model);
                InferenceSession s = m.newSession()) {
            List<InferenceResult> results = s.run(
                    TEXTS.stream().map(t -> InferenceRequest.embed(t, null)).toList());
            for (int i = 0; i < ours.length; i++) {
                ours[i] = ((InferenceResult.Embedding) results.get(i)).vector();
            }
        }
        try (EmbeddingModelPeer ort = EmbeddingModelPeer.onnxRuntime(getClass().getClassLoader())) {
            String note = ort.open(model, tmp, "/usr/bin/python3", 1);
            assertTrue(note.startsWith(ort.engine() + " f32 on qwen3-embedding-tiny"), note);
            assertTrue(Files.isRegularFile(tmp.resolve("onnx/qwen3-embedding-tiny/embed.onnx")));
            float[][] batch = ort.embed(ids);
            assertEquals(TEXTS.size(), batch.length);
            for (int i = 0; i < TEXTS.size(); i++) {
                assertEquals(32, batch[i].length);
                float[] alone = ort.embed(List.of(ids.get(i)))[0];
                double c = cosine(ours[i], batch[i]);
                System.out.printf("text %d (%d tokens): cosine ORT batch vs ours %.8f%n", i, ids.get(i).length, c);
                assertTrue(c >= 1 - 1e-4, "batch, text " + i + ": cosine " + c);
                assertTrue(cosine(ours[i], alone) >= 1 - 1e-4, "alone, text " + i);
                assertEquals(1.0, norm(batch[i]), 1e-5, "L2-normalised, text " + i);
            }
            assertThrows(IllegalArgumentException.class, () -> ort.embed(List.of(new int[0])));
        }
    }

    private static double norm(float[] a) {
        double s = 0;
        for (float v : a) {
            s += (double) v * v;
        }
        return Math.sqrt(s);
    }

    private static double cosine(float[] a, float[] b) {
        double dot = 0;
        for (int i = 0; i < a.length; i++) {
            dot += (double) a[i] * b[i];
        }
        return dot / (norm(a) * norm(b));
    }
}
