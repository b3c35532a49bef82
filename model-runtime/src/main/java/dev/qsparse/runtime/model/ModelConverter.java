package dev.qsparse.runtime.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qsparse.runtime.kernel.FloatView;
import dev.qsparse.runtime.kernel.Int8Matrix;
import dev.qsparse.runtime.kernel.TernaryMatrix;
import dev.qsparse.runtime.safetensors.Checkpoint;
import dev.qsparse.runtime.safetensors.DType;
import dev.qsparse.runtime.safetensors.ModelLoadException;
import dev.qsparse.runtime.safetensors.TensorInfo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * {@code qsparse convert}: writes a runtime-ready model directory, whose weights load by memory
 * mapping alone, with no quantization at load, so every task on a machine shares one copy in the
 * page cache.
 *
 * <ul>
 *   <li>{@code f32}: the weights as stored (float), the same tensors byte for byte: the converted
 *       model gives exactly the original's results.
 *   <li>{@code int8}: every projection as {@code P.qweight} (I8, input-channel-major, outputs padded
 *       to 64) + {@code P.qscale} (F32 per output channel), and by default the lm head too
 *       ({@code lm_head.qweight}/{@code qscale}, config {@code lm_head_quant = int8}).
 *   <li>{@code ternary}: every projection as {@code P.tweight} (U8, 2-bit codes) + {@code P.tscale}
 *       (F32 [1]); the lm head as for int8 (BitNet keeps it in higher precision than ternary).
 * </ul>
 * Quantization is the runtime's own ({@link Int8Matrix#quantize}, {@link TernaryMatrix#quantize}),
 * so a converted model gives bit for bit the results of loading the float model with the same
 * {@code weight_quant} and {@code lm_head_quant} in its config.
 * A Hugging Face BitNet checkpoint ({@code model_type} bitnet) converts to ternary (or f32, the
 * tensors as stored): its packed weights are unpacked, or its float master weights quantized with
 * transformers' formula ({@link BitNetWeights}), and each {@code weight_scale} is folded into
 * {@code P.tscale}, so the converted model gives bit for bit the results of the checkpoint.
 */
public final class ModelConverter {

    /** Target weight format of {@code qsparse convert --weights}. */
    public enum Target {
        F32,
        INT8,
        TERNARY;

        public static Target parse(String s) {
            return switch (s.toLowerCase(Locale.ROOT)) {
                case "f32", "float", "none" -> F32;
                case "int8" -> INT8;
                case "ternary", "b1.58" -> TERNARY;
                default ->
                    throw new IllegalArgumentException(
                            "unknown weight format '" + s + "' (expected f32, int8 or ternary)");
            };
        }
    }

    /** What was written, for the CLI's JSON. */
    /** {@code lmHeadInput}: "int8" when the lm head's input is quantized per token, else "f32". */
    public record Result(
            Path directory, String weights, String lmHead, String lmHeadInput, long bytes, int quantizedTensors) {}

    private ModelConverter() {}

    /**
     * Converts {@code source} into {@code target}. {@code lmHeadInt8}: store the lm head as int8
     * (ignored for f32). Files other than weights and config (tokenizer.json, ...) are copied.
     */
    public static Result convert(Path source, Path target, Target format, boolean lmHeadInt8) throws IOException {
        return convert(source, target, format, lmHeadInt8, false);
    }

    /**
     * As {@link #convert(Path, Path, Target, boolean)}; {@code lmHeadInputInt8} (with an int8 lm head
     * only) also quantizes the lm head's input per token to int8 ({@code lm_head_activation_bits = 8}),
     * so that the lm head of a batch runs as an integer product.
     */
    public static Result convert(Path source, Path target, Target format, boolean lmHeadInt8, boolean lmHeadInputInt8)
            throws IOException {
        if (Files.exists(target) && Files.isSameFile(source, target)) {
            throw new IllegalArgumentException("--out must differ from --model");
        }
        ModelConfig config = ConfigReader.read(source);
        if (config instanceof QSparseConfig q && q.quantRules().isBitNet() && format == Target.INT8) {
            throw new IllegalArgumentException("model_type " + configType(source) + " with BitNet weights converts to"
                    + " ternary (its weights are ternary by definition) or f32 (the tensors as stored)");
        }
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode configJson =
                (ObjectNode) json.readTree(source.resolve(ConfigReader.FILE).toFile());
        SafetensorsWriter writer = new SafetensorsWriter();
        writer.metadata("format", "pt");
        int quantized;
        String lmHead = "as stored";
        String lmHeadInput = "f32";
        try (Checkpoint ckpt = Checkpoint.open(source)) {
            // Before anything is written: a NaN or infinity in any float tensor fails naming it.
            ckpt.requireFinite();
            Files.createDirectories(target);
            if (config instanceof SeedConfig) {
                if (format != Target.F32) {
                    throw new IllegalArgumentException("qsparse_seed models convert to f32 only (its projections are"
                            + " float by definition); use a qsparse model for int8 or ternary");
                }
                copyAll(ckpt, writer, ckpt.tensorNames());
                quantized = 0;
            } else if (config instanceof BertConfig b) {
                if (format == Target.TERNARY) {
                    throw new IllegalArgumentException("model_type bert converts to f32 or int8 (ternary weights"
                            + " were never trained for these encoders)");
                }
                Set<String> rest = new LinkedHashSet<>(ckpt.tensorNames());
                quantized = 0;
                lmHead = "none";
                if (format == Target.INT8) {
                    writer.metadata("qsparse.weight_layout", ConfigReader.WEIGHT_LAYOUT);
                    String prefix = ckpt.contains("bert.embeddings.word_embeddings.weight") ? "bert." : "";
                    for (Map.Entry<String, int[]> p : projections(b, prefix).entrySet()) {
                        int[] shape = p.getValue();
                        quantized += quantize(ckpt, writer, rest, p.getKey(), shape[0], shape[1], WeightQuant.INT8);
                    }
                    configJson.put("weight_quant", "int8");
                    configJson.put("weight_layout", ConfigReader.WEIGHT_LAYOUT);
                }
                copyAll(ckpt, writer, rest);
            } else {
                QSparseConfig c = (QSparseConfig) config;
                String base = HubPrefix.of(ckpt);
                Map<String, int[]> projections = projections(c, base);
                Set<String> rest = new LinkedHashSet<>(ckpt.tensorNames());
                quantized = 0;
                if (format == Target.F32) {
                    copyAll(ckpt, writer, rest);
                } else {
                    writer.metadata("qsparse.weight_layout", ConfigReader.WEIGHT_LAYOUT);
                    WeightQuant quant = format == Target.INT8 ? WeightQuant.INT8 : WeightQuant.TERNARY;
                    for (Map.Entry<String, int[]> p : projections.entrySet()) {
                        String name = p.getKey();
                        int rows = p.getValue()[0];
                        int cols = p.getValue()[1];
                        quantized += c.quantRules().isBitNet()
                                ? bitNet(ckpt, writer, rest, name, rows, cols, c.quantRules())
                                : quantize(ckpt, writer, rest, name, rows, cols, quant);
                    }
                    boolean tied = c.tieWordEmbeddings();
                    String lmName = tied ? base + "embed_tokens.weight" : "lm_head.weight";
                    if (lmHeadInt8 && !ckpt.contains("lm_head" + WeightLoader.INT8_WEIGHT)) {
                        quantized += quantize(
                                ckpt, writer, rest, lmName, c.vocabSize(), c.hiddenSize(), WeightQuant.INT8, "lm_head");
                        if (tied) {
                            rest.add(lmName); // the embedding itself stays float, for look-ups
                        }
                    }
                    if (lmHeadInt8 || ckpt.contains("lm_head" + WeightLoader.INT8_WEIGHT)) {
                        configJson.put("lm_head_quant", "int8");
                        lmHead = "int8";
                        if (lmHeadInputInt8) {
                            configJson.put("lm_head_activation_bits", 8);
                            lmHeadInput = "int8";
                        }
                    }
                    configJson.put("weight_quant", quant.name().toLowerCase(Locale.ROOT));
                    configJson.put("weight_layout", ConfigReader.WEIGHT_LAYOUT);
                    copyAll(ckpt, writer, rest);
                }
            }
            Path out = target.resolve(Checkpoint.SINGLE_FILE);
            writer.write(out);
            Files.deleteIfExists(target.resolve(Checkpoint.INDEX_FILE));
            json.writeValue(target.resolve(ConfigReader.FILE).toFile(), configJson);
            copyOtherFiles(source, target, configJson.path(TopKCentres.KEY).asText(null));
            // An encoder's modules, and a decoder embedding model's (Qwen3-Embedding, bitnet-embedding).
            for (Path directory : SentenceModules.moduleDirectories(source)) {
                Files.createDirectories(target.resolve(directory));
            }
            for (Path module : SentenceModules.moduleConfigs(source)) {
                Path to = target.resolve(source.relativize(module).toString());
                Files.createDirectories(to.getParent());
                Files.copy(module, to, StandardCopyOption.REPLACE_EXISTING);
            }
            return new Result(
                    target, format.name().toLowerCase(Locale.ROOT), lmHead, lmHeadInput, Files.size(out), quantized);
        }
    }

    /** Every projection weight of the architecture under {@code base} ({@link HubPrefix}): name to {rows, cols}, in file order. */
    static Map<String, int[]> projections(QSparseConfig c, String base) {
        Map<String, int[]> out = new LinkedHashMap<>();
        int d = c.hiddenSize();
        int f = c.intermediateSize();
        int qDim = c.numHeads() * c.headDim();
        int kvDim = c.numKeyValueHeads() * c.headDim();
        for (int l = 0; l < c.numLayers(); l++) {
            String p = base + "layers." + l + ".";
            out.put(p + "self_attn.q_proj.weight", new int[] {qDim, d});
            out.put(p + "self_attn.k_proj.weight", new int[] {kvDim, d});
            out.put(p + "self_attn.v_proj.weight", new int[] {kvDim, d});
            out.put(p + "self_attn.o_proj.weight", new int[] {d, qDim});
            if (c.mlpActivation().gated()) {
                out.put(p + "mlp.gate_proj.weight", new int[] {f, d});
            }
            out.put(p + "mlp.up_proj.weight", new int[] {f, d});
            out.put(p + "mlp.down_proj.weight", new int[] {d, f});
        }
        return out;
    }

    /** An encoder's projections (q, k, v, attention output, intermediate, output per layer): name to {rows, cols}. */
    static Map<String, int[]> projections(BertConfig c, String prefix) {
        Map<String, int[]> out = new LinkedHashMap<>();
        int d = c.hiddenSize();
        int f = c.intermediateSize();
        for (int l = 0; l < c.numLayers(); l++) {
            String p = prefix + "encoder.layer." + l + ".";
            for (String qkv : new String[] {"query", "key", "value"}) {
                out.put(p + "attention.self." + qkv + ".weight", new int[] {d, d});
            }
            out.put(p + "attention.output.dense.weight", new int[] {d, d});
            out.put(p + "intermediate.dense.weight", new int[] {f, d});
            out.put(p + "output.dense.weight", new int[] {d, f});
        }
        return out;
    }

    private static int quantize(
            Checkpoint ckpt,
            SafetensorsWriter writer,
            Set<String> rest,
            String name,
            int rows,
            int cols,
            WeightQuant quant)
            throws ModelLoadException {
        return quantize(ckpt, writer, rest, name, rows, cols, quant, WeightLoader.prefix(name));
    }

    /** Plans the runtime-ready tensors of one float matrix (or copies them when already runtime-ready). */
    private static int quantize(
            Checkpoint ckpt,
            SafetensorsWriter writer,
            Set<String> rest,
            String name,
            int rows,
            int cols,
            WeightQuant quant,
            String outPrefix)
            throws ModelLoadException {
        String p = WeightLoader.prefix(name);
        String wSuffix = quant == WeightQuant.INT8 ? WeightLoader.INT8_WEIGHT : WeightLoader.TERNARY_WEIGHT;
        String sSuffix = quant == WeightQuant.INT8 ? WeightLoader.INT8_SCALE : WeightLoader.TERNARY_SCALE;
        if (ckpt.contains(p + wSuffix)) {
            // already runtime-ready in this format: copied by copyAll
            return 0;
        }
        for (String other : new String[] {WeightLoader.INT8_WEIGHT, WeightLoader.TERNARY_WEIGHT}) {
            if (ckpt.contains(p + other)) {
                throw new IllegalArgumentException(
                        p + other + " is already quantized to another format; convert" + " from the float model");
            }
        }
        TensorInfo info = ckpt.info(name);
        if (info.rank() != 2 || info.dim(0) != rows || info.dim(1) != cols) {
            throw ModelLoadException.forTensor(
                    ckpt.fileOf(name),
                    name,
                    "shape " + java.util.Arrays.toString(info.shape()) + ", expected [" + rows + ", " + cols + "]");
        }
        DType dtype = info.dtype();
        if (dtype != DType.F32 && dtype != DType.F16 && dtype != DType.BF16) {
            throw ModelLoadException.forTensor(ckpt.fileOf(name), name, "dtype " + dtype + " is not a float type");
        }
        rest.remove(name);
        // Quantized lazily, when the writer reaches the tensor; the scale is written right after it.
        Object[] holder = new Object[1];
        SafetensorsWriter.Bytes weights = () -> {
            FloatView view = FloatView.of(ckpt.buffer(name), dtype);
            if (quant == WeightQuant.INT8) {
                Int8Matrix m = Int8Matrix.quantize(view, rows, cols);
                holder[0] = floats(m.rowScales());
                return m.data();
            }
            TernaryMatrix m = TernaryMatrix.quantize(view, rows, cols);
            holder[0] = floats(new float[] {m.scale()});
            return m.data();
        };
        if (quant == WeightQuant.INT8) {
            int stride = Int8Matrix.paddedRows(rows);
            writer.add(outPrefix + wSuffix, "I8", new long[] {cols, stride}, (long) cols * stride, weights);
            writer.add(outPrefix + sSuffix, "F32", new long[] {rows}, 4L * rows, () -> (ByteBuffer) holder[0]);
        } else {
            int stride = TernaryMatrix.strideFor(rows);
            writer.add(outPrefix + wSuffix, "U8", new long[] {cols, stride}, (long) cols * stride, weights);
            writer.add(outPrefix + sSuffix, "F32", new long[] {1}, 4L, () -> (ByteBuffer) holder[0]);
        }
        return 1;
    }

    /**
     * Plans the runtime-ready tensors of one BitNet projection, packed or float, unpacked or
     * quantized with transformers' formulas ({@link BitNetWeights}); its weight_scale is folded into
     * {@code P.tscale} and not copied.
     */
    private static int bitNet(
            Checkpoint ckpt,
            SafetensorsWriter writer,
            Set<String> rest,
            String name,
            int rows,
            int cols,
            QuantRules rules)
            throws ModelLoadException {
        String p = WeightLoader.prefix(name);
        if (ckpt.contains(p + WeightLoader.TERNARY_WEIGHT)) {
            return 0; // already runtime-ready: copied by copyAll
        }
        // Checked now, so that a corrupt tensor fails before the output file is started.
        ckpt.info(name);
        if (BitNetWeights.isPacked(ckpt, name)) {
            BitNetWeights.weightScale(ckpt, name);
        }
        rest.remove(name);
        rest.remove(BitNetWeights.scaleName(name));
        Object[] holder = new Object[1];
        int stride = TernaryMatrix.strideFor(rows);
        writer.add(p + WeightLoader.TERNARY_WEIGHT, "U8", new long[] {cols, stride}, (long) cols * stride, () -> {
            TernaryMatrix m = BitNetWeights.load(ckpt, name, rows, cols, rules);
            holder[0] = floats(new float[] {m.scale()});
            return m.data();
        });
        writer.add(p + WeightLoader.TERNARY_SCALE, "F32", new long[] {1}, 4L, () -> (ByteBuffer) holder[0]);
        return 1;
    }

    /** config.json's model_type, for messages (bitnet, or qwen3 for a BitNet embedding model). */
    private static String configType(Path source) throws IOException {
        return new ObjectMapper()
                .readTree(source.resolve(ConfigReader.FILE).toFile())
                .path("model_type")
                .asText("");
    }

    private static ByteBuffer floats(float[] v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            b.putFloat(f);
        }
        return b.flip();
    }

    private static void copyAll(Checkpoint ckpt, SafetensorsWriter writer, Set<String> names)
            throws ModelLoadException {
        for (String name : names) {
            TensorInfo info = ckpt.info(name);
            writer.add(name, info.dtype().name(), info.shape(), info.byteLength(), () -> ckpt.buffer(name));
        }
    }

    /** Every file but config.json and the weights; {@code centres} (a .safetensors file) too, when named. */
    private static void copyOtherFiles(Path source, Path target, String centres) throws IOException {
        Set<String> skip = new LinkedHashSet<>();
        skip.add(ConfigReader.FILE);
        skip.add(Checkpoint.SINGLE_FILE);
        skip.add(Checkpoint.INDEX_FILE);
        // An encoder's top-K centres are activations' medians: they hold for the converted weights too.
        try (Stream<Path> files = Files.list(source)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                String n = f.getFileName().toString();
                if (!Files.isRegularFile(f) || skip.contains(n) || n.endsWith(".safetensors") && !n.equals(centres)) {
                    continue;
                }
                Files.copy(f, target.resolve(n), StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }
}
