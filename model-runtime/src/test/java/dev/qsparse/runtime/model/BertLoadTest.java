package dev.qsparse.runtime.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.inference.Pooling;
import dev.qsparse.runtime.safetensors.ModelLoadException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real MiniLM directory with one thing changed that we do not implement, or that is broken:
 * each is refused at load, the message naming the file and the key or tensor.
 */
class BertLoadTest {

    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path tmp;

    static Path original;
    static int cases;

    @BeforeAll
    static void build() throws IOException {
        original = MiniLmDirectory.write(tmp.resolve("original"), "");
    }

    /** A copy of the directory (weights hard-linked) with {@code file}'s JSON object edited. */
    static Path variant(String file, Consumer<ObjectNode> edit) throws IOException {
        Path dir = tmp.resolve("case" + cases++);
        try (Stream<Path> files = Files.walk(original)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                Path target = dir.resolve(original.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else if (p.getFileName().toString().endsWith(".safetensors")) {
                    Files.createLink(target, p);
                } else {
                    Files.copy(p, target);
                }
            }
        }
        if (file != null) {
            ObjectNode node = (ObjectNode) JSON.readTree(dir.resolve(file).toFile());
            edit.accept(node);
            MiniLmDirectory.writeJson(dir.resolve(file), node);
        }
        return dir;
    }

    static void refused(Path dir, String file, String... named) {
        ModelLoadException e =
                assertThrows(ModelLoadException.class, () -> Model.load(dir).close());
        String m = e.getMessage();
        assertTrue(m.startsWith(dir.resolve(file).toString()), () -> "names " + file + ": " + m);
        for (String s : named) {
            assertTrue(m.contains(s), () -> "names " + s + ": " + m);
        }
    }

    @Test
    void theOriginalLoadsWithItsModules() throws IOException {
        try (Model m = Model.load(original)) {
            BertConfig c = (BertConfig) m.config();
            assertEquals(new SentenceModules(256, Pooling.MEAN, true), c.modules());
            assertEquals(256, c.contextLength());
            assertEquals(1e-12f, c.layerNormEps());
        }
    }

    @Test
    void unknownHiddenActIsRefused() throws IOException {
        refused(
                variant("config.json", c -> c.put("hidden_act", "gelu_new")),
                "config.json",
                "'hidden_act'",
                "gelu_new");
    }

    @Test
    void relativePositionsAreRefused() throws IOException {
        refused(
                variant("config.json", c -> c.put("position_embedding_type", "relative_key")),
                "config.json",
                "'position_embedding_type'",
                "relative_key");
    }

    @Test
    void outOfRangeOutlierThresholdsAreRefused() throws IOException {
        refused(
                variant("config.json", c -> c.put("activation_bits", 8).put("activation_outlier_threshold", 0.5)),
                "config.json",
                "'activation_outlier_threshold'",
                "0.5");
        refused(
                variant("config.json", c -> c.put("activation_bits", 8).put("activation_outlier_threshold", 1001)),
                "config.json",
                "'activation_outlier_threshold'");
        refused(
                variant("config.json", c -> c.put("activation_outlier_threshold", 8)),
                "config.json",
                "activation_outlier_threshold",
                "activation_bits 8");
    }

    @Test
    void aCausalBertIsRefused() throws IOException {
        refused(variant("config.json", c -> c.put("is_decoder", true)), "config.json", "'is_decoder'");
    }

    @Test
    void unimplementedPoolingModesAreRefused() throws IOException {
        refused(
                variant("1_Pooling/config.json", c -> c.put("pooling_mode_weightedmean_tokens", true)),
                "1_Pooling/config.json",
                "'pooling_mode_weightedmean_tokens'");
        refused(
                variant("1_Pooling/config.json", c -> c.put("pooling_mode_cls_token", true)),
                "1_Pooling/config.json",
                "pooling_mode_*",
                "concatenation");
        refused(
                variant("1_Pooling/config.json", c -> c.put("pooling_mode_new_thing", true)),
                "1_Pooling/config.json",
                "'pooling_mode_new_thing'");
    }

    @Test
    void otherPoolingModesLoad() throws IOException {
        Path dir = variant(
                "1_Pooling/config.json",
                c -> c.put("pooling_mode_mean_tokens", false).put("pooling_mode_cls_token", true));
        try (Model m = Model.load(dir)) {
            assertEquals(Pooling.CLS, ((BertConfig) m.config()).modules().pooling());
        }
    }

    @Test
    void sentenceConfigKeysAreChecked() throws IOException {
        refused(
                variant("sentence_bert_config.json", c -> c.put("max_seq_length", 513)),
                "sentence_bert_config.json",
                "'max_seq_length'");
        refused(
                variant("sentence_bert_config.json", c -> c.put("do_lower_case", true)),
                "sentence_bert_config.json",
                "'do_lower_case'");
    }

    @Test
    void anUnknownModuleIsRefused() throws IOException {
        Path dir = variant(null, c -> {});
        String modules = Files.readString(dir.resolve("modules.json"))
                .replace("sentence_transformers.models.Normalize", "sentence_transformers.models.Dense");
        Files.writeString(dir.resolve("modules.json"), modules);
        refused(dir, "modules.json", "sentence_transformers.models.Dense");
    }

    @Test
    void aMissingTensorIsNamed() throws IOException {
        String name = "encoder.layer.3.output.LayerNorm.bias";
        Path dir = MiniLmDirectory.write(tmp.resolve("missing"), "", (n, t) -> n.equals(name) ? null : t);
        refused(dir, "", name, "missing");
    }

    @Test
    void aWrongShapeIsNamed() throws IOException {
        String name = "encoder.layer.2.attention.self.key.weight";
        Path dir = MiniLmDirectory.write(
                tmp.resolve("shape"),
                "",
                (n, t) -> n.equals(name)
                        ? new OnnxGraph.Tensor(new long[] {383, 384}, Arrays.copyOf(t.values(), 383 * 384))
                        : t);
        refused(dir, "model.safetensors", name, "[383, 384]", "[384, 384]");
    }
}
