package dev.qsparse.runtime.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.kernel.Backends;
import dev.qsparse.runtime.kernel.WorkerPool;
import java.io.IOException;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Micro-batched forward passes (prefill, embed, score) against the token-by-token path, on every
 * fixture model, with one and two kernel threads: bit for bit.
 */
class BatchedForwardTest {

    static java.util.stream.Stream<String> fixtures() throws IOException {
        return PyTorchParityTest.fixtures();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("fixtures")
    void batchedEqualsTokenByToken(String name) throws IOException {
        try (Model model = Model.load(PyTorchParityTest.FIXTURES.resolve(name));
                WorkerPool pool = WorkerPool.create(2)) {
            DecoderModel<?> net = model.network();
            int vocab = model.config().vocabSize();
            int d = model.config().hiddenSize();
            Random r = new Random(name.hashCode());
            int n = net.passSize() + 13; // a full pass and one of 13
            int[] tokens = new int[n];
            for (int i = 0; i < n; i++) {
                tokens[i] = r.nextInt(vocab);
            }
            SingleSequence one = SingleSequence.of(net);
            float[][] hidden = new float[n][];
            float[][] logits = new float[n][vocab];
            for (int i = 0; i < n; i++) {
                one.step(tokens[i]);
                hidden[i] = one.hidden().clone();
                one.logits(logits[i]);
            }
            for (WorkerPool p : new WorkerPool[] {null, pool}) {
                SingleSequence batched = SingleSequence.of(
                        net, Backends.Choice.only(Backends.chosen().kernels()), p);
                float[][] h = new float[n][d];
                // start with 3 single steps, then batches from position 3
                for (int i = 0; i < 3; i++) {
                    batched.step(tokens[i]);
                    System.arraycopy(batched.hidden(), 0, h[i], 0, d);
                }
                float[][] rest = new float[n - 3][d];
                batched.steps(tokens, 3, n - 3, rest);
                System.arraycopy(rest, 0, h, 3, n - 3);
                float[][] l = new float[n][vocab];
                batched.logits(h, n, l);
                for (int i = 0; i < n; i++) {
                    assertArrayEquals(hidden[i], h[i], 0f, name + " hidden at " + i);
                    assertArrayEquals(logits[i], l[i], 0f, name + " logits at " + i);
                }
                assertArrayEquals(hidden[n - 1], batched.hidden(), 0f, name + " last hidden state");
            }
        }
    }
}
