package dev.qsparse.runtime;

import dev.qsparse.runtime.inference.InferenceSession;
import dev.qsparse.runtime.kernel.Backends;
import dev.qsparse.runtime.model.BertConfig;
import dev.qsparse.runtime.model.BertEncoder;
import dev.qsparse.runtime.model.ConfigReader;
import dev.qsparse.runtime.model.DecoderModel;
import dev.qsparse.runtime.model.LayerTopK;
import dev.qsparse.runtime.model.ModelConfig;
import dev.qsparse.runtime.model.QSparseConfig;
import dev.qsparse.runtime.model.QSparseTransformer;
import dev.qsparse.runtime.model.SeedConfig;
import dev.qsparse.runtime.model.SeedTransformer;
import dev.qsparse.runtime.model.SentenceModules;
import dev.qsparse.runtime.model.TopKCentres;
import dev.qsparse.runtime.safetensors.Checkpoint;
import dev.qsparse.runtime.safetensors.ModelFiles;
import dev.qsparse.runtime.safetensors.ModelLoadException;
import dev.qsparse.runtime.tokenizer.Tokenizer;
import dev.qsparse.runtime.tokenizer.WordPieceTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A loaded model directory: config, memory-mapped weights, tokenizer. Immutable and
 * thread-safe; create one {@link InferenceSession} per thread to run it.
 */
public final class Model implements AutoCloseable {

    public static final String TOKENIZER_FILE = "tokenizer.json";

    private final Path directory;
    private final ModelConfig config;
    private final Checkpoint checkpoint;
    private final DecoderModel<?> network;
    private final Tokenizer tokenizer;
    /** An encoder's modules, or a decoder's when its directory has modules.json; else null. */
    private final SentenceModules sentenceModules;
    /** A view of another model ({@link #withTopK}): its checkpoint is that model's to close. */
    private final boolean view;

    private Model(
            Path directory,
            ModelConfig config,
            Checkpoint checkpoint,
            DecoderModel<?> network,
            Tokenizer tokenizer,
            SentenceModules sentenceModules,
            boolean view) {
        this.directory = directory;
        this.config = config;
        this.checkpoint = checkpoint;
        this.network = network;
        this.tokenizer = tokenizer;
        this.sentenceModules = sentenceModules;
        this.view = view;
    }

    /**
     * This encoder with other kept fractions per projection, on the same mapped weights and
     * tokenizer (no file is read again): what {@code bin/qsparse calibrate} evaluates. Closing the
     * view releases nothing; it must not be used after this model is closed.
     *
     * @throws IllegalArgumentException the model is not an encoder (model_type bert)
     */
    public Model withTopK(LayerTopK topK) {
        if (!(config instanceof BertConfig b)) {
            throw new IllegalArgumentException(
                    "per-layer top-K ratios apply to model_type bert, not " + config.modelType());
        }
        return withTopK(topK, b.activationBits());
    }

    /** {@link #withTopK(LayerTopK)} with other activation bits too (0: float activations). */
    public Model withTopK(LayerTopK topK, int activationBits) {
        return encoderView("per-layer top-K ratios", e -> e.withTopK(topK, activationBits));
    }

    /** This encoder with other top-K centres (null: none), a view as {@link #withTopK(LayerTopK)}. */
    public Model withTopKCentres(TopKCentres centres) {
        return encoderView("top-K centres", e -> e.withTopKCentres(centres));
    }

    /** This encoder with a probe seeing every projection input, a view as {@link #withTopK(LayerTopK)}. */
    public Model withInputProbe(BertEncoder.InputProbe probe) {
        return encoderView("input probes", e -> e.withInputProbe(probe));
    }

    private Model encoderView(String what, java.util.function.UnaryOperator<BertEncoder> derive) {
        if (!(network instanceof BertEncoder encoder)) {
            throw new IllegalArgumentException(what + " apply to model_type bert, not " + config.modelType());
        }
        BertEncoder derived = derive.apply(encoder);
        return new Model(directory, derived.config(), checkpoint, derived, tokenizer, sentenceModules, true);
    }

    /**
     * Loads a model directory. Every problem (missing file, corrupt header, wrong shape) fails here
     * with an exception naming the file and, where it applies, the tensor.
     */
    public static Model load(Path directory) throws IOException {
        if (!Files.isDirectory(directory)) {
            throw ModelLoadException.forFile(directory, "not a model directory");
        }
        ModelConfig config = ConfigReader.read(directory);
        Checkpoint checkpoint = Checkpoint.open(directory);
        try {
            DecoderModel<?> network;
            if (config instanceof QSparseConfig q) {
                network = new QSparseTransformer(q, checkpoint);
            } else if (config instanceof BertConfig b) {
                network = new BertEncoder(b, checkpoint);
            } else {
                network = new SeedTransformer((SeedConfig) config, checkpoint);
            }
            Path tokenizerFile = directory.resolve(TOKENIZER_FILE);
            Tokenizer tokenizer = ModelFiles.isPresent(directory, tokenizerFile)
                    ? Tokenizer.load(tokenizerFile, config.vocabSize())
                    : null;
            if (config instanceof BertConfig && tokenizer != null && !(tokenizer instanceof WordPieceTokenizer)) {
                // The encoder's input is the WordPiece template around the text ([CLS] ... [SEP]).
                throw ModelLoadException.forFile(
                        tokenizerFile, "model_type bert needs a WordPiece tokenizer (model.type WordPiece)");
            }
            if (tokenizer != null && tokenizer.vocabSize() > config.vocabSize()) {
                throw ModelLoadException.forFile(
                        tokenizerFile,
                        "tokenizer has " + tokenizer.vocabSize() + " tokens but the model's vocab_size is "
                                + config.vocabSize());
            }
            SentenceModules modules = config instanceof BertConfig b
                    ? b.modules()
                    : config instanceof QSparseConfig q ? SentenceModules.forDecoder(directory, q) : null;
            return new Model(directory, config, checkpoint, network, tokenizer, modules, false);
        } catch (IOException | RuntimeException e) {
            checkpoint.close();
            throw e;
        }
    }

    public Path directory() {
        return directory;
    }

    /** The directory's name, used as the model's name in results. */
    public String name() {
        Path file = directory.toAbsolutePath().normalize().getFileName();
        return file == null ? directory.toString() : file.toString();
    }

    public ModelConfig config() {
        return config;
    }

    public DecoderModel<?> network() {
        return network;
    }

    public Checkpoint checkpoint() {
        return checkpoint;
    }

    public Optional<Tokenizer> tokenizer() {
        return Optional.ofNullable(tokenizer);
    }

    /**
     * The sentence-transformers modules that say how this model embeds (pooling, normalisation,
     * longest input): an encoder's always, a decoder's when its directory has {@code modules.json}
     * (Qwen3-Embedding); empty for a plain decoder.
     */
    public Optional<SentenceModules> sentenceModules() {
        return Optional.ofNullable(sentenceModules);
    }

    public InferenceSession newSession() {
        return new InferenceSession(this);
    }

    /**
     * A session whose matrix products are shared by {@code threads} threads (its own small pool,
     * never the common ForkJoinPool; 1 = the calling thread only, the default of {@link #newSession()}).
     */
    public InferenceSession newSession(int threads) {
        return new InferenceSession(this, threads);
    }

    /**
     * The kernel backend the products run on, for metrics and logs: "vector-512" or "vector-256"
     * (Vector API at that width), or "scalar" when the JVM lacks
     * {@code --add-modules jdk.incubator.vector}. Micro-batches may additionally run on an optional
     * backend: see {@link #batchBackend()}.
     */
    public String kernelBackend() {
        return Backends.chosen().kernels().name();
    }

    /**
     * What runs micro-batch products ({@code qsparse.backend}, {@link Backends}): the native backend
     * ("native-avx512-vnni"), ND4J ("nd4j"), both ("native-avx512-vnni+nd4j"), or else {@link #kernelBackend()}.
     */
    public String batchBackend() {
        return Backends.chosen().batchName();
    }

    @Override
    public void close() {
        if (view) {
            return;
        }
        checkpoint.close();
    }
}
