package dev.qsparse.bench.onnx;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.qsparse.bench.BenchSuite;
import dev.qsparse.bench.Peer;
import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.inference.InferenceSession;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * ONNX Runtime in this JVM on the same dense f32 weights: the engine a Flink user would otherwise
 * embed. The model directory is exported by {@code training/export_onnx.py} (torch.onnx.export,
 * f32: a decoder graph with a KV cache per layer and a padded-batch embed graph), then run with
 * {@code intra_op_num_threads} = the bench's thread count and one inter-op thread. Decode is one
 * {@code run} per token with T = 1, the presents of the previous step fed back as its pasts (no
 * copy into Java); prefill one run with an empty cache; embed one run over the right-padded batch.
 * Before timing, the logits of a few tokens are compared with the Java runtime's on the same weights.
 */
public final class OnnxRuntimePeer implements Peer {

    /** Largest |ONNX logit - Java logit| accepted as the same model (f32, different summation orders). */
    public static final double PARITY_TOLERANCE = 1e-3;

    private final OrtEnvironment env = OrtEnvironment.getEnvironment();
    private final Path exporter;

    public OnnxRuntimePeer() {
        this(findExporter());
    }

    public OnnxRuntimePeer(Path exporter) {
        this.exporter = exporter;
    }

    @Override
    public String engine() {
        return "onnxruntime " + env.getVersion();
    }

    /** {@code -Dqsparse.onnx.exporter}, else training/export_onnx.py here or one directory up (module tests). */
    static Path findExporter() {
        String p = System.getProperty("qsparse.onnx.exporter");
        if (p != null) {
            return Path.of(p);
        }
        for (String c : new String[] {"training/export_onnx.py", "../training/export_onnx.py"}) {
            if (Files.isRegularFile(Path.of(c))) {
                return Path.of(c);
            }
        }
        return Path.of("training/export_onnx.py");
    }

    /** Exports {@code f32Dir} under {@code out} (skipped when an export newer than the weights is there). */
    public Path export(Path f32Dir, Path out, String python) throws IOException, InterruptedException {
        Path info = out.resolve("onnx.json");
        Path weights = f32Dir.resolve("model.safetensors").toRealPath();
        if (Files.isRegularFile(info)
                && Files.isRegularFile(out.resolve("decoder.onnx"))
                && Files.isRegularFile(out.resolve("decoder-int8.onnx"))
                && Files.getLastModifiedTime(info).compareTo(Files.getLastModifiedTime(weights)) > 0
                && Files.getLastModifiedTime(info).compareTo(Files.getLastModifiedTime(exporter)) > 0) {
            return out;
        }
        if (!Files.isRegularFile(exporter)) {
            throw new IOException("the ONNX exporter " + exporter + " is missing (-Dqsparse.onnx.exporter=...)");
        }
        Process p = new ProcessBuilder(
                        python, exporter.toString(), "--model", f32Dir.toString(), "--out", out.toString(), "--int8")
                .redirectErrorStream(true)
                .start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.MINUTES) || p.exitValue() != 0) {
            String tail = log.length() > 2000 ? log.substring(log.length() - 2000) : log;
            throw new IOException("export to ONNX failed (" + python + " " + exporter + "): " + tail.trim());
        }
        return out;
    }

    /** Session options: the bench's thread count inside an operator, one thread between operators. */
    static OrtSession.SessionOptions options(int threads) throws OrtException {
        OrtSession.SessionOptions so = new OrtSession.SessionOptions();
        so.setIntraOpNumThreads(threads);
        so.setInterOpNumThreads(1);
        so.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
        so.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
        return so;
    }

    @Override
    public void run(
            String model,
            Path f32Dir,
            BenchSuite.Options o,
            BenchSuite.EmbedWorkload embed,
            List<BenchSuite.DecodeRow> rows,
            List<String> notes)
            throws Exception {
        Path out = export(f32Dir, o.work().resolve("onnx").resolve(model.replaceAll("[^A-Za-z0-9]+", "-")), o.python());
        for (String weights : new String[] {"f32", "int8"}) {
            try (Graphs g = new Graphs(env, out, o.threads(), weights)) {
                double parity = g.logitParity(f32Dir, 8);
                int vocab = g.vocab;
                Random random = new Random(7);
                int[] prompt = random.ints(o.promptTokens(), 0, vocab).toArray();
                int[] prefill = random.ints(o.prefillTokens(), 0, vocab).toArray();
                int reps = Math.max(1, o.reps());
                // warm-up, as ours: two short decodes, prefills and embeds
                for (int i = 0; i < 2; i++) {
                    g.decode(prompt, Math.max(4, o.decodeTokens() / 4));
                    g.prefill(prefill);
                    if (embed != null) {
                        g.embed(embed.ids());
                    }
                }
                double[] d = new double[reps];
                double[] p = new double[reps];
                double[] e = new double[reps];
                for (int r = 0; r < reps; r++) {
                    d[r] = g.decode(prompt, o.decodeTokens());
                    p[r] = g.prefill(prefill);
                    e[r] = embed == null ? Double.NaN : g.embed(embed.ids());
                }
                boolean f32 = weights.equals("f32");
                rows.add(new BenchSuite.DecodeRow(
                        model,
                        f32 ? "dense f32" : "dense int8 (dynamic quant)",
                        engine(weights),
                        median(d),
                        median(p),
                        Double.NaN,
                        0,
                        median(e)));
                notes.add(String.format(
                        Locale.ROOT,
                        "%s on %s: exported by training/export_onnx.py (torch %s, opset %d)%s;"
                                + " intra-op threads %d, inter-op 1; decode with a KV cache (one run per token), prefill one run,"
                                + " embed one padded run; logits vs the Java runtime's dense f32 on 8 tokens: max |diff| %.2e%s",
                        engine(weights),
                        model,
                        g.info.path("torch").asText("?"),
                        g.info.path("opset").asInt(),
                        f32
                                ? ""
                                : " as ONNX Runtime's dynamic quantization graph (DynamicQuantizeLinear: uint8, one scale"
                                        + " per tensor; MatMulInteger with int8 weights per output channel; lm head too)",
                        o.threads(),
                        parity,
                        f32
                                ? (parity <= PARITY_TOLERANCE ? " (within " : " (NOT within ") + PARITY_TOLERANCE + ")"
                                : " (int8, not a parity check)"));
            }
        }
    }

    String engine(String weights) {
        return "onnxruntime " + env.getVersion() + " " + weights;
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }

    /** The two sessions of one export. */
    public static final class Graphs implements AutoCloseable {
        final OrtEnvironment env;
        final OrtSession decoder;
        final OrtSession embedder;
        final JsonNode info;
        final int vocab;
        final int layers;
        final long kvHeads;
        final long headDim;
        final List<String> pastNames = new ArrayList<>();
        final List<String> presentNames = new ArrayList<>();

        public Graphs(OrtEnvironment env, Path dir, int threads) throws IOException, OrtException {
            this(env, dir, threads, "f32");
        }

        /** {@code weights}: "f32" (decoder.onnx, embed.onnx) or "int8" (the dynamic-quantization graphs). */
        public Graphs(OrtEnvironment env, Path dir, int threads, String weights) throws IOException, OrtException {
            this.env = env;
            this.info = new ObjectMapper().readTree(dir.resolve("onnx.json").toFile());
            this.vocab = info.get("vocab_size").asInt();
            this.layers = info.get("layers").asInt();
            this.kvHeads = info.get("kv_heads").asLong();
            this.headDim = info.get("head_dim").asLong();
            info.get("past_names").forEach(n -> pastNames.add(n.asText()));
            info.get("present_names").forEach(n -> presentNames.add(n.asText()));
            JsonNode files = info.path("graphs").path(weights);
            if (files.isMissingNode()) {
                throw new IOException(dir + "/onnx.json has no " + weights + " graphs");
            }
            try (OrtSession.SessionOptions so = options(threads)) {
                this.decoder = env.createSession(
                        dir.resolve(files.get("decoder").asText()).toString(), so);
                // A decoder-only export (training/export_qwen3_embedding_onnx.py --decoder) has no embed graph.
                this.embedder = files.has("embed")
                        ? env.createSession(
                                dir.resolve(files.get("embed").asText()).toString(), so)
                        : null;
            }
        }

        /** Max |logit difference| between this graph and the Java runtime over the first {@code n} positions. */
        public double logitParity(Path f32Dir, int n) throws Exception {
            int[] tokens = new Random(11).ints(n, 0, vocab).toArray();
            float[][] java;
            try (Model model = Model.load(f32Dir);
                    InferenceSession s = model.newSession()) {
                java = s.logits(tokens);
            }
            double max = 0;
            try (Step step = new Step(this)) {
                for (int i = 0; i < n; i++) {
                    float[] onnx = step.next(new int[] {tokens[i]}, i);
                    for (int v = 0; v < vocab; v++) {
                        max = Math.max(max, Math.abs(onnx[v] - java[i][v]));
                    }
                }
            }
            return max;
        }

        /** Tokens/s of {@code tokens} greedy steps after a prefill of {@code prompt} (logits every token). */
        double decode(int[] prompt, int tokens) throws OrtException {
            try (Step step = new Step(this)) {
                float[] logits = step.next(prompt, 0);
                int pos = prompt.length;
                long t0 = System.nanoTime();
                for (int i = 0; i < tokens; i++) {
                    logits = step.next(new int[] {argmax(logits)}, pos++);
                }
                return tokens / ((System.nanoTime() - t0) / 1e9);
            }
        }

        /** Tokens/s of one forward over {@code tokens} from an empty cache (last logits). */
        double prefill(int[] tokens) throws OrtException {
            long t0 = System.nanoTime();
            try (Step step = new Step(this)) {
                step.next(tokens, 0);
            }
            return tokens.length / ((System.nanoTime() - t0) / 1e9);
        }

        /** Events/s of one forward over the right-padded batch (mean-pooled embeddings read out). */
        double embed(int[][] ids) throws OrtException {
            long t0 = System.nanoTime();
            embeddings(ids);
            return ids.length / ((System.nanoTime() - t0) / 1e9);
        }

        /** Mean-pooled final hidden states [batch][hidden] of a right-padded batch. */
        public float[][] embeddings(int[][] ids) throws OrtException {
            if (embedder == null) {
                throw new IllegalStateException("this export has no embed graph");
            }
            int t = Arrays.stream(ids).mapToInt(a -> a.length).max().orElse(0);
            long[] tokens = new long[ids.length * t];
            long[] mask = new long[ids.length * t];
            for (int b = 0; b < ids.length; b++) {
                for (int i = 0; i < ids[b].length; i++) {
                    tokens[b * t + i] = ids[b][i];
                    mask[b * t + i] = 1;
                }
            }
            long[] shape = {ids.length, t};
            try (OnnxTensor in = OnnxTensor.createTensor(env, LongBuffer.wrap(tokens), shape);
                    OnnxTensor m = OnnxTensor.createTensor(env, LongBuffer.wrap(mask), shape);
                    OrtSession.Result r = embedder.run(Map.of("input_ids", in, "attention_mask", m))) {
                return (float[][]) r.get(0).getValue();
            }
        }

        @Override
        public void close() throws OrtException {
            decoder.close();
            if (embedder != null) {
                embedder.close();
            }
        }
    }

    /** One sequence through the decoder graph: the previous step's result holds the cache. */
    static final class Step implements AutoCloseable {
        private final Graphs g;
        private final List<OnnxTensor> empty = new ArrayList<>();
        private OrtSession.Result last;

        Step(Graphs g) throws OrtException {
            this.g = g;
            for (int i = 0; i < g.pastNames.size(); i++) {
                empty.add(OnnxTensor.createTensor(
                        g.env, FloatBuffer.allocate(0), new long[] {1, g.kvHeads, 0, g.headDim}));
            }
        }

        /** Logits of the last of {@code tokens}, placed at positions {@code start}... */
        float[] next(int[] tokens, int start) throws OrtException {
            long[] ids = new long[tokens.length];
            long[] pos = new long[tokens.length];
            for (int i = 0; i < tokens.length; i++) {
                ids[i] = tokens[i];
                pos[i] = start + i;
            }
            long[] shape = {1, tokens.length};
            try (OnnxTensor in = OnnxTensor.createTensor(g.env, LongBuffer.wrap(ids), shape);
                    OnnxTensor p = OnnxTensor.createTensor(g.env, LongBuffer.wrap(pos), shape)) {
                Map<String, OnnxTensor> inputs = new HashMap<>();
                inputs.put("input_ids", in);
                inputs.put("position_ids", p);
                for (int i = 0; i < g.pastNames.size(); i++) {
                    inputs.put(
                            g.pastNames.get(i),
                            last == null
                                    ? empty.get(i)
                                    : (OnnxTensor)
                                            last.get(g.presentNames.get(i)).orElseThrow());
                }
                OrtSession.Result r = g.decoder.run(inputs);
                if (last != null) {
                    last.close();
                }
                last = r;
                OnnxValue logits = r.get("logits").orElseThrow();
                FloatBuffer fb = ((OnnxTensor) logits).getFloatBuffer();
                float[] out = new float[fb.remaining()];
                fb.get(out);
                return out;
            }
        }

        @Override
        public void close() {
            if (last != null) {
                last.close();
            }
            empty.forEach(OnnxTensor::close);
        }
    }

    static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }
}
