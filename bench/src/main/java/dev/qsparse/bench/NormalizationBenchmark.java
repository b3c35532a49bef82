package dev.qsparse.bench;

import dev.qsparse.runtime.tokenizer.UnicodeNormalization;
import java.text.Normalizer;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * NFC of hostile text: a base letter followed by alternating combining marks (U+0301, class 230;
 * U+0316, class 220), the worst case of the JDK normaliser's canonical reordering, against plain
 * prose of the same length. {@code streamSafe} is the runtime's path (linear); {@code jdk} is
 * {@link Normalizer} alone, quadratic on the marks (about a minute for 300,000 of them), so run it
 * only at the small size.
 *
 * <pre>java --add-modules jdk.incubator.vector -cp "bench/target/bench-0.1.0-SNAPSHOT.jar:bench/target/lib/*" \
 *     org.openjdk.jmh.Main NormalizationBenchmark.streamSafe</pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
@Fork(1)
public class NormalizationBenchmark {

    /** Characters of text (1 MB of marks = 524,288 two-byte marks). */
    @Param({"524288"})
    public int chars;

    @Param({"marks", "prose"})
    public String text;

    private String input;

    @Setup
    public void setup() {
        StringBuilder s = new StringBuilder(chars);
        if (text.equals("marks")) {
            s.append('a');
            while (s.length() < chars) {
                s.append(s.length() % 2 == 0 ? '\u0301' : '\u0316');
            }
        } else {
            String prose = "Caf\u00e9 na\u0308ive r\u00e9sum\u00e9, Vi\u1ec7t Nam, \u00c5ngstr\u00f6m. ";
            while (s.length() < chars) {
                s.append(prose);
            }
            s.setLength(chars);
        }
        input = s.toString();
    }

    @Benchmark
    public String streamSafe() {
        return UnicodeNormalization.normalize(input, Normalizer.Form.NFC);
    }

    @Benchmark
    public String jdk() {
        return Normalizer.normalize(input, Normalizer.Form.NFC);
    }
}
