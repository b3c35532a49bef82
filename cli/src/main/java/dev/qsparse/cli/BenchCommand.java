package dev.qsparse.cli;

import dev.qsparse.bench.BenchSuite;
import dev.qsparse.runtime.kernel.DenseBatchBackend;
import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "bench", mixinStandardHelpOptions = true, description = {
    "Print the side-by-side speed table (decode, prefill, bandwidth, PyTorch).",
    "Decode and prefill speed of dense f32, dense int8, 50%% top-K int8 and 50%% top-K ternary on the seed README's",
    "model shape (random weights) and on a demo model, with the GEMV kernels, the machine's read bandwidth measured",
    "in the same run, ND4J prefill when backend-nd4j is built, and PyTorch eager on the same weights when",
    "/usr/bin/python3 has torch. Prints one markdown table on stdout (--json: the figures as JSON); progress on stderr."})
final class BenchCommand implements Callable<Integer> {

    @Option(names = "--threads", defaultValue = "1", description = "Threads per product, ours and torch's (default 1).")
    int threads;

    @Option(names = "--decode-tokens", defaultValue = "64", description = "Tokens decoded per timed run (default 64).")
    int decodeTokens;

    @Option(names = "--prompt", defaultValue = "16", description = "Prompt tokens before decoding (default 16).")
    int prompt;

    @Option(names = "--prefill", defaultValue = "128", description = "Tokens of the timed prefill (default 128).")
    int prefill;

    @Option(names = "--reps", defaultValue = "3", description = "Timed runs per figure, the median is kept (default 3).")
    int reps;

    @Option(names = "--work", defaultValue = "bench/target/bench-models", paramLabel = "DIR",
            description = "Where the random and converted models are kept between runs.")
    Path work;

    @Option(names = "--demo-model", paramLabel = "DIR",
            description = "Second model (default: the shipped demo models/qsparse-demo if present, else the bundled test model).")
    Path demoModel;

    @Option(names = "--no-seed-shape", description = "Skip the seed-shape model (and its ~0.9 GB of files).")
    boolean noSeedShape;

    @Option(names = "--no-gemv", description = "Skip the GEMV kernel table.")
    boolean noGemv;

    @Option(names = "--torch", defaultValue = "auto", description = "auto (when torch imports), off.")
    String torch;

    @Option(names = "--python", defaultValue = "/usr/bin/python3", description = "Python with torch (Debian's).")
    String python;

    @Option(names = "--torch-script", defaultValue = "bench/torch_decode.py", paramLabel = "FILE")
    Path torchScript;

    @Option(names = "--nd4j", defaultValue = "backend-nd4j/target", paramLabel = "DIR",
            description = "Built backend-nd4j (its jar and lib/); ignored when absent.")
    Path nd4j;

    @Option(names = "--bandwidth-mb", defaultValue = "1024", paramLabel = "MB",
            description = "Buffer of the read-bandwidth measurement (default 1024, far above any L3).")
    int bandwidthMb;

    @Option(names = "--json", description = "Print the figures as JSON instead of the table.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        Path demo = demoModel;
        if (demo == null) {
            for (String candidate : new String[] {"models/qsparse-demo", "models/demo",
                    "model-runtime/src/test/resources/test-model"}) {
                if (Files.isRegularFile(Path.of(candidate, "config.json"))) {
                    demo = Path.of(candidate);
                    break;
                }
            }
        }
        Path script = null;
        if (!torch.equals("off") && Files.isRegularFile(torchScript) && torchImports()) {
            script = torchScript;
        }
        DenseBatchBackend dense = loadNd4j(nd4j);
        BenchSuite.Options options = new BenchSuite.Options(threads, prompt, decodeTokens, prefill, reps, work,
                !noSeedShape, demo, script, python, dense, !noGemv, bandwidthMb, System.err);
        BenchSuite.Report report = BenchSuite.run(options);
        if (script == null) {
            report.notes().add("PyTorch: not run (" + (torch.equals("off") ? "--torch off" : python
                    + " cannot import torch, or " + torchScript + " is missing") + ").");
        }
        if (json) {
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("machine", report.machine());
            out.put("bandwidth_gbs_1_thread", report.bandwidth1());
            out.put("bandwidth_gbs_n_threads", report.bandwidthN());
            out.put("threads", report.threads());
            out.put("gemv", report.gemv());
            out.put("decode", report.decode());
            out.put("notes", report.notes());
            Json.print(out);
        } else {
            System.out.print(report.markdown());
            System.out.flush();
        }
        return 0;
    }

    private boolean torchImports() {
        try {
            Process p = new ProcessBuilder(python, "-c", "import torch").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    /** ND4J from a built backend-nd4j directory, in its own class loader; null when absent or broken. */
    static DenseBatchBackend loadNd4j(Path dir) {
        if (dir == null || !Files.isDirectory(dir.resolve("lib"))) {
            return null;
        }
        try {
            List<URL> urls = new ArrayList<>();
            try (Stream<Path> jars = Files.list(dir)) {
                for (Path p : (Iterable<Path>) jars::iterator) {
                    if (p.getFileName().toString().startsWith("backend-nd4j") && p.toString().endsWith(".jar")) {
                        urls.add(p.toUri().toURL());
                    }
                }
            }
            try (Stream<Path> jars = Files.list(dir.resolve("lib"))) {
                for (Path p : (Iterable<Path>) jars::iterator) {
                    String n = p.getFileName().toString();
                    if (n.endsWith(".jar") && !n.startsWith("model-runtime")) {
                        urls.add(p.toUri().toURL());
                    }
                }
            }
            if (System.getProperty("org.bytedeco.javacpp.cachedir") == null) {
                System.setProperty("org.bytedeco.javacpp.cachedir", dir.resolve("javacpp").toAbsolutePath().toString());
            }
            ClassLoader loader = new URLClassLoader(urls.toArray(URL[]::new), BenchCommand.class.getClassLoader());
            // ND4J finds its native backend through the context class loader.
            Thread.currentThread().setContextClassLoader(loader);
            return ServiceLoader.load(DenseBatchBackend.class, loader).findFirst().orElse(null);
        } catch (IOException | RuntimeException | LinkageError e) {
            System.err.println("bench: ND4J not loaded from " + dir + ": " + e);
            return null;
        }
    }
}
