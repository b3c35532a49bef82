package dev.qsparse.runtime.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.qsparse.runtime.kernel.TopKRescale;
import dev.qsparse.runtime.safetensors.ModelFiles;
import dev.qsparse.runtime.safetensors.ModelLoadException;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalInt;

/**
 * Reads config.json into the config record of its {@code model_type}.
 *
 * <p>Every value is checked before anything is sized from it: its JSON type (an integer key
 * must be an integer, not {@code 48.7} or {@code "48"}; a ratio a number; a flag a boolean), its
 * range (below, {@code [min, max]}), and, when read from a model directory, the shapes against
 * the weight files actually present: the parameters the config implies, at the most compact
 * format the runtime reads (2 bits per weight), must fit in the bytes of the directory's
 * {@code *.safetensors} files. So one line such as {@code "num_hidden_layers": 2147483647}
 * fails here, naming the file and the key, instead of exhausting the heap later. Absent optional
 * keys take their documented defaults (docs/model-format.md).
 */
public final class ConfigReader {

    public static final String FILE = "config.json";
    static final int DEFAULT_CONTEXT = 2048;

    // Ranges far beyond any real model of this runtime, small enough that no product of them
    // overflows a long and that a config cannot ask for absurd allocations before the weight check.
    static final int MAX_VOCAB = 1 << 24;
    static final int MAX_HIDDEN = 1 << 16;
    static final int MAX_INTERMEDIATE = 1 << 18;
    static final int MAX_LAYERS = 1024;
    static final int MAX_HEADS = 1024;
    static final int MAX_HEAD_DIM = 1 << 12;
    static final int MAX_CONTEXT = 1 << 24;
    static final int MAX_TOPK_BLOCK = 1 << 16;

    private ConfigReader() {}

    public static ModelConfig read(Path modelDir) throws ModelLoadException {
        Path file = modelDir.resolve(FILE);
        ModelFiles.requireRegular(modelDir, file);
        JsonNode root = ModelFiles.parseJson(file, "", ModelFiles.readBounded(file, ModelFiles.MAX_CONFIG_BYTES));
        if (root == null || !root.isObject()) {
            throw ModelLoadException.forFile(file, "not a JSON object");
        }
        ModelConfig config;
        try {
            String type = string(root, "model_type", "");
            String layout = string(root, "weight_layout", WEIGHT_LAYOUT);
            if (!layout.equals(WEIGHT_LAYOUT)) {
                throw new IllegalArgumentException(
                        "unsupported weight_layout '" + layout + "' (this runtime reads " + WEIGHT_LAYOUT + ")");
            }
            config = switch (type) {
                case "qsparse" -> readQSparse(root);
                case "llama" -> readHub(root, "llama");
                case "qwen2" -> readHub(root, "qwen2");
                case "qwen3" -> ProjectionNorms.present(modelDir) ? readBitLinearQwen3(root) : readHub(root, "qwen3");
                case "bitnet" -> readBitNet(root);
                case "qsparse_seed" -> readSeed(root);
                case "bert" -> BertKeys.read(root, modelDir);
                case "gemma3_text" ->
                    throw new IllegalArgumentException("model_type 'gemma3_text' (Gemma 3, and"
                            + " microsoft/bitnet-embedding-270m on it) is not supported: its tokenizer, sliding-window"
                            + " layers and sandwich norms are not implemented");
                default ->
                    throw new IllegalArgumentException("unsupported model_type '" + type
                            + "' (expected qsparse, llama, qwen2, qwen3, bitnet, bert or qsparse_seed)");
            };
        } catch (IllegalArgumentException e) {
            throw ModelLoadException.forFile(file, e.getMessage());
        }
        checkAgainstWeightFiles(file, modelDir, config);
        return config;
    }

    /** Our own format: its keys and documented defaults (docs/model-format.md). */
    static QSparseConfig readQSparse(JsonNode c) {
        HubKeys keys = new HubKeys(
                1e-5,
                10000.0,
                OptionalInt.empty(),
                OptionalInt.empty(),
                DEFAULT_CONTEXT,
                OptionalInt.empty(),
                OptionalInt.empty(),
                MlpActivation.fromConfig(string(c, "mlp_activation", "relu2glu")),
                LinearBiases.FROM_TENSORS,
                false,
                false);
        return readQSparse(
                c,
                keys,
                QuantRules.QSPARSE,
                activationBits(c),
                WeightQuant.fromConfig(string(c, "weight_quant", "none")));
    }

    /**
     * A Hugging Face checkpoint of the Llama family, read as transformers' config class of its
     * {@code model_type} reads it, with that class's defaults:
     * <ul>
     *   <li>{@code llama} (LlamaConfig): {@code rms_norm_eps} 1e-6, {@code bos_token_id} 1, {@code
     *       eos_token_id} 2; {@code attention_bias} biases q/k/v/o, {@code mlp_bias} gate/up/down;
     *   <li>{@code qwen2} (Qwen2Config): {@code rms_norm_eps} 1e-6, 32 key/value heads, context
     *       32768; q/k/v always biased, o never;
     *   <li>{@code qwen3} (Qwen3Config): the same, {@code head_dim} 128, RMSNorm over each head of q
     *       and k ({@code q_norm}, {@code k_norm}), {@code attention_bias} biases q/k/v/o.
     * </ul>
     * {@code hidden_act} (default silu) chooses the feed-forward. Sliding-window attention is
     * refused. Our Q-Sparse keys only add sparsity and quantization on top; {@code mlp_activation},
     * when also given, must agree.
     */
    static QSparseConfig readHub(JsonNode c, String type) {
        return readHub(c, type, false);
    }

    /**
     * Our {@code mlp_activation} key on a Hub config: {@code hidden_act} decides the feed-forward, so
     * the key, when given, must name the same one (it is refused, not ignored, when it does not).
     */
    private static void requireAgreeingMlpActivation(JsonNode c, MlpActivation mlp, String act, String type) {
        JsonNode ours = c.get("mlp_activation");
        if (ours != null && !ours.isNull() && MlpActivation.fromConfig(string(c, "mlp_activation", "")) != mlp) {
            throw new IllegalArgumentException("'mlp_activation' " + ours + " disagrees with 'hidden_act' '" + act
                    + "'" + (c.has("hidden_act") ? "" : " (transformers' default for " + type + ")")
                    + ": remove mlp_activation, hidden_act decides the feed-forward of model_type " + type);
        }
    }

    /**
     * microsoft/bitnet-embedding-0.6b: a {@code qwen3} config whose checkpoint gives every projection
     * its own input RMSNorm ({@link ProjectionNorms}). Its BitLinear math is fixed, as Microsoft's
     * BitNet-embeddings guide gives it: weights stored as float latent values, ternarised by absmean
     * ({@code s = 1 / max(mean|W|, 1e-5)}, round, clamp to +-1), activations int8 per token by
     * absmax; the projection norms use {@code rms_norm_eps}. A key that would say otherwise
     * ({@code activation_bits} 0, {@code weight_quant} other than ternary, a {@code
     * quantization_config}) is refused by name.
     */
    static QSparseConfig readBitLinearQwen3(JsonNode c) {
        if (bits(c, "activation_bits", 8) != 8) {
            throw new IllegalArgumentException("'activation_bits' must be 8 for a qwen3 checkpoint with BitLinear"
                    + " input norms (*_proj.norm.weight: int8 activations by definition)");
        }
        if (WeightQuant.fromConfig(string(c, "weight_quant", "ternary")) != WeightQuant.TERNARY) {
            throw new IllegalArgumentException("'weight_quant' must be ternary for a qwen3 checkpoint with BitLinear"
                    + " input norms (*_proj.norm.weight: ternary weights by definition)");
        }
        return readHub(c, "qwen3", true);
    }

    private static QSparseConfig readHub(JsonNode c, String type, boolean bitLinear) {
        if (c.has("quantization_config")) {
            // GPTQ, AWQ, bitsandbytes...: weights stored in a form this reader does not read.
            throw new IllegalArgumentException("'quantization_config' is not supported for model_type " + type
                    + " (the weights are read as float tensors" + (bitLinear ? ", ternarised at load" : "") + ")");
        }
        String act = string(c, "hidden_act", "silu");
        MlpActivation mlp = switch (act) {
            case "silu", "swish" -> MlpActivation.SWIGLU;
            case "relu2" -> MlpActivation.RELU2_GLU;
            default ->
                throw new IllegalArgumentException("'hidden_act' '" + act + "' is not supported for model_type " + type
                        + " (supported: silu, swish, relu2)");
        };
        requireAgreeingMlpActivation(c, mlp, act, type);
        HubKeys keys;
        if (type.equals("llama")) {
            // pretraining_tp > 1 only splits each product into slices in transformers: the same function.
            optionalInt(c, "pretraining_tp", 1, 1, MAX_HEADS);
            boolean attention = bool(c, "attention_bias", false);
            keys = new HubKeys(
                    1e-6,
                    10000.0,
                    OptionalInt.empty(),
                    OptionalInt.empty(),
                    DEFAULT_CONTEXT,
                    OptionalInt.of(1),
                    OptionalInt.of(2),
                    mlp,
                    LinearBiases.declared(attention, attention, bool(c, "mlp_bias", false)),
                    false,
                    false);
        } else {
            requireFullAttention(c, type);
            boolean qwen3 = type.equals("qwen3");
            boolean attention = qwen3 && bool(c, "attention_bias", false);
            keys = new HubKeys(
                    1e-6,
                    10000.0,
                    OptionalInt.of(32),
                    qwen3 ? OptionalInt.of(128) : OptionalInt.empty(),
                    32768,
                    OptionalInt.empty(),
                    OptionalInt.empty(),
                    mlp,
                    qwen3
                            ? LinearBiases.declared(attention, attention, false)
                            : LinearBiases.declared(true, false, false),
                    qwen3,
                    bitLinear);
        }
        if (bitLinear) {
            return readQSparse(c, keys, QuantRules.BITNET_BITLINEAR, 8, WeightQuant.TERNARY);
        }
        return readQSparse(
                c,
                keys,
                QuantRules.QSPARSE,
                activationBits(c),
                WeightQuant.fromConfig(string(c, "weight_quant", "none")));
    }

    /** Qwen's sliding-window attention is not implemented: refused when any layer would use it. */
    private static void requireFullAttention(JsonNode c, String type) {
        if (bool(c, "use_sliding_window", false)) {
            throw new IllegalArgumentException(
                    "'use_sliding_window' true is not supported for model_type " + type + " (full attention only)");
        }
        JsonNode layerTypes = c.get("layer_types");
        if (layerTypes != null && !layerTypes.isNull()) {
            if (!layerTypes.isArray()) {
                throw new IllegalArgumentException("'layer_types' must be a list, got " + layerTypes);
            }
            for (JsonNode t : layerTypes) {
                if (!t.isTextual() || !t.textValue().equals("full_attention")) {
                    throw new IllegalArgumentException(
                            "'layer_types' holds " + t + ": only full_attention is supported for model_type " + type);
                }
            }
        }
    }

    /**
     * A Hugging Face BitNet checkpoint ({@code BitNetForCausalLM}): ternary weights and int8
     * activations by definition, with transformers' formulas ({@link QuantRules}) and BitNetConfig's
     * defaults ({@code rope_theta} 500000, 5 key/value heads, {@code bos_token_id} 128000, {@code
     * eos_token_id} 128001). The quantization_config says which linear class (and so which
     * weight_scale convention) the checkpoint was written for; keys that would contradict the BitNet
     * math are refused.
     */
    static QSparseConfig readBitNet(JsonNode c) {
        String act = string(c, "hidden_act", "relu2");
        if (!act.equals("relu2")) {
            throw new IllegalArgumentException(
                    "'hidden_act' must be relu2 for model_type bitnet (the runtime's squared-ReLU GLU), got '" + act
                            + "'");
        }
        requireAgreeingMlpActivation(c, MlpActivation.RELU2_GLU, act, "bitnet");
        if (activationBits(c, 8) != 8) {
            throw new IllegalArgumentException("'activation_bits' must be 8 for model_type bitnet (int8 activations)");
        }
        WeightQuant weights = WeightQuant.fromConfig(string(c, "weight_quant", "ternary"));
        if (weights != WeightQuant.TERNARY) {
            throw new IllegalArgumentException("'weight_quant' must be ternary for model_type bitnet");
        }
        boolean attention = bool(c, "attention_bias", false);
        HubKeys keys = new HubKeys(
                1e-5,
                500000.0,
                OptionalInt.of(5),
                OptionalInt.empty(),
                DEFAULT_CONTEXT,
                OptionalInt.of(128000),
                OptionalInt.of(128001),
                MlpActivation.RELU2_GLU,
                // BitNet's feed-forward has no bias in transformers, whatever the config says.
                LinearBiases.declared(attention, attention, false),
                false,
                false);
        return readQSparse(c, keys, bitNetRules(c.get("quantization_config")), 8, weights);
    }

    /**
     * What a model_type's reference config class decides: the defaults of the keys whose defaults
     * differ between families, the feed-forward and the biases.
     */
    private record HubKeys(
            double rmsNormEps,
            double ropeTheta,
            OptionalInt keyValueHeads,
            OptionalInt headDim,
            int contextLength,
            OptionalInt bosTokenId,
            OptionalInt eosTokenId,
            MlpActivation mlpActivation,
            LinearBiases biases,
            boolean headNorms,
            boolean projectionNorms) {}

    /** transformers' defaults: BitLinear when quantization_config or its linear_class is absent. */
    private static QuantRules bitNetRules(JsonNode q) {
        if (q == null || q.isNull()) {
            return QuantRules.BITNET_BITLINEAR;
        }
        if (!q.isObject()) {
            throw new IllegalArgumentException("'quantization_config' must be an object, got " + q);
        }
        String method = string(q, "quant_method", "bitnet");
        if (!method.equals("bitnet")) {
            throw new IllegalArgumentException(
                    "'quantization_config.quant_method' must be bitnet for model_type bitnet, got '" + method + "'");
        }
        String mode = string(q, "quantization_mode", "offline");
        if (!mode.equals("offline") && !mode.equals("online")) {
            throw new IllegalArgumentException(
                    "'quantization_config.quantization_mode' must be offline or online, got '" + mode + "'");
        }
        String linear = string(q, "linear_class", "bitlinear");
        return switch (linear) {
            case "bitlinear" -> QuantRules.BITNET_BITLINEAR;
            case "autobitlinear" -> QuantRules.BITNET_AUTOBITLINEAR;
            default ->
                throw new IllegalArgumentException("'quantization_config.linear_class' must be bitlinear or"
                        + " autobitlinear, got '" + linear + "'");
        };
    }

    private static QSparseConfig readQSparse(
            JsonNode c, HubKeys keys, QuantRules rules, int activationBits, WeightQuant weights) {
        int hidden = requiredInt(c, "hidden_size", 1, MAX_HIDDEN);
        int heads = requiredInt(c, "num_attention_heads", 1, MAX_HEADS);
        int vocab = requiredInt(c, "vocab_size", 1, MAX_VOCAB);
        int intermediate = requiredInt(c, "intermediate_size", 1, MAX_INTERMEDIATE);
        int layers = requiredInt(c, "num_hidden_layers", 1, MAX_LAYERS);
        int kvHeads = optionalInt(c, "num_key_value_heads", keys.keyValueHeads().orElse(heads), 1, heads);
        if (heads % kvHeads != 0) {
            throw new IllegalArgumentException(
                    "num_key_value_heads = " + kvHeads + " must divide num_attention_heads = " + heads
                            + (c.has("num_key_value_heads") ? "" : " (num_key_value_heads is absent: the default)"));
        }
        int headDim = optionalInt(c, "head_dim", keys.headDim().orElse(Math.max(1, hidden / heads)), 1, MAX_HEAD_DIM);
        if (headDim % 2 != 0) {
            throw new IllegalArgumentException("head_dim = " + headDim + " must be even (rotary pairs)"
                    + (c.has("head_dim") ? "" : "; it defaults to hidden_size / num_attention_heads"));
        }
        double ratio = ratio(c, "topk_ratio", 1.0);
        RopeKeys.Rope rope = RopeKeys.read(c, keys.ropeTheta());
        return new QSparseConfig(
                vocab,
                hidden,
                intermediate,
                layers,
                heads,
                kvHeads,
                headDim,
                optionalInt(c, "max_position_embeddings", keys.contextLength(), 1, MAX_CONTEXT),
                (float) positive(c, "rms_norm_eps", keys.rmsNormEps(), 1.0),
                rope.theta(),
                bool(c, "tie_word_embeddings", false),
                tokenId(c, "bos_token_id", vocab, keys.bosTokenId()),
                tokenId(c, "eos_token_id", vocab, keys.eosTokenId()),
                ratio(c, "topk_ratio_attn", ratio),
                ratio(c, "topk_ratio_attn_out", ratio),
                ratio(c, "topk_ratio_mlp", ratio),
                ratio(c, "topk_ratio_mlp_out", ratio),
                activationBits,
                TopKRescale.fromConfig(string(c, "topk_rescale", "none")),
                weights,
                WeightQuant.fromConfig(string(c, "lm_head_quant", "none")),
                topkBlock(c, 0),
                topkBlock(c, 1),
                rules,
                keys.mlpActivation(),
                bits(c, "lm_head_activation_bits", 0),
                rope.scaling(),
                keys.biases(),
                keys.headNorms(),
                keys.projectionNorms());
    }

    /** Value of the weight_layout key that converted models carry (see docs/model-format.md). */
    public static final String WEIGHT_LAYOUT = "input_major_64";

    private static int topkBlock(JsonNode c, int i) {
        JsonNode b = c.get("topk_block");
        if (b == null || b.isNull()) {
            return 0;
        }
        if (!b.isArray()
                || b.size() != 2
                || !isInt(b.get(0))
                || !isInt(b.get(1))
                || b.get(0).intValue() < 1
                || b.get(0).intValue() > b.get(1).intValue()
                || b.get(1).intValue() > MAX_TOPK_BLOCK) {
            throw new IllegalArgumentException(
                    "topk_block must be [N, M] with integers 1 <= N <= M <= " + MAX_TOPK_BLOCK + ", got " + b);
        }
        return b.get(i).intValue();
    }

    static SeedConfig readSeed(JsonNode c) {
        int vocab = requiredInt(c, "vocab_size", 1, MAX_VOCAB);
        int dModel = requiredInt(c, "d_model", 1, MAX_HIDDEN);
        int nhead = requiredInt(c, "nhead", 1, MAX_HEADS);
        if (dModel % nhead != 0) {
            throw new IllegalArgumentException("d_model = " + dModel + " is not divisible by nhead = " + nhead);
        }
        return new SeedConfig(
                vocab,
                dModel,
                nhead,
                requiredInt(c, "num_layers", 1, MAX_LAYERS),
                requiredInt(c, "dim_feedforward", 1, MAX_INTERMEDIATE),
                ratio(c, "k_ratio", 0.5),
                bool(c, "quantized", false),
                optionalInt(c, "max_position_embeddings", DEFAULT_CONTEXT, 1, MAX_CONTEXT),
                tokenId(c, "bos_token_id", vocab),
                tokenId(c, "eos_token_id", vocab));
    }

    /**
     * The parameters the shapes imply, at 2 bits each (ternary, the most compact format read),
     * must fit in the weight files present: a config that claims more fails here, naming the
     * keys, before any array is sized from it.
     */
    private static void checkAgainstWeightFiles(Path file, Path modelDir, ModelConfig config)
            throws ModelLoadException {
        long weightBytes = 0;
        try (DirectoryStream<Path> files = Files.newDirectoryStream(modelDir, "*.safetensors")) {
            for (Path f : files) {
                // A FIFO, a directory or a link out of the directory is named here, not counted as 0 bytes.
                if (ModelFiles.isPresent(modelDir, f)) {
                    weightBytes += Files.size(f);
                }
            }
        } catch (ModelLoadException e) {
            throw e;
        } catch (IOException e) {
            throw ModelLoadException.forFile(modelDir, "cannot list the weight files: " + e.getMessage());
        }
        long params = impliedParameters(config);
        long minBytes = params / 4;
        if (minBytes > weightBytes) {
            throw ModelLoadException.forFile(
                    file,
                    "the shapes it gives (" + shapeKeys(config) + ") imply " + params
                            + " parameters, at least " + minBytes + " bytes of weights, but the *.safetensors files in "
                            + modelDir + " hold " + weightBytes + " bytes");
        }
    }

    /** Weights of the linear layers and embeddings the config implies (norms and biases left out). */
    static long impliedParameters(ModelConfig config) {
        if (config instanceof QSparseConfig q) {
            long h = q.hiddenSize();
            long attn = h * q.numHeads() * q.headDim() * 2 + h * q.numKeyValueHeads() * q.headDim() * 2;
            long mlp = 3 * h * q.intermediateSize();
            long embed = (long) q.vocabSize() * h * (q.tieWordEmbeddings() ? 1 : 2);
            return q.numLayers() * (attn + mlp) + embed;
        }
        if (config instanceof BertConfig b) {
            long h = b.hiddenSize();
            long layer = 4 * h * h + 2 * h * b.intermediateSize();
            return b.numLayers() * layer + (b.vocabSize() + (long) b.maxPositionEmbeddings() + b.typeVocabSize()) * h;
        }
        SeedConfig s = (SeedConfig) config;
        long d = s.dModel();
        return s.numLayers() * (4 * d * d + 2 * d * s.dimFeedforward()) + (long) s.vocabSize() * d;
    }

    private static String shapeKeys(ModelConfig config) {
        if (config instanceof QSparseConfig q) {
            return "vocab_size=" + q.vocabSize() + ", hidden_size=" + q.hiddenSize() + ", intermediate_size="
                    + q.intermediateSize() + ", num_hidden_layers=" + q.numLayers() + ", num_attention_heads="
                    + q.numHeads() + ", head_dim=" + q.headDim();
        }
        if (config instanceof BertConfig b) {
            return "vocab_size=" + b.vocabSize() + ", hidden_size=" + b.hiddenSize() + ", intermediate_size="
                    + b.intermediateSize() + ", num_hidden_layers=" + b.numLayers() + ", max_position_embeddings="
                    + b.maxPositionEmbeddings() + ", type_vocab_size=" + b.typeVocabSize();
        }
        SeedConfig s = (SeedConfig) config;
        return "vocab_size=" + s.vocabSize() + ", d_model=" + s.dModel() + ", num_layers=" + s.numLayers()
                + ", dim_feedforward=" + s.dimFeedforward();
    }

    // --- typed, range-checked accessors; every message names the key -----------------------------

    static boolean isInt(JsonNode v) {
        return v != null && v.isIntegralNumber() && v.canConvertToInt();
    }

    private static int requiredInt(JsonNode c, String key, int min, int max) {
        JsonNode v = c.get(key);
        if (v == null || v.isNull()) {
            throw new IllegalArgumentException("missing '" + key + "' (an integer in [" + min + ", " + max + "])");
        }
        return intIn(key, v, min, max);
    }

    static int optionalInt(JsonNode c, String key, int fallback, int min, int max) {
        JsonNode v = c.get(key);
        return v == null || v.isNull() ? fallback : intIn(key, v, min, max);
    }

    static int intIn(String key, JsonNode v, int min, int max) {
        if (!isInt(v) || v.intValue() < min || v.intValue() > max) {
            throw new IllegalArgumentException(
                    "'" + key + "' must be an integer in [" + min + ", " + max + "], got " + v);
        }
        return v.intValue();
    }

    /** A top-K ratio: a number in (0, 1]. */
    static double ratio(JsonNode c, String key, double fallback) {
        return ratio(c, key, fallback, key);
    }

    /** A top-K ratio under {@code key} of {@code c}, named {@code path} in errors (a nested key). */
    static double ratio(JsonNode c, String key, double fallback, String path) {
        JsonNode v = c.get(key);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (!v.isNumber() || !(v.doubleValue() > 0 && v.doubleValue() <= 1)) {
            throw new IllegalArgumentException("'" + path + "' must be a number in (0, 1], got " + v);
        }
        return v.doubleValue();
    }

    /** A finite number in (0, max]. */
    static double positive(JsonNode c, String key, double fallback, double max) {
        JsonNode v = c.get(key);
        if (v == null || v.isNull()) {
            return fallback;
        }
        double d = v.isNumber() ? v.doubleValue() : Double.NaN;
        if (!(d > 0 && d <= max) || Double.isInfinite(d)) {
            throw new IllegalArgumentException("'" + key + "' must be a positive finite number"
                    + (max < Double.MAX_VALUE ? " below " + max : "") + ", got " + v);
        }
        return d;
    }

    static boolean bool(JsonNode c, String key, boolean fallback) {
        JsonNode v = c.get(key);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (!v.isBoolean()) {
            throw new IllegalArgumentException("'" + key + "' must be true or false, got " + v);
        }
        return v.booleanValue();
    }

    static String string(JsonNode c, String key, String fallback) {
        JsonNode v = c.get(key);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (!v.isTextual()) {
            throw new IllegalArgumentException("'" + key + "' must be a string, got " + v);
        }
        return v.textValue();
    }

    private static int activationBits(JsonNode c) {
        return activationBits(c, 0);
    }

    private static int activationBits(JsonNode c, int fallback) {
        return bits(c, "activation_bits", fallback);
    }

    /** An activation bit width under {@code key}: 0 (float), 8, or absent/null for {@code fallback}. */
    static int bits(JsonNode c, String key, int fallback) {
        JsonNode v = c.get(key);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (!isInt(v) || (v.intValue() != 0 && v.intValue() != 8)) {
            throw new IllegalArgumentException("'" + key + "' must be 0, 8 or null, got " + v);
        }
        return v.intValue();
    }

    /**
     * A token id in [0, vocab_size), or absent. Some configs list several EOS ids; the first is
     * the one generation stops on, and every one must be in range.
     */
    private static OptionalInt tokenId(JsonNode c, String key, int vocab) {
        return tokenId(c, key, vocab, OptionalInt.empty());
    }

    /**
     * As {@link #tokenId(JsonNode, String, int)}, with the family's default when the key is absent
     * (an explicit null means none, as in transformers); a default outside a small test
     * vocabulary is no token.
     */
    private static OptionalInt tokenId(JsonNode c, String key, int vocab, OptionalInt fallback) {
        JsonNode v = c.get(key);
        if (v == null) {
            return fallback.isPresent() && fallback.getAsInt() < vocab ? fallback : OptionalInt.empty();
        }
        if (v.isNull()) {
            return OptionalInt.empty();
        }
        if (v.isArray()) {
            if (v.isEmpty()) {
                return OptionalInt.empty();
            }
            for (int i = 0; i < v.size(); i++) {
                intIn(key + "[" + i + "]", v.get(i), 0, vocab - 1);
            }
            return OptionalInt.of(v.get(0).intValue());
        }
        return OptionalInt.of(intIn(key, v, 0, vocab - 1));
    }
}
