package dev.qsparse.runtime.calibration;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.inference.InferenceSession;
import dev.qsparse.runtime.model.BertConfig;
import dev.qsparse.runtime.model.LayerTopK;
import dev.qsparse.runtime.model.MiniLmDirectory;
import dev.qsparse.runtime.model.ModelConverter;
import dev.qsparse.runtime.model.SafetensorsWriter;
import dev.qsparse.runtime.model.TopKCentres;
import dev.qsparse.runtime.safetensors.ModelLoadException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Per-layer kept fractions on the real all-MiniLM-L6-v2: {@code topk_ratio_layers} reads as
 * written and is refused by file and key when malformed; a {@link Model#withTopK} view embeds
 * exactly as a directory whose config.json holds the same fractions; and calibration reaches its
 * target on the corpus while skipping weight reads.
 */
class TopKCalibrationTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> TEXTS = List.of(
            "A man is eating food.",
            "Elinor's happiness was not so great.",
            "The quick brown fox jumps over the lazy dog, twice over.",
            "Flink checkpoints the records still in flight.",
            "Ein Mann isst Brot.",
            "Tables and streams are two views of one thing.");

    @TempDir
    static Path tmp;

    static Path minilm;

    @BeforeAll
    static void writeModel() throws IOException {
        minilm = MiniLmDirectory.write(tmp.resolve("all-MiniLM-L6-v2"));
    }

    /** A copy of the MiniLM directory whose config.json is {@code edit}ed. */
    private static Path withConfig(String name, Consumer<ObjectNode> edit) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve(name));
        for (String f : List.of("model.safetensors", "tokenizer.json", "modules.json", "sentence_bert_config.json")) {
            Files.createLink(dir.resolve(f), minilm.resolve(f));
        }
        Files.createDirectories(dir.resolve("1_Pooling"));
        Files.copy(minilm.resolve("1_Pooling/config.json"), dir.resolve("1_Pooling/config.json"));
        Files.createDirectories(dir.resolve("2_Normalize"));
        ObjectNode config =
                (ObjectNode) JSON.readTree(minilm.resolve("config.json").toFile());
        edit.accept(config);
        Files.writeString(dir.resolve("config.json"), config.toString());
        return dir;
    }

    private static LayerTopK someFractions() {
        LayerTopK t = LayerTopK.uniform(MiniLmDirectory.LAYERS, 1, 1, 1, 1);
        t = t.with(0, LayerTopK.Group.MLP_OUT, 0.5);
        t = t.with(3, LayerTopK.Group.ATTN, 0.7);
        return t.with(5, LayerTopK.Group.MLP, 0.8);
    }

    @Test
    void aViewEmbedsExactlyAsTheWrittenConfig() throws IOException {
        LayerTopK t = someFractions();
        Path dir = withConfig("written", c -> c.set(LayerTopK.KEY, JSON.valueToTree(t.toJson())));
        try (Model base = Model.load(minilm);
                Model written = Model.load(dir);
                InferenceSession a = new InferenceSession(base.withTopK(t));
                InferenceSession b = written.newSession();
                InferenceSession dense = base.newSession()) {
            assertEquals(t, ((BertConfig) written.config()).topK());
            for (String text : TEXTS) {
                float[] got = a.embed(text, null).vector();
                assertArrayEquals(b.embed(text, null).vector(), got, text);
                assertTrue(a.embed(text, null).stats().activationSparsity() > 0.02, text);
                // The base keeps every input (its few zeros are the activations' own).
                assertTrue(dense.embed(text, null).stats().activationSparsity() < 0.001, "the base is untouched");
            }
        }
    }

    @Test
    void aSharedRatioIsTheDefaultOfEveryLayerEntry() throws IOException {
        Path dir = withConfig("shared", c -> {
            c.put("topk_ratio_mlp", 0.6);
            ArrayNode layers = c.putArray(LayerTopK.KEY);
            for (int l = 0; l < MiniLmDirectory.LAYERS; l++) {
                layers.addObject().put("attn", 0.9);
            }
        });
        try (Model m = Model.load(dir)) {
            LayerTopK t = ((BertConfig) m.config()).topK();
            assertEquals(0.9, t.ratio(2, LayerTopK.Group.ATTN));
            assertEquals(0.6, t.ratio(2, LayerTopK.Group.MLP));
            assertEquals(1.0, t.ratio(2, LayerTopK.Group.MLP_OUT));
        }
    }

    @Test
    void malformedLayerFractionsAreRefusedByFileAndKey() throws IOException {
        refused(
                withConfig("short", c -> c.putArray(LayerTopK.KEY).addObject()),
                "'topk_ratio_layers' must be an array of one object per layer (6), got 1 entries");
        refused(
                withConfig("unknown", c -> layers(c).get(2).put("ffn", 0.5)),
                "'topk_ratio_layers'[2]: unknown key 'ffn' (expected attn, attn_out, mlp, mlp_out)");
        refused(
                withConfig("zero", c -> layers(c).get(4).put("mlp", 0)),
                "'topk_ratio_layers[4].mlp' must be a number in (0, 1], got 0");
        refused(
                withConfig("text", c -> layers(c).get(1).put("attn", "0.5")),
                "'topk_ratio_layers[1].attn' must be a number in (0, 1], got \"0.5\"");
        refused(withConfig("object", c -> c.putObject(LayerTopK.KEY)), "got object");
    }

    private static List<ObjectNode> layers(ObjectNode c) {
        ArrayNode a = c.putArray(LayerTopK.KEY);
        for (int l = 0; l < MiniLmDirectory.LAYERS; l++) {
            a.addObject();
        }
        return java.util.stream.IntStream.range(0, MiniLmDirectory.LAYERS)
                .mapToObj(l -> (ObjectNode) a.get(l))
                .toList();
    }

    private static void refused(Path dir, String message) {
        ModelLoadException e =
                assertThrows(ModelLoadException.class, () -> Model.load(dir).close());
        assertTrue(e.getMessage().startsWith(dir.resolve("config.json") + ": "), e.getMessage());
        assertTrue(e.getMessage().contains(message), e.getMessage());
    }

    private static double meanCosine(InferenceSession dense, InferenceSession other) {
        double sum = 0;
        for (String text : TEXTS) {
            sum += CorpusEvaluation.cosine(
                    dense.embed(text, null).vector(), other.embed(text, null).vector());
        }
        return sum / TEXTS.size();
    }

    /**
     * Centres change only what top-K drops: with every input kept, or with centres of zero, the
     * embeddings are the model's bit for bit; at uniform 0.7 dropping the inputs nearest their
     * median keeps the embeddings closer to the dense ones than dropping the smallest; a directory
     * whose config.json names the written centres embeds exactly as the view.
     */
    @Test
    void centresChangeOnlyWhatTopKDrops() throws IOException {
        LayerTopK seventy = LayerTopK.uniform(MiniLmDirectory.LAYERS, 0.7, 0.7, 0.7, 0.7);
        LayerTopK dense = LayerTopK.uniform(MiniLmDirectory.LAYERS, 1, 1, 1, 1);
        try (Model base = Model.load(minilm)) {
            TopKCentres medians = TopKCentreEstimator.estimate(base, TEXTS);
            float[] mlpOut = medians.copyOf(2, LayerTopK.Group.MLP_OUT);
            assertEquals(MiniLmDirectory.INTERMEDIATE, mlpOut.length);
            float[][][] zero = new float[MiniLmDirectory.LAYERS][4][];
            for (int l = 0; l < zero.length; l++) {
                for (LayerTopK.Group g : LayerTopK.Group.values()) {
                    zero[l][g.ordinal()] = new float[medians.copyOf(l, g).length];
                }
            }
            TopKCentres zeros = TopKCentres.of(zero, MiniLmDirectory.HIDDEN, MiniLmDirectory.INTERMEDIATE);
            Path dir = withConfig("centred", c -> {
                c.set(LayerTopK.KEY, JSON.valueToTree(seventy.toJson()));
                c.put(TopKCentres.KEY, "centres.safetensors");
            });
            medians.write(dir.resolve("centres.safetensors"));
            try (InferenceSession plain = new InferenceSession(base.withTopK(dense));
                    InferenceSession centredDense =
                            new InferenceSession(base.withTopKCentres(medians).withTopK(dense));
                    InferenceSession top = new InferenceSession(base.withTopK(seventy));
                    InferenceSession zeroCentred =
                            new InferenceSession(base.withTopKCentres(zeros).withTopK(seventy));
                    InferenceSession centred =
                            new InferenceSession(base.withTopKCentres(medians).withTopK(seventy));
                    Model written = Model.load(dir);
                    InferenceSession fromDir = written.newSession()) {
                assertEquals(medians, ((BertConfig) written.config()).topKCentres());
                Path int8 = tmp.resolve("centred-int8");
                ModelConverter.convert(dir, int8, ModelConverter.Target.INT8, true);
                try (Model converted = Model.load(int8)) {
                    assertEquals(medians, ((BertConfig) converted.config()).topKCentres(), "conversion keeps them");
                }
                for (String text : TEXTS) {
                    assertArrayEquals(
                            plain.embed(text, null).vector(),
                            centredDense.embed(text, null).vector(),
                            text);
                    assertArrayEquals(
                            top.embed(text, null).vector(),
                            zeroCentred.embed(text, null).vector(),
                            text);
                    assertArrayEquals(
                            centred.embed(text, null).vector(),
                            fromDir.embed(text, null).vector(),
                            text);
                    double zerosCentred = centred.embed(text, null).stats().activationSparsity();
                    assertEquals(top.embed(text, null).stats().activationSparsity(), zerosCentred, 0.01, text);
                }
                double uncentredCosine = meanCosine(plain, top);
                double centredCosine = meanCosine(plain, centred);
                assertTrue(
                        centredCosine > uncentredCosine + 0.002,
                        "centred " + centredCosine + " against " + uncentredCosine + " at 30% zeros");
            }
        }
    }

    /** The medians' samples stay within their memory budget for a large encoder, and keep 512 tokens for a small one. */
    @Test
    void centreSamplesAreBoundedByTheEncodersSize() {
        long miniLm = 6L * (3 * 384 + 1536);
        long bgeLarge = 24L * (3 * 1024 + 4096);
        assertEquals(TopKCentreEstimator.MAX_TOKENS, TopKCentreEstimator.tokensPerInput(miniLm));
        int large = TopKCentreEstimator.tokensPerInput(bgeLarge);
        assertTrue(large < TopKCentreEstimator.MAX_TOKENS && large >= TopKCentreEstimator.MIN_TOKENS, "" + large);
        assertTrue(4L * large * bgeLarge <= (long) TopKCentreEstimator.MAX_SAMPLE_MIB << 20, "" + large);
        assertEquals(TopKCentreEstimator.MIN_TOKENS, TopKCentreEstimator.tokensPerInput(1L << 40));
    }

    @Test
    void malformedCentresAreRefusedByFileAndTensor() throws IOException {
        Path missing = withConfig("no-centres-file", c -> c.put(TopKCentres.KEY, "centres.safetensors"));
        ModelLoadException e =
                assertThrows(ModelLoadException.class, () -> Model.load(missing).close());
        assertTrue(e.getMessage().startsWith(missing.resolve("centres.safetensors") + ": missing"), e.getMessage());
        refused(
                withConfig("outside", c -> c.put(TopKCentres.KEY, "../centres.safetensors")),
                "'topk_centres' must be a plain file name inside the model directory");
        refused(withConfig("number", c -> c.put(TopKCentres.KEY, 3)), "'topk_centres' must be a file name");
        String layer0 = "layers.0.mlp_out";
        centresRefused("short", w -> {}, layer0, "missing (one centre per layer and group)", layer0);
        centresRefused(
                "wide",
                w -> add(w, layer0, new float[MiniLmDirectory.HIDDEN]),
                layer0,
                "F32[" + MiniLmDirectory.HIDDEN + "], expected F32[" + MiniLmDirectory.INTERMEDIATE + "]",
                null);
        centresRefused(
                "extra",
                w -> add(w, "layers.6.attn", new float[MiniLmDirectory.HIDDEN]),
                "layers.6.attn",
                "not a centre of this model",
                null);
        float[] nan = new float[MiniLmDirectory.INTERMEDIATE];
        nan[7] = Float.NaN;
        centresRefused("nan", w -> add(w, layer0, nan), layer0, "a value is not finite", layer0);
        // Centres built for another shape are refused by a view too, naming the centre.
        float[][][] narrow = new float[MiniLmDirectory.LAYERS][4][];
        for (float[][] layer : narrow) {
            for (int g = 0; g < 4; g++) {
                layer[g] = new float[MiniLmDirectory.HIDDEN];
            }
        }
        TopKCentres other = TopKCentres.of(narrow, MiniLmDirectory.HIDDEN, MiniLmDirectory.HIDDEN);
        try (Model base = Model.load(minilm)) {
            IllegalArgumentException wrong =
                    assertThrows(IllegalArgumentException.class, () -> base.withTopKCentres(other));
            assertTrue(
                    wrong.getMessage().contains("top-K centre layers.0.mlp_out: 384 values, the input is 1536 wide"),
                    wrong.getMessage());
        }
    }

    /** A centres file with every tensor but {@code skip} at zero, plus what {@code more} adds; refused naming {@code tensor}. */
    private static void centresRefused(
            String name, Consumer<SafetensorsWriter> more, String tensor, String message, String skip)
            throws IOException {
        Path dir = withConfig("centres-" + name, c -> c.put(TopKCentres.KEY, "c.safetensors"));
        SafetensorsWriter w = new SafetensorsWriter();
        for (int l = 0; l < MiniLmDirectory.LAYERS; l++) {
            for (LayerTopK.Group g : LayerTopK.Group.values()) {
                String n = "layers." + l + "." + g.key;
                if (!n.equals(skip) && !(name.equals("wide") && n.equals(tensor))) {
                    int width = g == LayerTopK.Group.MLP_OUT ? MiniLmDirectory.INTERMEDIATE : MiniLmDirectory.HIDDEN;
                    add(w, n, new float[width]);
                }
            }
        }
        more.accept(w);
        w.write(dir.resolve("c.safetensors"));
        ModelLoadException e =
                assertThrows(ModelLoadException.class, () -> Model.load(dir).close());
        assertTrue(e.getMessage().contains(dir.resolve("c.safetensors").toString()), e.getMessage());
        assertTrue(e.getMessage().contains(tensor), e.getMessage());
        assertTrue(e.getMessage().contains(message), e.getMessage());
    }

    private static void add(SafetensorsWriter w, String name, float[] values) {
        w.add(name, "F32", new long[] {values.length}, 4L * values.length, () -> {
            ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
            b.asFloatBuffer().put(values);
            return b;
        });
    }

    @Test
    void calibrationMeetsItsTargetAndSkipsWeightReads() throws IOException {
        ByteArrayOutputStream progress = new ByteArrayOutputStream();
        try (Model m = Model.load(minilm)) {
            CorpusEvaluation eval = new CorpusEvaluation(m, TEXTS, 1);
            TopKCalibrator c = new TopKCalibrator(
                    (BertConfig) m.config(), eval, new PrintStream(progress, true, StandardCharsets.UTF_8));
            TopKCalibrator.Result r = c.calibrate(0.98);
            assertTrue(r.quality().meanCosine() >= 0.98, r.toString());
            assertEquals(r.quality(), eval.evaluate(r.topK()), "the reported quality is the choice's");
            assertTrue(r.weightReadsSkipped() > 0.2, "weight reads skipped " + r.weightReadsSkipped());
            assertEquals(c.skipped(r.topK()), r.weightReadsSkipped(), 1e-12);
            assertTrue(r.quality().activationSparsity() > 0.1, r.toString());
            assertTrue(
                    r.quality().meanCosine() > r.uniformQuality().meanCosine(),
                    "per-projection beats uniform top-K at the same weight reads: " + r);
        }
        assertTrue(progress.toString(StandardCharsets.UTF_8).contains("calibrate: layer 5 mlp_out: loss alone"));
    }

    /**
     * With 8-bit activations the budget is what is left after their rounding (measured against
     * float activations: two 8-bit variants differ by re-rolled rounding as much as each from the
     * float model), and a target the rounding alone misses keeps every input.
     */
    @Test
    void int8ActivationsTakeTheirShareOfTheBudgetFirst() throws IOException {
        Path int8 = tmp.resolve("int8");
        ModelConverter.convert(minilm, int8, ModelConverter.Target.INT8, true);
        ObjectNode config =
                (ObjectNode) JSON.readTree(int8.resolve("config.json").toFile());
        Files.writeString(
                int8.resolve("config.json"), config.put("activation_bits", 8).toString());
        try (Model m = Model.load(int8)) {
            CorpusEvaluation eval = new CorpusEvaluation(m, TEXTS, 1);
            LayerTopK dense = LayerTopK.uniform(MiniLmDirectory.LAYERS, 1, 1, 1, 1);
            double base = eval.evaluate(dense).meanCosine();
            assertTrue(base > 0.99 && base < 0.9999, "8-bit activations alone: " + base);
            PrintStream quiet = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
            TopKCalibrator c = new TopKCalibrator((BertConfig) m.config(), eval, quiet);
            TopKCalibrator.Result r = c.calibrate(0.98);
            assertTrue(r.quality().meanCosine() >= 0.98, r.toString());
            assertTrue(r.weightReadsSkipped() > 0.1, r.toString());
            TopKCalibrator.Result none = c.calibrate((1 + base) / 2);
            assertEquals(dense, none.topK(), "a target above what the rounding allows keeps every input");
            assertEquals(0.0, none.weightReadsSkipped());
        }
    }
}
