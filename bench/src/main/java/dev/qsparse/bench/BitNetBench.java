package dev.qsparse.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.model.ModelConverter;
import dev.qsparse.runtime.model.RandomModels;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * BitNet b1.58 2B4T's shape with random weights, written by {@link RandomModels#writeBitNet} in
 * the published Hugging Face format (nothing is downloaded), then: its runtime-ready conversions
 * (lm head as published, BF16, and int8; the latter also with Q-Sparse 50% top-K), the load time
 * and heap growth of each form, the machine's read bandwidth, and greedy decode tok/s at 1 and 2
 * threads beside the weight bytes a token reads and the ceiling that bandwidth puts on it. The
 * models stay under the work directory (about 4 GB) for the next run.
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -cp ... dev.qsparse.bench.BitNetBench
 * [work-dir] [decode-tokens] [rounds]}
 */
public final class BitNetBench {

    private BitNetBench() {}

    public static void main(String[] args) throws IOException {
        Path work = Path.of(args.length > 0 ? args[0] : "bench/target/bitnet-2b4t");
        int decodeTokens = args.length > 1 ? Integer.parseInt(args[1]) : 16;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
        Path hf = work.resolve("hf-packed");
        Path bf16Head = work.resolve("ternary-bf16-head");
        Path int8Head = work.resolve("ternary-int8-head");
        if (!Files.isRegularFile(hf.resolve("model.safetensors"))) {
            long t0 = System.nanoTime();
            RandomModels.writeBitNet(hf, RandomModels.BitNetShape.bitnet2B4T(), 2025);
            System.out.printf(Locale.ROOT, "wrote %s in %.1f s%n", hf, seconds(t0));
        }
        convert(hf, bf16Head, false);
        convert(hf, int8Head, true);
        Path topK = withTopK(int8Head, work.resolve("ternary-int8-head-topk50"));
        for (Path dir : new Path[] {bf16Head, int8Head, hf}) {
            load(dir);
        }
        double[] bandwidth = {Bandwidth.measure(1024, 1, 3), Bandwidth.measure(1024, 2, 3)};
        System.out.printf(
                Locale.ROOT,
                "read bandwidth: %.1f GB/s (1 thread), %.1f GB/s (2 threads)%n",
                bandwidth[0],
                bandwidth[1]);
        System.out.println("| model | threads | decode tok/s | weight MB / token | ceiling tok/s | of ceiling |");
        System.out.println("|---|---|---|---|---|---|");
        for (int threads = 1; threads <= 2; threads++) {
            for (Path dir : new Path[] {bf16Head, int8Head, topK}) {
                DecodeBench.Result r = DecodeBench.run(dir, threads, 8, decodeTokens, 8, rounds, null);
                double ceiling = bandwidth[threads - 1] * 1e9 / r.weightBytesPerToken();
                System.out.printf(
                        Locale.ROOT,
                        "| %s (%s) | %d | %.2f | %.0f | %.2f | %.0f%% |%n",
                        dir.getFileName(),
                        r.weightFormat(),
                        threads,
                        r.decodeTokensPerSecond(),
                        r.weightBytesPerToken() / 1e6,
                        ceiling,
                        100 * r.decodeTokensPerSecond() / ceiling);
            }
        }
    }

    /**
     * {@code source} with Q-Sparse 50% top-K on every projection input (one config key), its weights
     * a hard link to the source's file (one copy in the page cache).
     */
    private static Path withTopK(Path source, Path dir) throws IOException {
        Files.createDirectories(dir);
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode config =
                (ObjectNode) json.readTree(source.resolve("config.json").toFile());
        config.put("topk_ratio", 0.5);
        json.writeValue(dir.resolve("config.json").toFile(), config);
        Path link = dir.resolve("model.safetensors");
        Files.deleteIfExists(link);
        Files.createLink(link, source.resolve("model.safetensors").toRealPath());
        return dir;
    }

    private static void convert(Path source, Path out, boolean int8Head) throws IOException {
        if (Files.isRegularFile(out.resolve("model.safetensors"))) {
            return;
        }
        long t0 = System.nanoTime();
        ModelConverter.Result r = ModelConverter.convert(source, out, ModelConverter.Target.TERNARY, int8Head);
        System.out.printf(
                Locale.ROOT,
                "converted %s -> %s (lm head %s, %.0f MB) in %.1f s%n",
                source.getFileName(),
                out.getFileName(),
                r.lmHead(),
                r.bytes() / 1e6,
                seconds(t0));
    }

    /** Load time and how much the heap grew (after a GC) while the model is loaded. */
    private static void load(Path dir) throws IOException {
        MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
        System.gc();
        long before = memory.getHeapMemoryUsage().getUsed();
        long t0 = System.nanoTime();
        try (Model model = Model.load(dir)) {
            double loadSeconds = seconds(t0);
            System.gc();
            long grown = memory.getHeapMemoryUsage().getUsed() - before;
            System.out.printf(
                    Locale.ROOT,
                    "load %s: %.2f s, heap +%.0f MB, weights %s, file %.0f MB%n",
                    dir.getFileName(),
                    loadSeconds,
                    grown / 1e6,
                    model.network().weightFormat(),
                    Files.size(dir.resolve("model.safetensors")) / 1e6);
        }
    }

    private static double seconds(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }
}
