package dev.qsparse.bench.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.onnxruntime.OrtEnvironment;
import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.inference.InferenceSession;
import dev.qsparse.runtime.model.RandomModels;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The exported graphs against the Java runtime on the same random f32 weights (needs /usr/bin/python3 with torch). */
class OnnxRuntimePeerTest {

    static boolean torch() {
        try {
            Process p = new ProcessBuilder("/usr/bin/python3", "-c", "import torch")
                    .redirectErrorStream(true)
                    .start();
            p.getInputStream().readAllBytes();
            return p.waitFor() == 0;
        } catch (Exception e) {
            return false;
        }
    }

    @Test
    void logitsAndEmbeddingsMatchTheJavaRuntime(@TempDir Path tmp) throws Exception {
        assumeTrue(torch(), "/usr/bin/python3 cannot import torch");
        Path model = tmp.resolve("model");
        RandomModels.write(model, new RandomModels.Shape(300, 64, 4, 2, 96, 64), 5);
        OnnxRuntimePeer peer = new OnnxRuntimePeer();
        Path out = peer.export(model, tmp.resolve("onnx"), "/usr/bin/python3");
        for (int threads : new int[] {1, 2}) {
            try (OnnxRuntimePeer.Graphs g = new OnnxRuntimePeer.Graphs(OrtEnvironment.getEnvironment(), out, threads)) {
                double diff = g.logitParity(model, 12);
                System.out.printf("f32 graphs, %d thread(s): max |logit diff| vs Java f32 %.3e%n", threads, diff);
                assertTrue(diff <= OnnxRuntimePeer.PARITY_TOLERANCE, "max |logit diff| " + diff);
                int[][] ids = {{5, 9, 200, 17}, {3, 1, 4, 1, 5, 9, 2}};
                float[][] onnx = g.embeddings(ids);
                try (Model m = Model.load(model);
                        InferenceSession s = m.newSession()) {
                    for (int b = 0; b < ids.length; b++) {
                        float[][] hidden = s.hiddenStates(ids[b]);
                        for (int d = 0; d < hidden[0].length; d++) {
                            double mean = 0;
                            for (float[] row : hidden) {
                                mean += row[d];
                            }
                            assertEquals(mean / hidden.length, onnx[b][d], 1e-4, "embedding " + b + " dim " + d);
                        }
                    }
                }
            }
            try (OnnxRuntimePeer.Graphs g =
                    new OnnxRuntimePeer.Graphs(OrtEnvironment.getEnvironment(), out, threads, "int8")) {
                double diff = g.logitParity(model, 12);
                System.out.printf("int8 graphs, %d thread(s): max |logit diff| vs Java f32 %.3e%n", threads, diff);
                assertTrue(diff > 0 && diff < 0.5, "int8 max |logit diff| " + diff);
            }
        }
    }
}
