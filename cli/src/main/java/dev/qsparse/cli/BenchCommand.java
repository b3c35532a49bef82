package dev.qsparse.cli;

import dev.qsparse.bench.BenchSuite;
import dev.qsparse.bench.EmbeddingModelPeer;
import dev.qsparse.bench.EmbeddingModelsBench;
import dev.qsparse.bench.GenerationPeer;
import dev.qsparse.bench.MiniLmBench;
import dev.qsparse.bench.Peer;
import dev.qsparse.bench.TorchGenerationPeer;
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

@Command(
        name = "bench",
        mixinStandardHelpOptions = true,
        description = {
            "Print the side-by-side speed table (decode, prefill, bandwidth, PyTorch).",
            "Decode and prefill speed of dense f32, dense int8, 50%% top-K int8 and 50%% top-K ternary on the seed README's",
            "model shape (random weights) and on a demo model, with the GEMV kernels, the machine's read bandwidth measured",
            "in the same run, ND4J prefill when backend-nd4j is built, PyTorch eager on the same weights when",
            "/usr/bin/python3 has torch, and ONNX Runtime in this JVM when the bench's onnx profile is built",
            "(mvn -B -ntp -Ponnx -pl bench -am package -DskipTests). An embed column times 32 events of ~40 tokens",
            "(--events) per batch on every engine. Prints one markdown table on stdout (--json: the figures as JSON);",
            "progress on stderr."
        })
final class BenchCommand implements Callable<Integer> {

    @Option(names = "--threads", defaultValue = "1", description = "Threads per product, ours and torch's (default 1).")
    int threads;

    @Option(names = "--decode-tokens", defaultValue = "64", description = "Tokens decoded per timed run (default 64).")
    int decodeTokens;

    @Option(names = "--prompt", defaultValue = "16", description = "Prompt tokens before decoding (default 16).")
    int prompt;

    @Option(names = "--prefill", defaultValue = "128", description = "Tokens of the timed prefill (default 128).")
    int prefill;

    @Option(
            names = "--reps",
            defaultValue = "3",
            description = "Timed runs per figure, the median is kept (default 3).")
    int reps;

    @Option(
            names = "--work",
            defaultValue = "bench/target/bench-models",
            paramLabel = "DIR",
            description = "Where the random and converted models are kept between runs.")
    Path work;

    @Option(
            names = "--demo-model",
            paramLabel = "DIR",
            description =
                    "Second model (default: the shipped demo models/qsparse-demo if present, else the bundled test model).")
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

    @Option(
            names = "--nd4j",
            defaultValue = "backend-nd4j/target",
            paramLabel = "DIR",
            description = "Built backend-nd4j (its jar and lib/); ignored when absent.")
    Path nd4j;

    @Option(
            names = "--bandwidth-mb",
            defaultValue = "1024",
            paramLabel = "MB",
            description = "Buffer of the read-bandwidth measurement (default 1024, far above any L3).")
    int bandwidthMb;

    @Option(
            names = "--onnx",
            defaultValue = "auto",
            paramLabel = "auto|off|DIR",
            description =
                    "ONNX Runtime peer: auto (when bench/target/onnx, built by -Ponnx, is there), off, or the folder"
                            + " holding bench-*-onnx.jar and onnxruntime-*.jar.")
    String onnx;

    @Option(
            names = "--onnx-exporter",
            defaultValue = "training/export_onnx.py",
            paramLabel = "FILE",
            description = "The exporter the ONNX peer runs with --python (default training/export_onnx.py).")
    Path onnxExporter;

    @Option(
            names = "--events",
            defaultValue = "models/data/events.txt",
            paramLabel = "FILE",
            description =
                    "Texts of the embed column, one per line (default models/data/events.txt; absent = no embed column).")
    Path events;

    @Option(
            names = "--embed-batch",
            defaultValue = "32",
            paramLabel = "N",
            description = "Events per embed batch (default 32; 0 = no embed column).")
    int embedBatch;

    @Option(names = "--json", description = "Print the figures as JSON instead of the table.")
    boolean json;

    @Option(
            names = "--embedding-models",
            description = "Also time embedding models at the published 0.6B shape (Qwen3-Embedding-0.6B as published in"
                    + " bf16 and in int8, bitnet-embedding-0.6b ternary; random weights, about 3 GB written once under --work)"
                    + " on the --events texts: events/s per micro-batch of --embed-batch and one at a time; beside"
                    + " them PyTorch (--python with torch) and ONNX Runtime (the onnx profile's folder, see --onnx) on"
                    + " the bf16 weights as f32, the latter with its cosine to ours.")
    boolean embeddingModels;

    @Option(
            names = "--minilm",
            defaultValue = "auto",
            paramLabel = "auto|off|only",
            description = "The embed table on the real all-MiniLM-L6-v2: ours f32 and int8 against ONNX Runtime and"
                    + " langchain4j (needs the onnx profile's folder, see --onnx); only: that table alone.")
    String minilm;

    @Option(
            names = "--minilm-texts",
            defaultValue = "128",
            paramLabel = "N",
            description = "Lines of --events the MiniLM table embeds (1 to 4096, default ${DEFAULT-VALUE}).")
    int minilmTexts;

    @Option(
            names = "--minilm-also",
            paramLabel = "DIR",
            description = "Another directory of the same model (calibrated, other top-K) timed as one more row of the"
                    + " MiniLM table, named after its directory; repeatable.")
    List<Path> minilmAlso = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        if (!List.of("auto", "off", "only").contains(minilm)) {
            throw new IllegalArgumentException("--minilm must be auto, off or only, got " + minilm);
        }
        if (minilm.equals("only")) {
            System.out.print(
                    MiniLmBench.run(onnxLoader(onnx), work, events, minilmTexts, threads, reps, minilmAlso, true));
            System.out.flush();
            return 0;
        }
        Path demo = demoModel;
        if (demo == null) {
            for (String candidate :
                    new String[] {"models/qsparse-demo", "models/demo", "model-runtime/src/test/resources/test-model"
                    }) {
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
        List<String> onnxNotes = new ArrayList<>();
        List<Peer> peers = new ArrayList<>();
        Peer ort = loadOnnx(onnx, onnxExporter, onnxNotes);
        if (ort != null) {
            peers.add(ort);
        }
        BenchSuite.Options options = new BenchSuite.Options(
                threads,
                prompt,
                decodeTokens,
                prefill,
                reps,
                work,
                !noSeedShape,
                demo,
                script,
                python,
                dense,
                !noGemv,
                bandwidthMb,
                System.err,
                events,
                embedBatch,
                peers);
        BenchSuite.Report report;
        try {
            report = BenchSuite.run(options);
        } finally {
            for (Peer p : peers) {
                p.close();
            }
        }
        report.notes().addAll(onnxNotes);
        if (script == null) {
            report.notes()
                    .add("PyTorch: not run ("
                            + (torch.equals("off")
                                    ? "--torch off"
                                    : python + " cannot import torch, or " + torchScript + " is missing")
                            + ").");
        }
        if (json) {
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("machine", report.machine());
            out.put("bandwidth_gbs_1_thread", report.bandwidth1());
            out.put("bandwidth_gbs_n_threads", report.bandwidthN());
            out.put("threads", report.threads());
            out.put("gemv", report.gemv());
            out.put("decode", report.decode());
            out.put("embed_workloads", report.embedWorkloads());
            out.put("notes", report.notes());
            Json.print(out);
        } else {
            System.out.print(report.markdown());
            if (minilm.equals("auto")) {
                System.out.print(
                        MiniLmBench.run(onnxLoader(onnx), work, events, minilmTexts, threads, reps, minilmAlso, false));
            }
            System.out.flush();
        }
        if (embeddingModels && demo != null && Files.isRegularFile(events)) {
            List<String> texts = Files.readAllLines(events).stream()
                    .filter(l -> !l.isBlank())
                    .limit(Math.max(1, embedBatch))
                    .toList();
            EmbeddingModelsBench.OnnxPeer ortPeer = onnxEmbedPeer();
            List<EmbeddingModelsBench.Row> rows;
            try {
                rows = EmbeddingModelsBench.run(
                        work.resolve("embedding-models"),
                        demo,
                        texts,
                        threads,
                        reps,
                        torchEmbedPeer(),
                        ortPeer,
                        System.err);
            } finally {
                if (ortPeer != null) {
                    ortPeer.engine().close();
                }
            }
            System.out.println();
            System.out.println("Embedding models (the demo model's tokenizer, the model's own last-token pooling, "
                    + threads + " thread(s)):");
            System.out.println();
            System.out.print(EmbeddingModelsBench.table(rows, texts.size()));
            System.out.println();
            // ONNX Runtime's and PyTorch's generation rows where their embedding rows run.
            List<EmbeddingModelsBench.GenerationRun> generationPeers = new ArrayList<>();
            if (ortPeer != null) {
                generationPeers.add(new EmbeddingModelsBench.GenerationRun(
                        GenerationPeer.onnxRuntime(onnxLoader(onnx)), ortPeer.python()));
            }
            EmbeddingModelsBench.TorchPeer torchPeer = torchEmbedPeer();
            if (torchPeer != null) {
                generationPeers.add(new EmbeddingModelsBench.GenerationRun(
                        new TorchGenerationPeer(torchPeer.script().resolveSibling(TorchGenerationPeer.SCRIPT)),
                        torchPeer.python()));
            }
            System.out.print(EmbeddingModelsBench.generationTable(
                    work.resolve("embedding-models"), threads, reps, System.err, generationPeers));
        }
        return 0;
    }

    /**
     * The ONNX Runtime peer from the folder the bench's onnx profile writes (its classes and onnxruntime's jar, in
     * their own class loader, so that neither the default build nor the CLI's class path carries them); null with
     * a note when off or absent.
     */
    /** The class loader over the onnx profile's folder (its jars on top of ours), or ours when it is absent. */
    static ClassLoader onnxLoader(String mode) throws IOException {
        ClassLoader parent = BenchCommand.class.getClassLoader();
        Path dir = mode.equals("auto") || mode.equals("off") ? Path.of("bench/target/onnx") : Path.of(mode);
        if (!Files.isDirectory(dir)) {
            return parent;
        }
        List<URL> urls = new ArrayList<>();
        try (Stream<Path> jars = Files.list(dir)) {
            for (Path p : (Iterable<Path>) jars::iterator) {
                if (p.toString().endsWith(".jar")) {
                    urls.add(p.toUri().toURL());
                }
            }
        }
        return new URLClassLoader(urls.toArray(URL[]::new), parent);
    }

    static Peer loadOnnx(String mode, Path exporter, List<String> notes) {
        if (mode.equals("off")) {
            notes.add("ONNX Runtime: not run (--onnx off).");
            return null;
        }
        Path dir = mode.equals("auto") ? Path.of("bench/target/onnx") : Path.of(mode);
        String className = "dev.qsparse.bench.onnx.OnnxRuntimePeer";
        try {
            ClassLoader parent = BenchCommand.class.getClassLoader();
            ClassLoader loader = parent;
            if (Files.isDirectory(dir)) {
                List<URL> urls = new ArrayList<>();
                try (Stream<Path> jars = Files.list(dir)) {
                    for (Path p : (Iterable<Path>) jars::iterator) {
                        if (p.toString().endsWith(".jar")) {
                            urls.add(p.toUri().toURL());
                        }
                    }
                }
                loader = new URLClassLoader(urls.toArray(URL[]::new), parent);
            }
            Class<?> c;
            try {
                c = Class.forName(className, true, loader);
            } catch (ClassNotFoundException e) {
                notes.add("ONNX Runtime: not run (" + dir + " has no ONNX peer: build it with"
                        + " mvn -B -ntp -Ponnx -pl bench -am package -DskipTests, or pass --onnx DIR).");
                return null;
            }
            return (Peer) c.getConstructor(Path.class).newInstance(exporter);
        } catch (IOException | ReflectiveOperationException | RuntimeException | LinkageError e) {
            notes.add("ONNX Runtime: not loaded from " + dir + " (" + e + ").");
            return null;
        }
    }

    /**
     * ONNX Runtime beside the embedding models, from the onnx profile's folder (see --onnx), exporting with
     * --python; null with a line on stderr when off, absent or without torch to export.
     */
    private EmbeddingModelsBench.OnnxPeer onnxEmbedPeer() throws IOException, ReflectiveOperationException {
        if (onnx.equals("off")) {
            return null;
        }
        EmbeddingModelPeer peer = EmbeddingModelPeer.onnxRuntime(onnxLoader(onnx));
        if (peer == null || !torchImports()) {
            System.err.println("bench: no ONNX Runtime row for the embedding models ("
                    + (peer == null
                            ? "no " + EmbeddingModelPeer.ONNX_RUNTIME + ": build it with"
                                    + " mvn -B -ntp -Ponnx -pl bench -am package -DskipTests"
                            : python + " cannot import torch to export the model")
                    + ")");
            return null;
        }
        return new EmbeddingModelsBench.OnnxPeer(peer, python);
    }

    /** PyTorch beside the embedding models (bench/torch_embed_qwen3.py next to the decode script), or null. */
    private EmbeddingModelsBench.TorchPeer torchEmbedPeer() {
        Path script = torchScript.resolveSibling("torch_embed_qwen3.py");
        if (torch.equals("off") || !Files.isRegularFile(script) || !torchImports()) {
            return null;
        }
        return new EmbeddingModelsBench.TorchPeer(python, script);
    }

    private boolean torchImports() {
        try {
            Process p = new ProcessBuilder(python, "-c", "import torch")
                    .redirectErrorStream(true)
                    .start();
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
                    if (p.getFileName().toString().startsWith("backend-nd4j")
                            && p.toString().endsWith(".jar")) {
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
                System.setProperty(
                        "org.bytedeco.javacpp.cachedir",
                        dir.resolve("javacpp").toAbsolutePath().toString());
            }
            ClassLoader loader = new URLClassLoader(urls.toArray(URL[]::new), BenchCommand.class.getClassLoader());
            // ND4J finds its native backend through the context class loader.
            Thread.currentThread().setContextClassLoader(loader);
            return ServiceLoader.load(DenseBatchBackend.class, loader)
                    .findFirst()
                    .orElse(null);
        } catch (IOException | RuntimeException | LinkageError e) {
            System.err.println("bench: ND4J not loaded from " + dir + ": " + e);
            return null;
        }
    }
}
