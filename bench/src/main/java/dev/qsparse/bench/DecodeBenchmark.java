package dev.qsparse.bench;

import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.kernel.Backends;
import dev.qsparse.runtime.kernel.Kernels;
import dev.qsparse.runtime.kernel.WorkerPool;
import dev.qsparse.runtime.model.SingleSequence;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One decode step (batch 1, KV cache, logits) of the seed-shape model (random weights) in each
 * variant; the models are written under {@code qsparse.bench.work} (default
 * {@code bench/target/bench-models}) on first use. The KV cache restarts every 256 positions.
 *
 * <pre>java --add-modules jdk.incubator.vector -cp "bench/target/bench-0.1.0-SNAPSHOT.jar:bench/target/lib/*" \
 *     org.openjdk.jmh.Main DecodeBenchmark</pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(
        value = 1,
        jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class DecodeBenchmark {

    @Param({"DENSE_F32", "DENSE_INT8", "TOPK50_INT8", "TOPK50_TERNARY"})
    public BenchModels.Variant variant;

    @Param({"1"})
    public int threads;

    private Model model;
    private WorkerPool pool;
    private SingleSequence state;
    private float[] logits;
    private int pos;

    @Setup(Level.Trial)
    public void setup() throws IOException {
        Path work = Path.of(System.getProperty("qsparse.bench.work", "bench/target/bench-models"));
        PrintStream log = System.err;
        Map<BenchModels.Variant, Path> dirs =
                BenchModels.variants(BenchModels.seedShape(work, log), "seed-shape", work, log);
        model = Model.load(dirs.get(variant));
        pool = threads > 1 ? WorkerPool.create(threads) : null;
        state = SingleSequence.of(model.network(), Backends.chosen(), pool);
        logits = new float[model.config().vocabSize()];
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (pool != null) {
            pool.close();
        }
        model.close();
    }

    @Benchmark
    public int decodeStep() {
        if (pos == 256) {
            pos = 0;
            state.rewind();
        }
        int next = pos == 0 ? 1 : Kernels.argmax(logits, logits.length);
        state.step(next);
        pos++;
        state.logits(logits);
        return next;
    }
}
