package dev.qsparse.runtime.model;

import dev.qsparse.runtime.kernel.ActivationBuffer;
import dev.qsparse.runtime.kernel.FloatMatrix;
import dev.qsparse.runtime.kernel.Kernels;
import dev.qsparse.runtime.kernel.Sparsifier;
import dev.qsparse.runtime.kernel.WeightMatrix;
import dev.qsparse.runtime.safetensors.Checkpoint;
import dev.qsparse.runtime.safetensors.ModelLoadException;

/**
 * The {@code qsparse} architecture: a pre-norm Llama/BitNet-style decoder with Q-Sparse top-K
 * (optionally int8) sparsity on the input of every linear projection and a ReLU²GLU
 * feed-forward. The math, step by step, is in docs/model-format.md.
 */
public final class QSparseTransformer implements DecoderModel {

    private final QSparseConfig config;
    private final FloatMatrix embedding;
    private final FloatMatrix lmHead;
    private final float[] finalNorm;
    private final Layer[] layers;
    private final float[] invFreq;
    private final Sparsifier attnIn;
    private final Sparsifier attnOut;
    private final Sparsifier mlpIn;
    private final Sparsifier mlpOut;
    private final long parameterCount;

    /** One decoder layer's weights; biases and sub-norms are null when absent. */
    private record Layer(
            float[] inputNorm, WeightMatrix q, WeightMatrix k, WeightMatrix v, WeightMatrix o,
            float[] qBias, float[] kBias, float[] vBias, float[] oBias, float[] attnSubNorm,
            float[] postAttnNorm, WeightMatrix gate, WeightMatrix up, WeightMatrix down,
            float[] gateBias, float[] upBias, float[] downBias, float[] ffnSubNorm) {
    }

    public QSparseTransformer(QSparseConfig config, Checkpoint checkpoint) throws ModelLoadException {
        this.config = config;
        WeightLoader w = new WeightLoader(checkpoint);
        int d = config.hiddenSize();
        int f = config.intermediateSize();
        int qDim = config.numHeads() * config.headDim();
        int kvDim = config.numKeyValueHeads() * config.headDim();
        WeightQuant quant = config.weightQuant();
        this.embedding = w.floatMatrix("model.embed_tokens.weight", config.vocabSize(), d);
        this.lmHead = config.tieWordEmbeddings() ? embedding
                : w.floatMatrix("lm_head.weight", config.vocabSize(), d);
        this.finalNorm = w.vector("model.norm.weight", d);
        this.layers = new Layer[config.numLayers()];
        for (int l = 0; l < layers.length; l++) {
            String p = "model.layers." + l + ".";
            layers[l] = new Layer(
                    w.vector(p + "input_layernorm.weight", d),
                    w.matrix(p + "self_attn.q_proj.weight", qDim, d, quant),
                    w.matrix(p + "self_attn.k_proj.weight", kvDim, d, quant),
                    w.matrix(p + "self_attn.v_proj.weight", kvDim, d, quant),
                    w.matrix(p + "self_attn.o_proj.weight", d, qDim, quant),
                    w.optionalVector(p + "self_attn.q_proj.bias", qDim),
                    w.optionalVector(p + "self_attn.k_proj.bias", kvDim),
                    w.optionalVector(p + "self_attn.v_proj.bias", kvDim),
                    w.optionalVector(p + "self_attn.o_proj.bias", d),
                    w.optionalVector(p + "self_attn.attn_sub_norm.weight", qDim),
                    w.vector(p + "post_attention_layernorm.weight", d),
                    w.matrix(p + "mlp.gate_proj.weight", f, d, quant),
                    w.matrix(p + "mlp.up_proj.weight", f, d, quant),
                    w.matrix(p + "mlp.down_proj.weight", d, f, quant),
                    w.optionalVector(p + "mlp.gate_proj.bias", f),
                    w.optionalVector(p + "mlp.up_proj.bias", f),
                    w.optionalVector(p + "mlp.down_proj.bias", d),
                    w.optionalVector(p + "mlp.ffn_sub_norm.weight", f));
        }
        int half = config.headDim() / 2;
        this.invFreq = new float[half];
        for (int i = 0; i < half; i++) {
            // As torch computes it in float32: 1 / theta^((2i) / hd).
            float exponent = (float) (2 * i) / config.headDim();
            invFreq[i] = 1f / (float) Math.pow(config.ropeTheta(), exponent);
        }
        this.attnIn = config.attnInput();
        this.attnOut = config.attnOutput();
        this.mlpIn = config.mlpInput();
        this.mlpOut = config.mlpOutput();
        long params = 0;
        for (String name : checkpoint.tensorNames()) {
            params += checkpoint.info(name).elementCount();
        }
        this.parameterCount = params;
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

    @Override
    public ForwardState newState() {
        return new State(config);
    }

    /** Scratch and KV cache for one sequence. */
    static final class State extends ForwardState {
        final float[] x;
        final float[] xb;
        final float[] xb2;
        final float[] q;
        final float[] k;
        final float[] v;
        final float[] attOut;
        final float[] gate;
        final float[] up;
        final float[] scores;
        final float[] scratch;
        final float[] cos;
        final float[] sin;
        final ActivationBuffer actHidden;
        final ActivationBuffer actHeads;
        final ActivationBuffer actFfn;
        final float[][] keyCache;
        final float[][] valueCache;
        final int kvDim;
        float[] scoresBuf;
        int capacity;

        State(QSparseConfig c) {
            super(c.hiddenSize());
            int d = c.hiddenSize();
            int qDim = c.numHeads() * c.headDim();
            kvDim = c.numKeyValueHeads() * c.headDim();
            x = new float[d];
            xb = new float[d];
            xb2 = new float[d];
            q = new float[qDim];
            k = new float[kvDim];
            v = new float[kvDim];
            attOut = new float[qDim];
            gate = new float[c.intermediateSize()];
            up = new float[c.intermediateSize()];
            scores = null;
            scratch = new float[Math.max(Math.max(d, qDim), c.intermediateSize())];
            cos = new float[c.headDim() / 2];
            sin = new float[c.headDim() / 2];
            actHidden = new ActivationBuffer(d);
            actHeads = new ActivationBuffer(qDim);
            actFfn = new ActivationBuffer(c.intermediateSize());
            keyCache = new float[c.numLayers()][0];
            valueCache = new float[c.numLayers()][0];
            scoresBuf = new float[0];
            capacity = 0;
        }

        @Override
        public void ensureCapacity(int positions) {
            if (positions <= capacity) {
                return;
            }
            for (int l = 0; l < keyCache.length; l++) {
                keyCache[l] = grow(keyCache[l], positions, kvDim);
                valueCache[l] = grow(valueCache[l], positions, kvDim);
            }
            capacity = keyCache[0].length / kvDim;
            if (scoresBuf.length < capacity) {
                scoresBuf = new float[capacity];
            }
        }

        @Override
        public int capacity() {
            return capacity;
        }
    }

    @Override
    public void forward(ForwardState forwardState, int token, int pos) {
        State s = (State) forwardState;
        if (token < 0 || token >= config.vocabSize()) {
            throw new IllegalArgumentException("token id " + token + " outside [0, " + config.vocabSize() + ")");
        }
        s.ensureCapacity(pos + 1);
        QSparseConfig c = config;
        int d = c.hiddenSize();
        int hd = c.headDim();
        int groups = c.numHeads() / c.numKeyValueHeads();
        float attnScale = (float) (1.0 / Math.sqrt(hd));
        for (int i = 0; i < invFreq.length; i++) {
            float angle = pos * invFreq[i];
            s.cos[i] = (float) Math.cos(angle);
            s.sin[i] = (float) Math.sin(angle);
        }
        embedding.row(token, s.x);
        for (int l = 0; l < layers.length; l++) {
            Layer layer = layers[l];
            // Attention block.
            Kernels.rmsNorm(s.xb, s.x, layer.inputNorm(), c.rmsNormEps(), d);
            sparsify(attnIn, s.xb, s.actHidden, s);
            project(s.actHidden, layer.q(), layer.qBias(), s.q);
            project(s.actHidden, layer.k(), layer.kBias(), s.k);
            project(s.actHidden, layer.v(), layer.vBias(), s.v);
            for (int h = 0; h < c.numHeads(); h++) {
                Kernels.ropeRotateHalf(s.q, h * hd, hd, s.cos, s.sin);
            }
            for (int h = 0; h < c.numKeyValueHeads(); h++) {
                Kernels.ropeRotateHalf(s.k, h * hd, hd, s.cos, s.sin);
            }
            System.arraycopy(s.k, 0, s.keyCache[l], pos * s.kvDim, s.kvDim);
            System.arraycopy(s.v, 0, s.valueCache[l], pos * s.kvDim, s.kvDim);
            for (int h = 0; h < c.numHeads(); h++) {
                Kernels.attendHead(s.q, h * hd, s.keyCache[l], s.valueCache[l], (h / groups) * hd, s.kvDim,
                        hd, pos + 1, attnScale, s.scoresBuf, s.attOut, h * hd);
            }
            if (layer.attnSubNorm() != null) {
                Kernels.rmsNorm(s.attOut, s.attOut, layer.attnSubNorm(), c.rmsNormEps(), s.attOut.length);
            }
            sparsify(attnOut, s.attOut, s.actHeads, s);
            project(s.actHeads, layer.o(), layer.oBias(), s.xb2);
            Kernels.add(s.x, s.xb2, d);
            // Feed-forward block: down(up(m) * relu(gate(m))^2).
            Kernels.rmsNorm(s.xb, s.x, layer.postAttnNorm(), c.rmsNormEps(), d);
            sparsify(mlpIn, s.xb, s.actHidden, s);
            project(s.actHidden, layer.gate(), layer.gateBias(), s.gate);
            project(s.actHidden, layer.up(), layer.upBias(), s.up);
            for (int i = 0; i < s.gate.length; i++) {
                float g = Math.max(s.gate[i], 0f);
                s.up[i] = s.up[i] * (g * g);
            }
            if (layer.ffnSubNorm() != null) {
                Kernels.rmsNorm(s.up, s.up, layer.ffnSubNorm(), c.rmsNormEps(), s.up.length);
            }
            sparsify(mlpOut, s.up, s.actFfn, s);
            project(s.actFfn, layer.down(), layer.downBias(), s.xb2);
            Kernels.add(s.x, s.xb2, d);
        }
        Kernels.rmsNorm(s.hidden, s.x, finalNorm, c.rmsNormEps(), d);
    }

    private static void sparsify(Sparsifier sparsifier, float[] x, ActivationBuffer out, State s) {
        sparsifier.apply(x, out, s.scratch);
        s.recordActivations(out.count, out.width());
    }

    private static void project(ActivationBuffer in, WeightMatrix w, float[] bias, float[] out) {
        in.multiply(w, out);
        Kernels.addBias(out, bias);
    }

    @Override
    public void logits(ForwardState state, float[] out) {
        lmHead.matvec(state.hidden, out);
    }
}
