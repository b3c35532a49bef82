package dev.qsparse.bench.onnx;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.qsparse.bench.GenerationPeer;
import dev.qsparse.bench.TorchGenerationPeer;
import dev.qsparse.runtime.model.RandomModels;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * PyTorch eager (bench/torch_generate_qwen3.py) on a tiny random Qwen3 directory gives our logits
 * step by step through its KV cache, and the peer times it (needs /usr/bin/python3 with torch). With
 * the ONNX peers' tests because it shares their needs (torch) and runs beside them in the bench.
 */
class TorchGenerationPeerTest {

    @Test
    void logitsMatchOursAndThePeerTimesIt(@TempDir Path tmp) throws Exception {
        assumeTrue(OnnxRuntimePeerTest.torch(), "/usr/bin/python3 cannot import torch");
        Path model = tmp.resolve("qwen3-tiny");
        RandomModels.writeQwen3(model, new RandomModels.Qwen3Shape(512, 32, 4, 2, 16, 2, 48), 4, false);
        GenerationPeer peer = new TorchGenerationPeer(Path.of(TorchGenerationPeer.SCRIPT));
        GenerationPeer.Result r = peer.run(model, tmp, "/usr/bin/python3", 1, 4, 8, 16, 1);
        Matcher m = Pattern.compile("max \\|diff\\| (\\S+) ").matcher(r.note());
        assertTrue(m.find(), r.note());
        double parity = Double.parseDouble(m.group(1));
        System.out.printf("tiny Qwen3: max |PyTorch logit - ours| over 8 cached steps %.2e%n", parity);
        assertTrue(parity <= 1e-5, r.note());
        assertTrue(r.engine().startsWith("pytorch "), r.engine());
        assertTrue(r.decodeTokensPerSecond() > 0 && r.prefillTokensPerSecond() > 0, r.toString());
    }
}
