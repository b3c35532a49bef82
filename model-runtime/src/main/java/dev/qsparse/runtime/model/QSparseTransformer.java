package dev.qsparse.runtime.model;

import dev.qsparse.runtime.kernel.ActivationBuffer;
import dev.qsparse.runtime.kernel.Backends;
import dev.qsparse.runtime.kernel.BatchBackend;
import dev.qsparse.runtime.kernel.FloatMatrix;
import dev.qsparse.runtime.kernel.Int8Matrix;
import dev.qsparse.runtime.kernel.KernelBackend;
import dev.qsparse.runtime.kernel.Kernels;
import dev.qsparse.runtime.kernel.Sparsifier;
import dev.qsparse.runtime.kernel.TernaryMatrix;
import dev.qsparse.runtime.kernel.WeightMatrix;
import dev.qsparse.runtime.kernel.WorkerPool;
import dev.qsparse.runtime.kernel.Workspace;
import dev.qsparse.runtime.safetensors.Checkpoint;
import dev.qsparse.runtime.safetensors.ModelLoadException;

/**
 * The {@code qsparse} architecture: a pre-norm Llama/BitNet-style decoder with Q-Sparse top-K
 * (optionally int8) sparsity on the input of every linear projection and a ReLU²GLU
 * feed-forward (or SwiGLU, or plain ReLU: {@link MlpActivation}). The math, step by step, is
 * in docs/model-format.md.
 */
public final class QSparseTransformer implements DecoderModel<QSparseTransformer.State> {

    private final QSparseConfig config;
    private final FloatMatrix embedding;
    private final WeightMatrix lmHead;
    /** Quantizes the lm head's input, or null for the float input as it is. */
    private final Sparsifier lmHeadIn;

    private final float[] finalNorm;
    private final Layer[] layers;
    private final float[] invFreq;
    private final Sparsifier attnIn;
    private final Sparsifier attnOut;
    private final Sparsifier mlpIn;
    private final Sparsifier mlpOut;
    private final long parameterCount;

    /**
     * One decoder layer's weights; biases, sub-norms and a plain-ReLU layer's gate are null when
     * absent. A BitLinear layer ({@link ProjectionNorms}) has q/k/v/gate/up input norms, and its
     * o/down input norms sit where BitNet's sub-norms do (on the same vector, before the same product).
     */
    private record Layer(
            float[] inputNorm,
            WeightMatrix q,
            WeightMatrix k,
            WeightMatrix v,
            WeightMatrix o,
            float[] qBias,
            float[] kBias,
            float[] vBias,
            float[] oBias,
            float[] qNorm,
            float[] kNorm,
            float[] attnSubNorm,
            float[] postAttnNorm,
            WeightMatrix gate,
            WeightMatrix up,
            WeightMatrix down,
            float[] gateBias,
            float[] upBias,
            float[] downBias,
            float[] ffnSubNorm,
            float[] qIn,
            float[] kIn,
            float[] vIn,
            float[] gateIn,
            float[] upIn) {}

    /**
     * Positions per pass: twice the default when the native batch backend runs the products
     * (mapped F32 weights on its float32 kernel, int8 and ternary weights on its VNNI kernel): each
     * pass streams and repacks every weight once, so longer passes amortize that (128 vs 64, A/B:
     * f32 prefill +5%, dense int8 prefill +4% and embed +10%, 50% ternary prefill +6%). The Java
     * kernels keep the default.
     */
    private final int passSize;

    /** The pass on the Java kernels: 64 positions of scratch stay a few MB even at a 3072-wide feed-forward. */
    static final int PASS = 64;

    /** The pass when the native batch backend runs the products. */
    static final int LONG_PASS = 128;

    @Override
    public int passSize() {
        return passSize;
    }

    /** Whether the native batch backend runs this matrix's products (its VNNI or its float32 kernel). */
    private static boolean onBatchBackend(WeightMatrix m) {
        return (m instanceof Int8Matrix || m instanceof TernaryMatrix)
                        && Backends.chosen().batch().isPresent()
                || nativeF32(m);
    }

    private static boolean nativeF32(WeightMatrix m) {
        return m instanceof FloatMatrix f
                && f.isMappedF32()
                && Backends.chosen().batch().map(BatchBackend::hasF32).orElse(false);
    }

    public QSparseTransformer(QSparseConfig config, Checkpoint checkpoint) throws ModelLoadException {
        this.config = config;
        WeightLoader w = new WeightLoader(checkpoint, config.quantRules());
        int d = config.hiddenSize();
        int f = config.intermediateSize();
        int qDim = config.numHeads() * config.headDim();
        int kvDim = config.numKeyValueHeads() * config.headDim();
        WeightQuant quant = config.weightQuant();
        boolean gated = config.mlpActivation().gated();
        LinearBiases biases = config.biases();
        String base = HubPrefix.of(checkpoint);
        this.embedding = w.floatMatrix(base + "embed_tokens.weight", config.vocabSize(), d);
        this.lmHead = w.lmHead(
                config.tieWordEmbeddings() ? base + "embed_tokens.weight" : "lm_head.weight",
                config.vocabSize(),
                d,
                config.lmHeadQuant());
        this.finalNorm = w.vector(base + "norm.weight", d);
        this.layers = new Layer[config.numLayers()];
        boolean bitLinear = config.projectionNorms();
        for (int l = 0; l < layers.length; l++) {
            String p = base + "layers." + l + ".";
            String gateName = p + "mlp.gate_proj.weight";
            if (!gated && checkpoint.contains(gateName)) {
                throw ModelLoadException.forTensor(
                        checkpoint.fileOf(gateName),
                        gateName,
                        "present, but config.json says mlp_activation = relu, which has no gate");
            }
            String attn = p + "self_attn.";
            String mlp = p + "mlp.";
            layers[l] = new Layer(
                    w.vector(p + "input_layernorm.weight", d),
                    w.matrix(attn + "q_proj.weight", qDim, d, quant),
                    w.matrix(attn + "k_proj.weight", kvDim, d, quant),
                    w.matrix(attn + "v_proj.weight", kvDim, d, quant),
                    w.matrix(attn + "o_proj.weight", d, qDim, quant),
                    bias(w, checkpoint, attn + "q_proj.bias", qDim, biases.qkv()),
                    bias(w, checkpoint, attn + "k_proj.bias", kvDim, biases.qkv()),
                    bias(w, checkpoint, attn + "v_proj.bias", kvDim, biases.qkv()),
                    bias(w, checkpoint, attn + "o_proj.bias", d, biases.o()),
                    headNorm(w, checkpoint, attn + "q_norm.weight"),
                    headNorm(w, checkpoint, attn + "k_norm.weight"),
                    bitLinear
                            ? w.vector(ProjectionNorms.of(attn + "o_proj.weight"), qDim)
                            : w.optionalVector(attn + "attn_sub_norm.weight", qDim),
                    w.vector(p + "post_attention_layernorm.weight", d),
                    gated ? w.matrix(mlp + "gate_proj.weight", f, d, quant) : null,
                    w.matrix(mlp + "up_proj.weight", f, d, quant),
                    w.matrix(mlp + "down_proj.weight", d, f, quant),
                    gated ? bias(w, checkpoint, mlp + "gate_proj.bias", f, biases.mlp()) : null,
                    bias(w, checkpoint, mlp + "up_proj.bias", f, biases.mlp()),
                    bias(w, checkpoint, mlp + "down_proj.bias", d, biases.mlp()),
                    bitLinear
                            ? w.vector(ProjectionNorms.of(mlp + "down_proj.weight"), f)
                            : w.optionalVector(p + "mlp.ffn_sub_norm.weight", f),
                    inputNorm(w, checkpoint, attn + "q_proj.weight", d),
                    inputNorm(w, checkpoint, attn + "k_proj.weight", d),
                    inputNorm(w, checkpoint, attn + "v_proj.weight", d),
                    gated ? inputNorm(w, checkpoint, mlp + "gate_proj.weight", d) : null,
                    inputNorm(w, checkpoint, mlp + "up_proj.weight", d));
            if (!bitLinear) {
                for (String proj : new String[] {attn + "o_proj.weight", mlp + "down_proj.weight"}) {
                    inputNorm(w, checkpoint, proj, 0); // refused when present
                }
            }
        }
        this.passSize = layers.length > 0 && onBatchBackend(layers[0].q()) ? LONG_PASS : PASS;
        this.invFreq = config.ropeScaling().inverseFrequencies(config.headDim(), config.ropeTheta());
        this.attnIn = config.attnInput();
        this.attnOut = config.attnOutput();
        this.mlpIn = config.mlpInput();
        this.lmHeadIn = config.lmHeadInput();
        this.mlpOut = config.mlpOutput();
        this.parameterCount = checkpoint.elementCount();
    }

    /**
     * A projection's bias: whatever the checkpoint holds for our own format; for a Hugging Face
     * config, exactly where it declares biases (a declared one missing, or an undeclared one present,
     * fails: transformers would not compute with the tensor as stored).
     */
    private float[] bias(WeightLoader w, Checkpoint checkpoint, String name, int n, boolean declared)
            throws ModelLoadException {
        if (!config.biases().declared()) {
            return w.optionalVector(name, n);
        }
        if (declared) {
            return w.vector(name, n);
        }
        if (checkpoint.contains(name)) {
            throw ModelLoadException.forTensor(
                    checkpoint.fileOf(name),
                    name,
                    "present, but config.json declares no bias here (attention_bias / mlp_bias false or absent)");
        }
        return null;
    }

    /**
     * Qwen3's per-head RMSNorm weight ([head_dim], shared by the heads), required when the config's
     * family has it and refused otherwise (transformers would not use it).
     */
    private float[] headNorm(WeightLoader w, Checkpoint checkpoint, String name) throws ModelLoadException {
        if (config.headNorms()) {
            return w.vector(name, config.headDim());
        }
        if (checkpoint.contains(name)) {
            throw ModelLoadException.forTensor(
                    checkpoint.fileOf(name), name, "present, but this model_type has no per-head norm (qwen3 has)");
        }
        return null;
    }

    /**
     * A BitLinear projection's input norm ({@link ProjectionNorms}), required when the config has
     * them and refused otherwise (nothing else would apply it).
     */
    private float[] inputNorm(WeightLoader w, Checkpoint checkpoint, String weightName, int n)
            throws ModelLoadException {
        String name = ProjectionNorms.of(weightName);
        if (config.projectionNorms()) {
            return w.vector(name, n);
        }
        if (checkpoint.contains(name)) {
            throw ModelLoadException.forTensor(
                    checkpoint.fileOf(name),
                    name,
                    "present, but this model has no BitLinear input norms (only a qwen3 config, the bitnet-embedding"
                            + " layout, has them)");
        }
        return null;
    }

    @Override
    public QSparseConfig config() {
        return config;
    }

    @Override
    public long parameterCount() {
        return parameterCount;
    }

    @Override
    public String weightFormat() {
        String proj = layers[0].q().format();
        return proj.equals(embedding.format()) ? proj : proj + "+" + embedding.format();
    }

    /** Format of the lm head's weights ("F32", "int8", ...). */
    public String lmHeadFormat() {
        return lmHead.format();
    }

    @Override
    public State newState(Backends.Choice backends, WorkerPool pool) {
        return new State(config, backends, pool);
    }

    /** Per-position scratch of one token (also one row of a micro-batch). */
    static final class Slot {
        final float[] x;
        final float[] xb;
        final float[] xb2;
        final float[] q;
        final float[] k;
        final float[] v;
        final float[] attOut;
        final float[] gate;
        final float[] up;
        final float[] cos;
        final float[] sin;
        final ActivationBuffer actHidden;
        /** k's and v's inputs (up's in the feed-forward) when each projection norms its own input. */
        final ActivationBuffer actHidden2;

        final ActivationBuffer actHidden3;
        final ActivationBuffer actHeads;
        final ActivationBuffer actFfn;
        /** The sparsifier's scratch, and attention scores (grown to the owner's cache): the slot's own, so slots can run on different threads. */
        final float[] scratch;

        float[] scores = new float[0];
        /** Non-zero and total projection inputs of this pass, added to the owner's counts after it. */
        long nonZero;

        long inputs;

        Slot(QSparseConfig c) {
            int d = c.hiddenSize();
            int qDim = c.numHeads() * c.headDim();
            int kvDim = c.numKeyValueHeads() * c.headDim();
            x = new float[d];
            xb = new float[d];
            xb2 = new float[d];
            q = new float[qDim];
            k = new float[kvDim];
            v = new float[kvDim];
            attOut = new float[qDim];
            gate = new float[c.intermediateSize()];
            up = new float[c.intermediateSize()];
            cos = new float[c.headDim() / 2];
            sin = new float[c.headDim() / 2];
            actHidden = new ActivationBuffer(d);
            actHidden2 = c.projectionNorms() ? new ActivationBuffer(d) : actHidden;
            actHidden3 = c.projectionNorms() ? new ActivationBuffer(d) : actHidden;
            actHeads = new ActivationBuffer(qDim);
            actFfn = new ActivationBuffer(c.intermediateSize());
            scratch = new float[Math.max(Math.max(d, qDim), c.intermediateSize())];
        }
    }

    /** Scratch and KV cache for one sequence. */
    static final class State extends ForwardState {
        final QSparseConfig config;
        Slot[] batch = new Slot[0];
        final float[] lmHeadScratch;
        ActivationBuffer[] batchLogitsInput = new ActivationBuffer[0];
        // Gathered views of the batch for multiplyBatch.
        ActivationBuffer[] actsA = new ActivationBuffer[0];
        ActivationBuffer[] actsB = new ActivationBuffer[0];
        ActivationBuffer[] actsC = new ActivationBuffer[0];
        float[][] outsA = new float[0][];
        float[][] outsB = new float[0][];
        float[][] outsC = new float[0][];

        State(QSparseConfig c, Backends.Choice backends, WorkerPool pool) {
            super(c.numLayers(), c.numKeyValueHeads() * c.headDim(), backends, pool);
            this.config = c;
            lmHeadScratch = new float[c.hiddenSize()];
        }

        // A pass's slots as arrays, when this state leads it.
        private State[] owners = new State[0];
        private int[] tokens = new int[0];
        private int[] positions = new int[0];
        private float[][] hiddenOut = new float[0][];

        State[] owners(int n) {
            if (owners.length < n) {
                owners = new State[n];
                tokens = new int[n];
                positions = new int[n];
                hiddenOut = new float[n][];
            }
            return owners;
        }

        int[] tokens(int n) {
            owners(n);
            return tokens;
        }

        int[] positions(int n) {
            owners(n);
            return positions;
        }

        float[][] hiddenOut(int n) {
            owners(n);
            return hiddenOut;
        }

        Slot[] batch(int n) {
            if (batch.length < n) {
                Slot[] b = java.util.Arrays.copyOf(batch, n);
                for (int i = batch.length; i < n; i++) {
                    b[i] = new Slot(config);
                }
                batch = b;
                actsA = new ActivationBuffer[n];
                actsB = new ActivationBuffer[n];
                actsC = new ActivationBuffer[n];
                outsA = new float[n][];
                outsB = new float[n][];
                outsC = new float[n][];
            }
            return batch;
        }

        ActivationBuffer[] logitsInputs(int n) {
            if (batchLogitsInput.length < n) {
                ActivationBuffer[] b = java.util.Arrays.copyOf(batchLogitsInput, n);
                for (int i = batchLogitsInput.length; i < n; i++) {
                    b[i] = new ActivationBuffer(config.hiddenSize());
                }
                batchLogitsInput = b;
            }
            return batchLogitsInput;
        }
    }

    private void checkToken(int token) {
        if (token < 0 || token >= config.vocabSize()) {
            throw new IllegalArgumentException("token id " + token + " outside [0, " + config.vocabSize() + ")");
        }
    }

    private void rope(Slot s, int pos) {
        for (int i = 0; i < invFreq.length; i++) {
            float angle = pos * invFreq[i];
            s.cos[i] = (float) Math.cos(angle);
            s.sin[i] = (float) Math.sin(angle);
        }
    }

    /** One pass of slots ({@link Pass}) through {@link #slots}: the one layer recipe, for a decode step and a prefill chunk alike. */
    @Override
    public void forward(Pass<State> pass) {
        int n = pass.size();
        if (n > passSize) {
            throw new IllegalArgumentException("a pass of " + n + " slots exceeds the model's pass size " + passSize);
        }
        if (n == 0) {
            return;
        }
        State lead = pass.state(0);
        State[] owners = lead.owners(n);
        int[] tokens = lead.tokens(n);
        int[] positions = lead.positions(n);
        float[][] hiddenOut = lead.hiddenOut(n);
        for (int i = 0; i < n; i++) {
            owners[i] = pass.state(i);
            tokens[i] = pass.token(i);
            positions[i] = pass.position(i);
            hiddenOut[i] = pass.hiddenOut(i);
        }
        slots(lead, owners, tokens, positions, n, hiddenOut);
    }

    /**
     * One micro-batch of positions: slot i is {@code tokens[i]} at {@code pos[i]} of the sequence in
     * {@code owners[i]} (a sequence's slots in position order). The projections of all slots share
     * one pass over the weights, run on {@code lead}'s workspace; each slot's attention reads and
     * appends to its owner's KV cache, and its owner's statistics count it; its final hidden state
     * goes to {@code hiddenOut[i]} when that is not null.
     */
    private void slots(State lead, State[] owners, int[] tokens, int[] pos, int n, float[][] hiddenOut) {
        for (int i = 0; i < n; i++) {
            checkToken(tokens[i]);
        }
        for (int i = 0; i < n; i++) {
            owners[i].ensureCapacity(pos[i] + 1);
        }
        Slot[] b = lead.batch(n);
        boolean probed = false;
        long keys = 0;
        for (int i = 0; i < n; i++) {
            rope(b[i], pos[i]);
            embedding.row(tokens[i], b[i].x);
            if (b[i].scores.length < owners[i].capacity()) {
                b[i].scores = new float[owners[i].capacity()];
            }
            b[i].nonZero = 0;
            b[i].inputs = 0;
            probed |= owners[i].feedForwardSparsity() != null;
            keys += pos[i] + 1;
        }
        Workspace ws = lead.workspace();
        ActivationBuffer[] acts = lead.actsA;
        ActivationBuffer[] acts2 = lead.actsB;
        ActivationBuffer[] acts3 = lead.actsC;
        float[][] outA = lead.outsA;
        float[][] outB = lead.outsB;
        float[][] outC = lead.outsC;
        int d = config.hiddenSize();
        int qDim = config.numHeads() * config.headDim();
        // The per-position steps between the products are independent across slots: they run on the
        // pool's threads too (work estimates in multiply-adds, so that small passes stay on one thread).
        long normWork = (long) n * d * 16;
        long attendWork = keys * qDim * 2 + (long) n * qDim * 8;
        // A feed-forward sparsity probe records into its state's counters: one thread then.
        long mlpWork = probed ? 0 : (long) n * config.intermediateSize() * 16;
        for (int l = 0; l < layers.length; l++) {
            Layer layer = layers[l];
            int layerIndex = l;
            ws.forRange(n, 1, normWork, (from, to) -> {
                for (int i = from; i < to; i++) {
                    attentionInput(layer, b[i], owners[i]);
                    acts[i] = b[i].actHidden;
                    acts2[i] = b[i].actHidden2;
                    acts3[i] = b[i].actHidden3;
                    outA[i] = b[i].q;
                    outB[i] = b[i].k;
                    outC[i] = b[i].v;
                }
            });
            projectBatch(owners, acts, n, layer.q(), layer.qBias(), outA, ws);
            projectBatch(owners, acts2, n, layer.k(), layer.kBias(), outB, ws);
            projectBatch(owners, acts3, n, layer.v(), layer.vBias(), outC, ws);
            // Every slot's key and value are in the cache before any slot attends: a pass may hold
            // several positions of one sequence, each attending to those before it.
            ws.forRange(n, 1, normWork, (from, to) -> {
                for (int i = from; i < to; i++) {
                    rotate(layer, b[i], ws.backend());
                }
                storeRuns(layerIndex, owners, pos, outB, outC, from, to); // outB, outC: each slot's k and v
            });
            ws.forRange(n, 1, attendWork, (from, to) -> {
                for (int i = from; i < to; ) {
                    // Four consecutive positions of one sequence (a prefill) attend together; a run
                    // of such groups goes head by head, so that a head's keys and values stay in cache.
                    int group = 0;
                    while (i + group + 3 < to && consecutive(owners, pos, i + group)) {
                        group += 4;
                    }
                    if (group > 0) {
                        attendGroupsOfFour(layerIndex, b, pos, owners, i, group / 4);
                    } else {
                        group = 1;
                        attendHeads(layerIndex, b[i], pos[i], owners[i]);
                    }
                    for (int j = i; j < i + group; j++) {
                        finishAttention(layer, b[j], owners[j]);
                        acts[j] = b[j].actHeads;
                        outA[j] = b[j].xb2;
                    }
                    i += group;
                }
            });
            projectBatch(owners, acts, n, layer.o(), layer.oBias(), outA, ws);
            ws.forRange(n, 1, normWork, (from, to) -> {
                for (int i = from; i < to; i++) {
                    Kernels.add(b[i].x, b[i].xb2, d);
                    mlpInput(layer, b[i], owners[i]);
                    acts[i] = b[i].actHidden;
                    acts2[i] = b[i].actHidden2;
                    outA[i] = b[i].gate;
                    outB[i] = b[i].up;
                }
            });
            if (layer.gate() != null) {
                projectBatch(owners, acts, n, layer.gate(), layer.gateBias(), outA, ws);
            }
            projectBatch(owners, acts2, n, layer.up(), layer.upBias(), outB, ws);
            ws.forRange(n, 1, mlpWork, (from, to) -> {
                for (int i = from; i < to; i++) {
                    mlpOutput(layer, layerIndex, b[i], owners[i]);
                    acts[i] = b[i].actFfn;
                    outA[i] = b[i].xb2;
                }
            });
            projectBatch(owners, acts, n, layer.down(), layer.downBias(), outA, ws);
            for (int i = 0; i < n; i++) {
                Kernels.add(b[i].x, b[i].xb2, d);
            }
        }
        for (int i = 0; i < n; i++) {
            owners[i].recordActivations(b[i].nonZero, b[i].inputs);
            if (hiddenOut[i] != null) {
                Kernels.rmsNorm(hiddenOut[i], b[i].x, finalNorm, config.rmsNormEps(), d);
            }
        }
    }

    private void attentionInput(Layer layer, Slot t, State s) {
        Kernels.rmsNorm(t.xb, t.x, layer.inputNorm(), config.rmsNormEps(), config.hiddenSize());
        if (layer.qIn() == null) {
            sparsify(attnIn, t.xb, t.actHidden, t, s);
        } else {
            projectionInput(layer.qIn(), attnIn, t.actHidden, t, s);
            projectionInput(layer.kIn(), attnIn, t.actHidden2, t, s);
            projectionInput(layer.vIn(), attnIn, t.actHidden3, t, s);
        }
    }

    /** BitLinear: the projection's own RMSNorm of the shared input t.xb (xb2 is free until o_proj), then quantized. */
    private void projectionInput(float[] norm, Sparsifier sparsifier, ActivationBuffer out, Slot t, State s) {
        Kernels.rmsNorm(t.xb2, t.xb, norm, config.rmsNormEps(), config.hiddenSize());
        sparsify(sparsifier, t.xb2, out, t, s);
    }

    /** RoPE (and Qwen3's per-head norms) on one position's query and key. */
    private void rotate(Layer layer, Slot t, KernelBackend kernels) {
        int hd = config.headDim();
        if (layer.qNorm() != null) { // Qwen3: RMSNorm over each head of q and k, before the rotation
            for (int h = 0; h < config.numHeads(); h++) {
                Kernels.rmsNorm(t.q, h * hd, layer.qNorm(), config.rmsNormEps(), hd);
            }
            for (int h = 0; h < config.numKeyValueHeads(); h++) {
                Kernels.rmsNorm(t.k, h * hd, layer.kNorm(), config.rmsNormEps(), hd);
            }
        }
        for (int h = 0; h < config.numHeads(); h++) {
            kernels.ropeRotateHalf(t.q, h * hd, hd, t.cos, t.sin);
        }
        for (int h = 0; h < config.numKeyValueHeads(); h++) {
            kernels.ropeRotateHalf(t.k, h * hd, hd, t.cos, t.sin);
        }
    }

    /**
     * Slots [from, to)'s keys and values (k[i], v[i]) into their owners' caches, each run of
     * consecutive positions of one sequence (a prefill chunk) stored together.
     */
    private static void storeRuns(int l, State[] owners, int[] pos, float[][] k, float[][] v, int from, int to) {
        for (int i = from; i < to; ) {
            int j = i + 1;
            while (j < to && owners[j] == owners[i] && pos[j] == pos[j - 1] + 1) {
                j++;
            }
            owners[i].storeKeyValues(l, pos[i], j - i, k, v, i);
            i = j;
        }
    }

    /** Whether slots i..i+3 are consecutive positions of one sequence. */
    private static boolean consecutive(State[] owners, int[] pos, int i) {
        for (int j = 1; j < 4; j++) {
            if (owners[i + j] != owners[i] || pos[i + j] != pos[i] + j) {
                return false;
            }
        }
        return true;
    }

    /** Causal attention of one position (its key already stored) into t.attOut. */
    private void attendHeads(int l, Slot t, int pos, State s) {
        int hd = config.headDim();
        int groups = config.numHeads() / config.numKeyValueHeads();
        float attnScale = (float) (1.0 / Math.sqrt(hd));
        for (int h = 0; h < config.numHeads(); h++) {
            s.attendHead(l, t.q, h * hd, (h / groups) * hd, hd, pos + 1, attnScale, t.attOut, h * hd, t.scores);
        }
    }

    /**
     * {@link #attendHeads} for {@code count} groups of four slots from slot i, each group consecutive
     * positions of one sequence: the same bits. Head by head over every group (not group by group
     * over every head): a 256-position cache is 1.5 MB a layer at 768 channels, and each group
     * reads all of it, while one head's part (128 KB) stays in L2 across the groups.
     */
    private void attendGroupsOfFour(int l, Slot[] b, int[] pos, State[] owners, int i, int count) {
        int hd = config.headDim();
        int groups = config.numHeads() / config.numKeyValueHeads();
        float attnScale = (float) (1.0 / Math.sqrt(hd));
        float[][][] q = new float[count][][];
        float[][][] out = new float[count][][];
        float[][][] scores = new float[count][][];
        int[][] lengths = new int[count][];
        for (int g = 0; g < count; g++) {
            int a = i + 4 * g;
            q[g] = new float[][] {b[a].q, b[a + 1].q, b[a + 2].q, b[a + 3].q};
            out[g] = new float[][] {b[a].attOut, b[a + 1].attOut, b[a + 2].attOut, b[a + 3].attOut};
            scores[g] = new float[][] {b[a].scores, b[a + 1].scores, b[a + 2].scores, b[a + 3].scores};
            lengths[g] = new int[] {pos[a] + 1, pos[a] + 2, pos[a] + 3, pos[a] + 4};
        }
        for (int h = 0; h < config.numHeads(); h++) {
            for (int g = 0; g < count; g++) {
                owners[i + 4 * g].attendHead4(
                        l, q[g], h * hd, (h / groups) * hd, hd, lengths[g], attnScale, out[g], h * hd, scores[g]);
            }
        }
    }

    /** The attention output's sub-norm and sparsifier: leaves the o_proj input in t.actHeads. */
    private void finishAttention(Layer layer, Slot t, State s) {
        if (layer.attnSubNorm() != null) {
            Kernels.rmsNorm(t.attOut, t.attOut, layer.attnSubNorm(), config.rmsNormEps(), t.attOut.length);
        }
        sparsify(attnOut, t.attOut, t.actHeads, t, s);
    }

    private void mlpInput(Layer layer, Slot t, State s) {
        Kernels.rmsNorm(t.xb, t.x, layer.postAttnNorm(), config.rmsNormEps(), config.hiddenSize());
        if (layer.upIn() == null) {
            sparsify(mlpIn, t.xb, t.actHidden, t, s);
        } else {
            // xb2 holds the o_proj output until it is added to x, just before this.
            projectionInput(layer.gateIn(), mlpIn, t.actHidden, t, s);
            projectionInput(layer.upIn(), mlpIn, t.actHidden2, t, s);
        }
    }

    /** h (by the config's {@link MlpActivation}), sub-norm, sparsified into t.actFfn. */
    private void mlpOutput(Layer layer, int l, Slot t, State s) {
        switch (config.mlpActivation()) {
            case RELU2_GLU -> {
                for (int i = 0; i < t.up.length; i++) {
                    float g = Math.max(t.gate[i], 0f);
                    t.up[i] = t.up[i] * (g * g);
                }
            }
            case SWIGLU -> {
                for (int i = 0; i < t.up.length; i++) {
                    float g = t.gate[i];
                    t.up[i] = t.up[i] * (g / (1f + (float) Math.exp(-g)));
                }
            }
            case RELU -> {
                for (int i = 0; i < t.up.length; i++) {
                    t.up[i] = Math.max(t.up[i], 0f);
                }
            }
        }
        if (layer.ffnSubNorm() != null) {
            Kernels.rmsNorm(t.up, t.up, layer.ffnSubNorm(), config.rmsNormEps(), t.up.length);
        }
        sparsify(mlpOut, t.up, t.actFfn, t, s);
        FeedForwardSparsity probe = s.feedForwardSparsity();
        if (probe != null) {
            probe.record(l, t.up, t.actFfn);
        }
    }

    private static void sparsify(Sparsifier sparsifier, float[] x, ActivationBuffer out, Slot t, State s) {
        sparsifier.apply(x, out, t.scratch, s.workspace().backend());
        t.nonZero += out.count;
        t.inputs += out.width();
    }

    private static void projectBatch(
            State[] owners, ActivationBuffer[] in, int n, WeightMatrix w, float[] bias, float[][] out, Workspace ws) {
        w.multiplyBatch(in, n, out, ws);
        for (int i = 0; i < n; i++) {
            owners[i].recordWeightBytes(w.bytesRead(in[i].count));
            Kernels.addBias(out[i], bias);
        }
    }

    @Override
    public void logits(State lead, float[][] hidden, int count, float[][] out) {
        ActivationBuffer[] in = lead.logitsInputs(count);
        for (int i = 0; i < count; i++) {
            lmHeadInput(hidden[i], in[i], lead);
        }
        lmHead.multiplyBatch(in, count, out, lead.workspace());
        for (int i = 0; i < count; i++) {
            lead.recordWeightBytes(lmHead.bytesRead(in[i].count));
        }
    }

    private void lmHeadInput(float[] hidden, ActivationBuffer in, State s) {
        if (lmHeadIn == null) {
            in.setDense(hidden);
        } else {
            lmHeadIn.apply(hidden, in, s.lmHeadScratch, s.workspace().backend());
        }
    }
}
