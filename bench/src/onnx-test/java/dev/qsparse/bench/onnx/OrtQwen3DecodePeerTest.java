package dev.qsparse.bench.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.onnxruntime.OrtEnvironment;
import dev.qsparse.bench.GenerationPeer;
import dev.qsparse.runtime.model.RandomModels;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ONNX Runtime on the decoder export of a tiny random Qwen3 directory (bf16 as published, GQA 2:1,
 * head_dim 16 with hidden 32 and 4 heads, tied lm head) gives our runtime's logits token by token
 * through its KV cache, and the peer times it (needs /usr/bin/python3 with torch to export).
 */
class OrtQwen3DecodePeerTest {

    @Test
    void decoderLogitsMatchOursAndThePeerTimesIt(@TempDir Path tmp) throws Exception {
        assumeTrue(OnnxRuntimePeerTest.torch(), "/usr/bin/python3 cannot import torch");
        Path model = tmp.resolve("qwen3-tiny");
        RandomModels.writeQwen3(model, new RandomModels.Qwen3Shape(512, 32, 4, 2, 16, 2, 48), 3, false);
        GenerationPeer peer = GenerationPeer.onnxRuntime(getClass().getClassLoader());
        GenerationPeer.Result r = peer.run(model, tmp, "/usr/bin/python3", 1, 4, 8, 16, 1);
        Path export = tmp.resolve("onnx/qwen3-tiny-decoder");
        assertTrue(Files.isRegularFile(export.resolve("decoder.onnx")));
        assertTrue(r.note().contains("(within " + OnnxRuntimePeer.PARITY_TOLERANCE + ")"), r.note());
        assertTrue(r.decodeTokensPerSecond() > 0 && r.prefillTokensPerSecond() > 0, r.toString());
        try (OnnxRuntimePeer.Graphs g = new OnnxRuntimePeer.Graphs(OrtEnvironment.getEnvironment(), export, 1, "f32")) {
            assertEquals(512, g.vocab);
            // 24 positions, one run each through the cache: the tiny model's logits are about 0.1 in size.
            double parity = g.logitParity(model, 24);
            System.out.printf("tiny Qwen3: max |ORT logit - ours| over 24 decode steps %.2e%n", parity);
            assertTrue(parity <= 1e-5, "max |diff| " + parity);
            assertThrows(IllegalStateException.class, () -> g.embeddings(new int[][] {{1, 2}}));
        }
        assertThrows(IllegalArgumentException.class, () -> peer.run(model, tmp, "/usr/bin/python3", 1, 0, 8, 16, 1));
    }
}
