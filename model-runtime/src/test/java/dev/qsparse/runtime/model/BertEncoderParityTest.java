package dev.qsparse.runtime.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.inference.InferenceRequest;
import dev.qsparse.runtime.inference.InferenceResult;
import dev.qsparse.runtime.inference.InferenceSession;
import dev.qsparse.runtime.inference.Pooling;
import dev.qsparse.runtime.tokenizer.WordPieceReferenceTest;
import dev.qsparse.runtime.tokenizer.WordPieceTokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real all-MiniLM-L6-v2, loaded as a sentence-transformers directory (built from langchain4j's
 * ONNX export, {@link MiniLmDirectory}), embeds every line of a multilingual corpus as ONNX Runtime
 * does running that same export: ONNX Runtime is given our ids (equal to the Rust tokenizers
 * library's, through DJL, wherever the text holds no special token), its last hidden states are mean-pooled and L2-normalised here, and
 * ours come from the text through the session API (our tokenizer, our truncation, the model's own
 * pooling). Cosine >= 0.9999 on every line.
 */
class BertEncoderParityTest {

    static {
        // DJL unpacks its native library into a cache: keep that under target/, and never download.
        String cache = Path.of("target", "djl-cache").toAbsolutePath().toString();
        System.setProperty("DJL_CACHE_DIR", cache);
        System.setProperty("ENGINE_CACHE_DIR", cache);
        System.setProperty("offline", "true");
    }

    /** The tokenizer corpus, plus texts past max_seq_length (cut) and a few ordinary sentences. */
    static final List<String> CORPUS = corpus();

    @TempDir
    static Path tmp;

    static Path dir;
    static Model model;
    static OrtEnvironment env;
    static OrtSession onnx;
    static HuggingFaceTokenizer truncating;

    static List<String> corpus() {
        List<String> c = new ArrayList<>(WordPieceReferenceTest.CORPUS);
        c.add("A man is eating food.");
        c.add("A man is eating a piece of bread.");
        c.add("The new movie is awesome, said the critic; the audience disagreed loudly.");
        c.add("Kafka streams carry events; Flink enriches them with embeddings in real time.");
        c.add("Das ist ein sehr langer deutscher Satz über Datenströme und Vektorsuche. ".repeat(30));
        c.add("長い日本語の文章です。".repeat(60));
        return List.copyOf(c);
    }

    @BeforeAll
    static void setUp() throws Exception {
        dir = MiniLmDirectory.write(tmp.resolve("all-MiniLM-L6-v2"), "");
        model = Model.load(dir);
        env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(1);
            onnx = env.createSession(MiniLmDirectory.onnxFile(tmp).toString(), options);
        }
        Path tokenizer = dir.resolve("tokenizer.json");
        truncating = HuggingFaceTokenizer.builder()
                .optTokenizerPath(tokenizer)
                .optTruncation(true)
                .optMaxLength(MiniLmDirectory.MAX_SEQ_LENGTH)
                .build();
    }

    @AfterAll
    static void tearDown() throws Exception {
        for (AutoCloseable c : new AutoCloseable[] {model, onnx, truncating}) {
            if (c != null) {
                c.close();
            }
        }
    }

    /**
     * The ids our session gives the model: the text read literally (a "[SEP]" written in it is
     * text, never the control token), cut to max_seq_length with [CLS] and [SEP] around it. Where
     * the text holds no special token they are the Rust library's ids, checked here.
     */
    static long[] ids(String text) {
        WordPieceTokenizer t = (WordPieceTokenizer) model.tokenizer().orElseThrow();
        int[] content = t.encode(text);
        int keep = Math.min(content.length, MiniLmDirectory.MAX_SEQ_LENGTH - 2);
        long[] ids = new long[keep + 2];
        ids[0] = t.tokenId("[CLS]").orElseThrow();
        for (int i = 0; i < keep; i++) {
            ids[i + 1] = content[i];
        }
        ids[keep + 1] = t.tokenId("[SEP]").orElseThrow();
        if (Arrays.equals(content, t.encodeWithSpecialTokens(text))) {
            assertArrayEquals(truncating.encode(text, true, false).getIds(), ids, () -> "ids of " + text);
        }
        return ids;
    }

    /** ONNX Runtime's last hidden states for {@code ids}, mean-pooled and L2-normalised in double. */
    static float[] reference(long[] ids) throws Exception {
        int n = ids.length;
        long[] mask = new long[n];
        Arrays.fill(mask, 1);
        Map<String, OnnxTensor> inputs = new HashMap<>();
        try {
            for (String name : onnx.getInputNames()) {
                long[] values = switch (name) {
                    case "input_ids" -> ids;
                    case "attention_mask" -> mask;
                    case "token_type_ids" -> new long[n];
                    default -> throw new IllegalStateException("unexpected ONNX input " + name);
                };
                inputs.put(name, OnnxTensor.createTensor(env, new long[][] {values}));
            }
            try (OrtSession.Result r = onnx.run(inputs)) {
                float[][] states =
                        ((float[][][]) r.get("last_hidden_state").orElseThrow().getValue())[0];
                double[] sum = new double[states[0].length];
                for (float[] row : states) {
                    for (int i = 0; i < sum.length; i++) {
                        sum[i] += row[i];
                    }
                }
                double norm = 0;
                for (double v : sum) {
                    norm += v * v;
                }
                float[] out = new float[sum.length];
                for (int i = 0; i < out.length; i++) {
                    out[i] = (float) (sum[i] / Math.sqrt(norm));
                }
                return out;
            }
        } finally {
            inputs.values().forEach(OnnxTensor::close);
        }
    }

    static double cosine(float[] a, float[] b) {
        double dot = 0;
        double na = 0;
        double nb = 0;
        for (int i = 0; i < a.length; i++) {
            dot += (double) a[i] * b[i];
            na += (double) a[i] * a[i];
            nb += (double) b[i] * b[i];
        }
        return dot / Math.sqrt(na * nb);
    }

    @Test
    void everyLineMatchesOnnxRuntime() throws Exception {
        assertInstanceOf(BertEncoder.class, model.network());
        double min = 1;
        double sum = 0;
        boolean sawTruncation = false;
        try (InferenceSession session = model.newSession()) {
            for (String text : CORPUS) {
                long[] ids = ids(text);
                InferenceResult.Embedding ours = session.embed(text, null);
                assertEquals(Pooling.MEAN, ours.pooling(), "the model's 1_Pooling says mean");
                assertEquals(ids.length, ours.stats().inputTokens(), () -> "tokens of " + text);
                boolean cut = model.tokenizer().orElseThrow().encode(text).length + 2 > MiniLmDirectory.MAX_SEQ_LENGTH;
                assertEquals(cut, ours.stats().inputTruncated(), () -> "truncated? " + text);
                sawTruncation |= cut;
                double c = cosine(ours.vector(), reference(ids));
                assertTrue(c >= 0.9999, "cosine " + c + " for: " + text);
                min = Math.min(min, c);
                sum += c;
            }
        }
        assertTrue(sawTruncation, "the corpus has a text longer than max_seq_length");
        System.out.printf(
                "BertEncoderParityTest f32: cosine to ONNX Runtime over %d lines: min %.9f mean %.9f%n",
                CORPUS.size(), min, sum / CORPUS.size());
    }

    /** Cosines of an int8 model to the float reference: least and mean over texts with a token, and the empty text's. */
    record Int8Quality(double min, double mean, double noText, int lines) {}

    /**
     * {@code convert --weights int8} with {@code activation_bits: 8} and the given {@code
     * activation_outlier_threshold} (0: none): every line's cosine to ONNX Runtime's f32 embedding.
     */
    static Int8Quality int8Quality(String name, double outlierThreshold) throws Exception {
        Path int8 = tmp.resolve(name);
        ModelConverter.Result converted = ModelConverter.convert(dir, int8, ModelConverter.Target.INT8, true);
        assertEquals(MiniLmDirectory.LAYERS * 6, converted.quantizedTensors());
        com.fasterxml.jackson.databind.node.ObjectNode config =
                (com.fasterxml.jackson.databind.node.ObjectNode) new com.fasterxml.jackson.databind.ObjectMapper()
                        .readTree(int8.resolve("config.json").toFile());
        config.put("activation_bits", 8);
        if (outlierThreshold > 0) {
            config.put("activation_outlier_threshold", outlierThreshold);
        }
        MiniLmDirectory.writeJson(int8.resolve("config.json"), config);
        double min = 1;
        double sum = 0;
        int lines = 0;
        double noText = 1;
        try (Model quantized = Model.load(int8);
                InferenceSession session = quantized.newSession()) {
            assertEquals("int8+F32", quantized.network().weightFormat());
            List<InferenceRequest> batch = new ArrayList<>();
            for (String text : CORPUS) {
                batch.add(InferenceRequest.embed(text, null));
            }
            List<InferenceResult> together = session.run(batch);
            for (int i = 0; i < CORPUS.size(); i++) {
                String text = CORPUS.get(i);
                float[] alone = session.embed(text, null).vector();
                assertArrayEquals(
                        alone,
                        assertInstanceOf(InferenceResult.Embedding.class, together.get(i))
                                .vector(),
                        () -> "a batch gives each text its own embedding: " + text);
                double c = cosine(alone, reference(ids(text)));
                if (quantized.tokenizer().orElseThrow().encode(text).length == 0) {
                    noText = Math.min(noText, c); // [CLS] [SEP] alone
                    continue;
                }
                min = Math.min(min, c);
                sum += c;
                lines++;
            }
        }
        Int8Quality q = new Int8Quality(min, sum / lines, noText, lines);
        System.out.printf(
                "BertEncoderParityTest %s: cosine to ONNX Runtime f32 over %d lines with text: min %.6f mean %.6f;"
                        + " texts with no token ([CLS] [SEP] only): %.6f%n",
                name, q.lines(), q.min(), q.mean(), q.noText());
        return q;
    }

    /**
     * Plain int8 weights and activations (per-token absmax, as Q-Sparse defines it): every line with
     * text >= 0.99, mean >= 0.995; [CLS] [SEP] alone falls below, as their huge outlier channels
     * leave the other inputs a few int8 steps (measured 0.9776), held here so that it cannot drift.
     */
    @Test
    void int8WeightsAndActivationsStayClose() throws Exception {
        Int8Quality q = int8Quality("int8", 0);
        assertTrue(q.min() >= 0.99, "least cosine " + q.min());
        assertTrue(q.mean() >= 0.995, "mean cosine " + q.mean());
        assertTrue(q.noText() >= 0.975, "cosine of an empty text " + q.noText());
    }

    /**
     * With {@code activation_outlier_threshold: 8} the few inputs above 8x their vector's RMS stay
     * float: every line, the empty text included, >= 0.99 (measured 0.995), mean >= 0.998.
     */
    @Test
    void activationOutliersKeepEveryLineAboveTheGoal() throws Exception {
        Int8Quality q = int8Quality("int8-outliers", 8);
        assertTrue(q.min() >= 0.99, "least cosine " + q.min());
        assertTrue(q.noText() >= 0.99, "cosine of an empty text " + q.noText());
        assertTrue(q.mean() >= 0.998, "mean cosine " + q.mean());
    }

    /** A micro-batch packs several texts per pass (and runs a long one alone): each result is its result alone. */
    @Test
    void aMicroBatchGivesEachTextItsOwnEmbedding() {
        try (InferenceSession session = model.newSession()) {
            List<InferenceRequest> batch = new ArrayList<>();
            List<float[]> alone = new ArrayList<>();
            for (String text : CORPUS) {
                batch.add(InferenceRequest.embed(text, null));
                alone.add(session.embed(text, null).vector());
            }
            List<InferenceResult> together = session.run(batch);
            for (int i = 0; i < CORPUS.size(); i++) {
                int at = i;
                assertArrayEquals(
                        alone.get(i),
                        assertInstanceOf(InferenceResult.Embedding.class, together.get(i))
                                .vector(),
                        () -> "line " + at);
            }
        }
    }

    /** A BertFor* checkpoint nests the encoder under "bert.": the same weights give the same bits. */
    @Test
    void bertPrefixedNamesLoadTheSameModel() throws Exception {
        Path prefixed = MiniLmDirectory.write(tmp.resolve("prefixed"), "bert.");
        try (Model other = Model.load(prefixed);
                InferenceSession a = model.newSession();
                InferenceSession b = other.newSession()) {
            String text = CORPUS.get(0);
            assertArrayEquals(a.embed(text, null).vector(), b.embed(text, null).vector());
        }
    }

    @Test
    void generateAndScoreFailNamingTheEncoder() {
        try (InferenceSession session = model.newSession()) {
            for (InferenceRequest r :
                    List.of(InferenceRequest.score("some text"), InferenceRequest.generate("some text", null))) {
                InferenceResult.Failure f = assertInstanceOf(InferenceResult.Failure.class, session.run(r));
                assertTrue(f.reason().contains("is an encoder (model_type bert)"), f.reason());
            }
        }
    }
}
