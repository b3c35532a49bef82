package dev.qsparse.runtime.model;

import dev.qsparse.runtime.kernel.ActivationBuffer;
import dev.qsparse.runtime.kernel.Backends;
import dev.qsparse.runtime.kernel.FloatMatrix;
import dev.qsparse.runtime.kernel.Kernels;
import dev.qsparse.runtime.kernel.Sparsifier;
import dev.qsparse.runtime.kernel.WeightMatrix;
import dev.qsparse.runtime.kernel.WorkerPool;
import dev.qsparse.runtime.kernel.Workspace;
import dev.qsparse.runtime.safetensors.Checkpoint;
import dev.qsparse.runtime.safetensors.ModelLoadException;
import java.util.Arrays;

/**
 * A BERT encoder ({@code model_type} bert) as transformers' {@code BertModel} computes it, over
 * the tensors sentence-transformers saves (with or without a {@code bert.} prefix): word + absolute
 * position + token type 0 embeddings, LayerNorm; per layer, attention with biases over every
 * position of the text (both directions), output dense, residual, LayerNorm; dense, GELU (erf),
 * dense, residual, LayerNorm. The final hidden states are the last layer's output (the pooler is
 * not used). Every projection input goes through the config's {@link Sparsifier} (top-K, int8
 * activations), so Q-Sparse's settings apply as on the decoders; where the config has {@link
 * TopKCentres} and top-K drops inputs, the input is taken minus its centre and the bias has the
 * centre's product folded in.
 *
 * <p>As a {@link DecoderModel} it is {@link #bidirectional()}: a pass holds every position of each
 * of its sequences, in order from 0, and a sequence's state keeps its keys and values for that pass
 * only. There is no language-model head.
 */
public final class BertEncoder implements DecoderModel<BertEncoder.State> {

    /** The token budget of a pass (a longer text runs alone in a pass of its own). */
    static final int PASS = 128;

    private final BertConfig config;
    private final FloatMatrix words;
    private final FloatMatrix positions;
    private final float[] tokenType0;
    private final float[] embedNormWeight;
    private final float[] embedNormBias;
    private final Layer[] layers;
    /** [layer][LayerTopK.Group ordinal]: each projection input's top-K and activation bits. */
    private final Sparsifier[][] sparsifiers;
    /**
     * [layer][LayerTopK.Group ordinal]: the centre top-K drops around ({@link TopKCentres}), null
     * where the input is not centred (no centres, or nothing dropped there).
     */
    private final float[][][] centres;
    /**
     * [layer][Projection ordinal]: every projection's {@code b + W c} for the config's centres, null
     * without centres. Computed once per centres and shared by the views over them (calibration
     * makes ~200 views that differ only in kept fractions).
     */
    private final float[][][] foldedBiases;
    /** [layer][Projection ordinal]: the bias, or its folded form where the input is centred. */
    private final float[][][] biases;
    /** Sees every projection input before top-K, or null ({@link #withInputProbe}). */
    private final InputProbe probe;

    /**
     * Sees a projection input as the model computed it, before centring and top-K: layer, group, and
     * the input ({@code x[0, width)}, valid during the call only). Called from the pass's threads
     * at once when the session has several: implementations must be thread-safe.
     */
    @FunctionalInterface
    public interface InputProbe {
        void input(int layer, LayerTopK.Group group, float[] x, int width);
    }

    private final long parameterCount;

    private record Layer(
            WeightMatrix q,
            float[] qBias,
            WeightMatrix k,
            float[] kBias,
            WeightMatrix v,
            float[] vBias,
            WeightMatrix o,
            float[] oBias,
            float[] attnNormWeight,
            float[] attnNormBias,
            WeightMatrix up,
            float[] upBias,
            WeightMatrix down,
            float[] downBias,
            float[] outNormWeight,
            float[] outNormBias) {}

    public BertEncoder(BertConfig config, Checkpoint checkpoint) throws ModelLoadException {
        this.config = config;
        WeightLoader w = new WeightLoader(checkpoint);
        // sentence-transformers saves the BertModel itself; a BertFor* checkpoint nests it under "bert.".
        String p = checkpoint.contains("bert.embeddings.word_embeddings.weight") ? "bert." : "";
        int d = config.hiddenSize();
        int f = config.intermediateSize();
        WeightQuant quant = config.weightQuant();
        this.words = w.floatMatrix(p + "embeddings.word_embeddings.weight", config.vocabSize(), d);
        this.positions = w.floatMatrix(p + "embeddings.position_embeddings.weight", config.maxPositionEmbeddings(), d);
        FloatMatrix types = w.floatMatrix(p + "embeddings.token_type_embeddings.weight", config.typeVocabSize(), d);
        this.tokenType0 = new float[d];
        types.row(0, tokenType0); // one text: every token is of type 0
        this.embedNormWeight = w.vector(p + "embeddings.LayerNorm.weight", d);
        this.embedNormBias = w.vector(p + "embeddings.LayerNorm.bias", d);
        this.layers = new Layer[config.numLayers()];
        for (int l = 0; l < layers.length; l++) {
            String at = p + "encoder.layer." + l + ".";
            String self = at + "attention.self.";
            layers[l] = new Layer(
                    w.matrix(self + "query.weight", d, d, quant),
                    w.vector(self + "query.bias", d),
                    w.matrix(self + "key.weight", d, d, quant),
                    w.vector(self + "key.bias", d),
                    w.matrix(self + "value.weight", d, d, quant),
                    w.vector(self + "value.bias", d),
                    w.matrix(at + "attention.output.dense.weight", d, d, quant),
                    w.vector(at + "attention.output.dense.bias", d),
                    w.vector(at + "attention.output.LayerNorm.weight", d),
                    w.vector(at + "attention.output.LayerNorm.bias", d),
                    w.matrix(at + "intermediate.dense.weight", f, d, quant),
                    w.vector(at + "intermediate.dense.bias", f),
                    w.matrix(at + "output.dense.weight", d, f, quant),
                    w.vector(at + "output.dense.bias", d),
                    w.vector(at + "output.LayerNorm.weight", d),
                    w.vector(at + "output.LayerNorm.bias", d));
        }
        this.sparsifiers = sparsifiers(config);
        this.centres = centres(config);
        this.foldedBiases = foldedBiases(layers, config.topKCentres());
        this.biases = biases(layers, centres, foldedBiases);
        this.probe = null;
        this.parameterCount = checkpoint.elementCount();
    }

    /** {@code base}'s weights under {@code config} (other kept fractions): nothing is read or copied again. */
    private BertEncoder(BertEncoder base, BertConfig config, InputProbe probe) {
        this.config = config;
        this.words = base.words;
        this.positions = base.positions;
        this.tokenType0 = base.tokenType0;
        this.embedNormWeight = base.embedNormWeight;
        this.embedNormBias = base.embedNormBias;
        this.layers = base.layers;
        this.sparsifiers = sparsifiers(config);
        this.centres = centres(config);
        this.foldedBiases = config.topKCentres() == base.config.topKCentres()
                ? base.foldedBiases
                : foldedBiases(layers, config.topKCentres());
        this.biases = biases(layers, centres, foldedBiases);
        this.probe = probe;
        this.parameterCount = base.parameterCount;
    }

    /**
     * This encoder with other kept fractions and activation bits (0 or 8), on the same weights
     * (calibration tries many).
     */
    public BertEncoder withTopK(LayerTopK topK, int activationBits) {
        return new BertEncoder(this, config.withTopK(topK, activationBits), probe);
    }

    /** This encoder with other top-K centres (null: none), on the same weights. */
    public BertEncoder withTopKCentres(TopKCentres topKCentres) {
        return new BertEncoder(this, config.withTopKCentres(topKCentres), probe);
    }

    /** This encoder with {@code probe} seeing every projection input (calibration measures them). */
    public BertEncoder withInputProbe(InputProbe probe) {
        return new BertEncoder(this, config, probe);
    }

    /** A layer's projections, in the order of {@link #biases}. */
    private enum Projection {
        Q(LayerTopK.Group.ATTN),
        K(LayerTopK.Group.ATTN),
        V(LayerTopK.Group.ATTN),
        O(LayerTopK.Group.ATTN_OUT),
        UP(LayerTopK.Group.MLP),
        DOWN(LayerTopK.Group.MLP_OUT);

        final LayerTopK.Group input;

        Projection(LayerTopK.Group input) {
            this.input = input;
        }

        WeightMatrix weight(Layer l) {
            return switch (this) {
                case Q -> l.q();
                case K -> l.k();
                case V -> l.v();
                case O -> l.o();
                case UP -> l.up();
                case DOWN -> l.down();
            };
        }

        float[] bias(Layer l) {
            return switch (this) {
                case Q -> l.qBias();
                case K -> l.kBias();
                case V -> l.vBias();
                case O -> l.oBias();
                case UP -> l.upBias();
                case DOWN -> l.downBias();
            };
        }
    }

    /** The centres that apply: a group's, where the config has centres and top-K drops inputs there. */
    private static float[][][] centres(BertConfig config) {
        LayerTopK.Group[] groups = LayerTopK.Group.values();
        float[][][] out = new float[config.numLayers()][groups.length][];
        TopKCentres c = config.topKCentres();
        for (int l = 0; c != null && l < out.length; l++) {
            for (LayerTopK.Group g : groups) {
                if (config.topK().ratio(l, g) < 1) {
                    out[l][g.ordinal()] = c.centre(l, g);
                }
            }
        }
        return out;
    }

    /**
     * Each projection's {@code b + W c}, with W the weights as the kernels hold them, so that
     * {@code W (x - c) + (b + W c)} is the model's {@code W x + b} when nothing is dropped (up to
     * float rounding, and the 8-bit rounding of {@code x - c} instead of {@code x}); null without
     * centres.
     */
    private static float[][][] foldedBiases(Layer[] layers, TopKCentres centres) {
        if (centres == null) {
            return null;
        }
        Projection[] projections = Projection.values();
        float[][][] out = new float[layers.length][projections.length][];
        for (int l = 0; l < layers.length; l++) {
            for (Projection p : projections) {
                float[] bias = p.bias(layers[l]);
                float[] folded = new float[bias.length];
                p.weight(layers[l]).matvec(centres.centre(l, p.input), folded);
                for (int i = 0; i < folded.length; i++) {
                    folded[i] += bias[i];
                }
                out[l][p.ordinal()] = folded;
            }
        }
        return out;
    }

    /** Each projection's bias: the folded one where its input is centred, else the checkpoint's. */
    private static float[][][] biases(Layer[] layers, float[][][] centres, float[][][] folded) {
        Projection[] projections = Projection.values();
        float[][][] out = new float[layers.length][projections.length][];
        for (int l = 0; l < layers.length; l++) {
            for (Projection p : projections) {
                out[l][p.ordinal()] =
                        centres[l][p.input.ordinal()] == null ? p.bias(layers[l]) : folded[l][p.ordinal()];
            }
        }
        return out;
    }

    private static Sparsifier[][] sparsifiers(BertConfig config) {
        LayerTopK.Group[] groups = LayerTopK.Group.values();
        Sparsifier[][] out = new Sparsifier[config.numLayers()][groups.length];
        for (int l = 0; l < out.length; l++) {
            for (LayerTopK.Group g : groups) {
                out[l][g.ordinal()] = config.sparsifier(l, g);
            }
        }
        return out;
    }

    @Override
    public BertConfig config() {
        return config;
    }

    @Override
    public int passSize() {
        return PASS;
    }

    @Override
    public boolean bidirectional() {
        return true;
    }

    @Override
    public long parameterCount() {
        return parameterCount;
    }

    @Override
    public String weightFormat() {
        String proj = layers[0].q().format();
        return proj.equals(words.format()) ? proj : proj + "+" + words.format();
    }

    @Override
    public State newState(Backends.Choice backends, WorkerPool pool) {
        return new State(config, backends, pool);
    }

    /** One position's scratch (one row of a pass). */
    static final class Slot {
        final float[] x;
        final float[] xb;
        final float[] q;
        final float[] k;
        final float[] v;
        final float[] attOut;
        final float[] up;
        final ActivationBuffer actHidden;
        final ActivationBuffer actFfn;
        final float[] scratch;
        /** A projection input minus its top-K centre. */
        final float[] centred;

        float[] scores = new float[0];
        long nonZero;
        long inputs;

        Slot(BertConfig c) {
            int d = c.hiddenSize();
            x = new float[d];
            xb = new float[d];
            q = new float[d];
            k = new float[d];
            v = new float[d];
            attOut = new float[d];
            up = new float[c.intermediateSize()];
            actHidden = new ActivationBuffer(d);
            actFfn = new ActivationBuffer(c.intermediateSize());
            scratch = new float[Math.max(d, c.intermediateSize())];
            centred = new float[Math.max(d, c.intermediateSize())];
        }
    }

    /** A sequence's keys and values during its pass, and a leading state's per-position scratch. */
    static final class State extends ForwardState {
        private final BertConfig config;
        private Slot[] slots = new Slot[0];
        private State[] owners = new State[0];
        private int[] start = new int[0];
        private int[] length = new int[0];
        private ActivationBuffer[] acts = new ActivationBuffer[0];
        private float[][] outsA = new float[0][];
        private float[][] outsB = new float[0][];
        private float[][] outsC = new float[0][];

        State(BertConfig c, Backends.Choice backends, WorkerPool pool) {
            super(c.numLayers(), c.hiddenSize(), backends, pool);
            this.config = c;
        }

        void ensureSlots(int n) {
            if (slots.length < n) {
                Slot[] grown = Arrays.copyOf(slots, n);
                for (int i = slots.length; i < n; i++) {
                    grown[i] = new Slot(config);
                }
                slots = grown;
                owners = new State[n];
                start = new int[n];
                length = new int[n];
                acts = new ActivationBuffer[n];
                outsA = new float[n][];
                outsB = new float[n][];
                outsC = new float[n][];
            }
        }
    }

    /**
     * Runs one pass: its slots are whole sequences, each at positions 0, 1, ... in order; a
     * sequence's positions attend to every position of that sequence, and to nothing else.
     */
    @Override
    public void forward(Pass<State> pass) {
        int n = pass.size();
        if (n == 0) {
            return;
        }
        State lead = pass.state(0);
        lead.ensureSlots(n);
        Slot[] b = lead.slots;
        State[] owners = lead.owners;
        int[] start = lead.start;
        int[] length = lead.length;
        groupSequences(pass, owners, start, length);
        if (n > PASS && start[n - 1] != 0) {
            throw new IllegalArgumentException("a pass of " + n + " positions exceeds the token budget " + PASS
                    + " and holds more than one sequence (a longer sequence runs alone)");
        }
        for (int i = 0; i < n; i++) {
            Slot t = b[i];
            int token = pass.token(i);
            if (token < 0 || token >= config.vocabSize()) {
                throw new IllegalArgumentException("token id " + token + " outside [0, " + config.vocabSize() + ")");
            }
            words.row(token, t.x);
            positions.row(pass.position(i), t.xb);
            Kernels.add(t.x, t.xb, t.x.length);
            Kernels.add(t.x, tokenType0, t.x.length);
            Kernels.layerNorm(t.x, t.x, embedNormWeight, embedNormBias, config.layerNormEps(), t.x.length);
            if (t.scores.length < owners[i].capacity()) {
                t.scores = new float[owners[i].capacity()];
            }
            t.nonZero = 0;
            t.inputs = 0;
        }
        Workspace ws = lead.workspace();
        ActivationBuffer[] acts = lead.acts;
        float[][] outA = lead.outsA;
        float[][] outB = lead.outsB;
        float[][] outC = lead.outsC;
        int d = config.hiddenSize();
        long keys = 0;
        for (int i = 0; i < n; i++) {
            keys += length[i];
        }
        long rowWork = (long) n * d * 16;
        long attendWork = keys * d * 2;
        long mlpWork = (long) n * config.intermediateSize() * 32;
        for (int l = 0; l < layers.length; l++) {
            Layer layer = layers[l];
            Sparsifier[] sp = sparsifiers[l];
            float[][] cs = centres[l];
            float[][] bias = biases[l];
            int li = l;
            ws.forRange(n, 1, rowWork, (from, to) -> {
                for (int i = from; i < to; i++) {
                    sparsify(li, sp, cs, LayerTopK.Group.ATTN, b[i].x, b[i].actHidden, b[i], owners[i]);
                    acts[i] = b[i].actHidden;
                    outA[i] = b[i].q;
                    outB[i] = b[i].k;
                    outC[i] = b[i].v;
                }
            });
            project(owners, acts, n, layer.q(), bias[Projection.Q.ordinal()], outA, ws);
            project(owners, acts, n, layer.k(), bias[Projection.K.ordinal()], outB, ws);
            project(owners, acts, n, layer.v(), bias[Projection.V.ordinal()], outC, ws);
            // Every key and value of a sequence is stored before any of its positions attends.
            for (int i = 0; i < n; i++) {
                owners[i].storeKeyValue(li, pass.position(i), b[i].k, 0, b[i].v, 0);
            }
            ws.forRange(n, 1, attendWork, (from, to) -> {
                for (int i = from; i < to; i++) {
                    attend(li, b[i], length[i], owners[i]);
                    sparsify(li, sp, cs, LayerTopK.Group.ATTN_OUT, b[i].attOut, b[i].actHidden, b[i], owners[i]);
                    acts[i] = b[i].actHidden;
                    outA[i] = b[i].xb;
                }
            });
            project(owners, acts, n, layer.o(), bias[Projection.O.ordinal()], outA, ws);
            ws.forRange(n, 1, rowWork, (from, to) -> {
                for (int i = from; i < to; i++) {
                    Slot t = b[i];
                    Kernels.add(t.x, t.xb, d);
                    Kernels.layerNorm(t.x, t.x, layer.attnNormWeight(), layer.attnNormBias(), config.layerNormEps(), d);
                    sparsify(li, sp, cs, LayerTopK.Group.MLP, t.x, t.actHidden, t, owners[i]);
                    acts[i] = t.actHidden;
                    outA[i] = t.up;
                }
            });
            project(owners, acts, n, layer.up(), bias[Projection.UP.ordinal()], outA, ws);
            ws.forRange(n, 1, mlpWork, (from, to) -> {
                for (int i = from; i < to; i++) {
                    Slot t = b[i];
                    ws.backend().gelu(t.up, t.up.length);
                    sparsify(li, sp, cs, LayerTopK.Group.MLP_OUT, t.up, t.actFfn, t, owners[i]);
                    acts[i] = t.actFfn;
                    outA[i] = t.xb;
                }
            });
            project(owners, acts, n, layer.down(), bias[Projection.DOWN.ordinal()], outA, ws);
            ws.forRange(n, 1, rowWork, (from, to) -> {
                for (int i = from; i < to; i++) {
                    Slot t = b[i];
                    Kernels.add(t.x, t.xb, d);
                    Kernels.layerNorm(t.x, t.x, layer.outNormWeight(), layer.outNormBias(), config.layerNormEps(), d);
                }
            });
        }
        for (int i = 0; i < n; i++) {
            owners[i].recordActivations(b[i].nonZero, b[i].inputs);
            float[] out = pass.hiddenOut(i);
            if (out != null) {
                System.arraycopy(b[i].x, 0, out, 0, d);
            }
        }
    }

    /**
     * Fills owners, and per slot its sequence's first slot and length; checks that every sequence
     * comes whole, in position order from 0, once, within max_position_embeddings, and makes room
     * for its keys and values.
     */
    private void groupSequences(Pass<State> pass, State[] owners, int[] start, int[] length) {
        int n = pass.size();
        int first = 0;
        for (int i = 0; i <= n; i++) {
            boolean ends = i == n || pass.position(i) == 0;
            if (i > 0 && ends) {
                int len = i - first;
                if (len > config.maxPositionEmbeddings()) {
                    throw new IllegalArgumentException("a sequence of " + len
                            + " positions exceeds max_position_embeddings " + config.maxPositionEmbeddings());
                }
                State s = pass.state(first);
                for (int j = 0; j < first; j += length[j]) {
                    if (owners[j] == s) {
                        throw new IllegalArgumentException("a sequence's state appears twice in one encoder pass");
                    }
                }
                s.ensureCapacity(len);
                for (int j = first; j < i; j++) {
                    owners[j] = s;
                    start[j] = first;
                    length[j] = len;
                }
                first = i;
            }
            if (i < n && (pass.state(i) != pass.state(first) || pass.position(i) != i - first)) {
                throw new IllegalArgumentException("an encoder pass must hold whole sequences, each at positions 0, 1,"
                        + " ... in order: slot " + i + " is position " + pass.position(i));
            }
        }
    }

    /** Every head of one position over all {@code length} positions of its sequence. */
    private void attend(int l, Slot t, int length, State s) {
        int hd = config.headDim();
        float scale = (float) (1.0 / Math.sqrt(hd));
        for (int h = 0; h < config.numHeads(); h++) {
            s.attendHead(l, t.q, h * hd, h * hd, hd, length, scale, t.attOut, h * hd, t.scores);
        }
    }

    /** Group {@code g}'s input {@code x} (minus its centre where it has one) through its sparsifier into {@code out}. */
    private void sparsify(
            int layer,
            Sparsifier[] sparsifiers,
            float[][] centres,
            LayerTopK.Group g,
            float[] x,
            ActivationBuffer out,
            Slot t,
            State s) {
        if (probe != null) {
            probe.input(layer, g, x, out.width());
        }
        float[] c = centres[g.ordinal()];
        float[] in = x;
        if (c != null) {
            in = t.centred;
            for (int i = 0; i < c.length; i++) {
                in[i] = x[i] - c[i];
            }
        }
        sparsifiers[g.ordinal()].apply(in, out, t.scratch, s.workspace().backend());
        t.nonZero += out.nonZeroInputs();
        t.inputs += out.width();
    }

    private static void project(
            State[] owners, ActivationBuffer[] in, int n, WeightMatrix w, float[] bias, float[][] out, Workspace ws) {
        w.multiplyBatch(in, n, out, ws);
        for (int i = 0; i < n; i++) {
            owners[i].recordWeightBytes(w.bytesRead(in[i].nonZeroInputs()));
            Kernels.addBias(out[i], bias);
        }
    }

    /** An encoder has no language-model head. */
    @Override
    public void logits(State lead, float[][] hidden, int count, float[][] out) {
        throw new UnsupportedOperationException(
                "model_type bert is an encoder: it has no language-model head (it embeds, it does not generate or"
                        + " score)");
    }
}
