package dev.qsparse.bench;

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
 * One matrix-vector product, dense and 50% top-K, f32 / int8 / ternary, on the seed shape's two
 * feed-forward matrices (out x in = 3072x768 and 768x3072), cycling over copies larger than the
 * L3 so that the weights come from DRAM as in decode.
 *
 * <pre>java --add-modules jdk.incubator.vector -cp "bench/target/bench-0.1.0-SNAPSHOT.jar:bench/target/lib/*" \
 *     org.openjdk.jmh.Main GemvBenchmark</pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(
        value = 1,
        jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class GemvBenchmark {

    @Param({"3072x768", "768x3072"})
    public String shape;

    @Param({"f32", "int8", "ternary"})
    public String format;

    @Param({"1.0", "0.5"})
    public double keep;

    @Param({"1"})
    public int threads;

    private GemvBench bench;

    @Setup(Level.Trial)
    public void setup() {
        String[] s = shape.split("x");
        bench = new GemvBench(Integer.parseInt(s[0]), Integer.parseInt(s[1]), format, keep, threads);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        bench.close();
    }

    @Benchmark
    public float gemv() {
        return bench.run();
    }
}
