package dev.qsparse.runtime.model;

import dev.qsparse.runtime.kernel.ActivationBuffer;
import dev.qsparse.runtime.kernel.Backends;
import dev.qsparse.runtime.kernel.FloatMatrix;
import dev.qsparse.runtime.kernel.Kernels;
import dev.qsparse.runtime.kernel.Sparsifier;
import dev.qsparse.runtime.kernel.TopK;
import dev.qsparse.runtime.kernel.TopKRescale;
import dev.qsparse.runtime.kernel.WorkerPool;
import dev.qsparse.runtime.safetensors.Checkpoint;
import dev.qsparse.runtime.safetensors.ModelLoadException;

/**
 * The original PyTorch {@code QSparseModel} ({@code qsparse_seed}), reproduced exactly, quirks
 * included: post-norm layers, no positional encoding, the sparsifier S replacing the residual
 * stream itself, and in quantized mode values of x / max|x| rounded (so in {-1, 0, 1}) with no
 * scale put back. See docs/model-format.md.
 */
public final class SeedTransformer implements DecoderModel<SeedTransformer.State> {

    private static final float LAYER_NORM_EPS = 1e-5f;
    private static final float SEED_QUANT_EPS = 1e-6f;

    private final SeedConfig config;
    private final FloatMatrix embedding;
    private final FloatMatrix fc;
    private final float[] fcBias;
    private final Layer[] layers;
    private final Sparsifier floatSparsifier;
    private final long parameterCount;

    private record Layer(
            FloatMatrix inProj,
            float[] inProjBias,
            FloatMatrix outProj,
            float[] outProjBias,
            FloatMatrix up,
            float[] upBias,
            FloatMatrix gate,
            float[] gateBias,
            FloatMatrix linear2,
            float[] linear2Bias,
            float[] norm1Weight,
            float[] norm1Bias,
            float[] norm2Weight,
            float[] norm2Bias) {}

    public SeedTransformer(SeedConfig config, Checkpoint checkpoint) throws ModelLoadException {
        this.config = config;
        WeightLoader w = new WeightLoader(checkpoint);
        int d = config.dModel();
        int f = config.dimFeedforward();
        this.embedding = w.floatMatrix("embedding.weight", config.vocabSize(), d);
        this.fc = w.floatMatrix("fc.weight", config.vocabSize(), d);
        this.fcBias = w.vector("fc.bias", config.vocabSize());
        this.layers = new Layer[config.numLayers()];
        for (int l = 0; l < layers.length; l++) {
            String p = "decoder_layers." + l + ".";
            layers[l] = new Layer(
                    w.floatMatrix(p + "self_attn.in_proj_weight", 3 * d, d),
                    w.vector(p + "self_attn.in_proj_bias", 3 * d),
                    w.floatMatrix(p + "self_attn.out_proj.weight", d, d),
                    w.vector(p + "self_attn.out_proj.bias", d),
                    w.floatMatrix(p + "feed_forward.w_up.weight", f, d),
                    w.vector(p + "feed_forward.w_up.bias", f),
                    w.floatMatrix(p + "feed_forward.w_gate.weight", f, d),
                    w.vector(p + "feed_forward.w_gate.bias", f),
                    w.floatMatrix(p + "linear2.weight", d, f),
                    w.vector(p + "linear2.bias", d),
                    w.vector(p + "norm1.weight", d),
                    w.vector(p + "norm1.bias", d),
                    w.vector(p + "norm2.weight", d),
                    w.vector(p + "norm2.bias", d));
        }
        this.floatSparsifier = new Sparsifier(config.kRatio(), 0, TopKRescale.L2);
        this.parameterCount = checkpoint.elementCount();
    }

    @Override
    public SeedConfig config() {
        return config;
    }

    @Override
    public long parameterCount() {
        return parameterCount;
    }

    @Override
    public String weightFormat() {
        return embedding.format();
    }

    /** The seed's forward runs one token at a time; a pass is its slots in turn. */
    @Override
    public int passSize() {
        return 64;
    }

    @Override
    public State newState(Backends.Choice backends, WorkerPool pool) {
        return new State(config, backends, pool);
    }

    static final class State extends ForwardState {
        final float[] x;
        final float[] qkv;
        final float[] att;
        final float[] tmp;
        final float[] up;
        final float[] gate;
        final float[] scratch;
        final ActivationBuffer act;
        final ActivationBuffer denseD;
        final ActivationBuffer denseF;
        final int d;

        State(SeedConfig c, Backends.Choice backends, WorkerPool pool) {
            super(c.numLayers(), c.dModel(), backends, pool);
            d = c.dModel();
            x = new float[d];
            qkv = new float[3 * d];
            att = new float[d];
            tmp = new float[d];
            up = new float[c.dimFeedforward()];
            gate = new float[c.dimFeedforward()];
            scratch = new float[d];
            act = new ActivationBuffer(d);
            denseD = new ActivationBuffer(d);
            denseF = new ActivationBuffer(c.dimFeedforward());
        }
    }

    @Override
    public void forward(Pass<State> pass) {
        for (int i = 0; i < pass.size(); i++) {
            step(pass.state(i), pass.token(i), pass.position(i), pass.hiddenOut(i));
        }
    }

    private void step(State s, int token, int pos, float[] hiddenOut) {
        if (token < 0 || token >= config.vocabSize()) {
            throw new IllegalArgumentException("token id " + token + " outside [0, " + config.vocabSize() + ")");
        }
        s.ensureCapacity(pos + 1);
        int d = config.dModel();
        int heads = config.nhead();
        int hd = d / heads;
        float scale = (float) (1.0 / Math.sqrt(hd));
        embedding.row(token, s.x);
        for (int l = 0; l < layers.length; l++) {
            Layer layer = layers[l];
            // x = S(x): the residual stream itself becomes the sparse vector.
            seedSparsify(s);
            multiply(s, layer.inProj(), s.act, s.qkv);
            Kernels.addBias(s.qkv, layer.inProjBias());
            s.storeKeyValue(l, pos, s.qkv, d, s.qkv, 2 * d);
            for (int h = 0; h < heads; h++) {
                s.attendHead(l, s.qkv, h * hd, h * hd, hd, pos + 1, scale, s.att, h * hd);
            }
            s.denseD.setDense(s.att);
            multiply(s, layer.outProj(), s.denseD, s.tmp);
            Kernels.addBias(s.tmp, layer.outProjBias());
            Kernels.add(s.tmp, s.x, d);
            Kernels.layerNorm(s.x, s.tmp, layer.norm1Weight(), layer.norm1Bias(), LAYER_NORM_EPS, d);
            // x = LayerNorm2(x + linear2(w_up(x) * relu(w_gate(x))^2))
            s.denseD.setDense(s.x);
            multiply(s, layer.up(), s.denseD, s.up);
            Kernels.addBias(s.up, layer.upBias());
            multiply(s, layer.gate(), s.denseD, s.gate);
            Kernels.addBias(s.gate, layer.gateBias());
            for (int i = 0; i < s.up.length; i++) {
                float g = Math.max(s.gate[i], 0f);
                s.up[i] = s.up[i] * (g * g);
            }
            s.denseF.setDense(s.up);
            multiply(s, layer.linear2(), s.denseF, s.tmp);
            Kernels.addBias(s.tmp, layer.linear2Bias());
            Kernels.add(s.tmp, s.x, d);
            Kernels.layerNorm(s.x, s.tmp, layer.norm2Weight(), layer.norm2Bias(), LAYER_NORM_EPS, d);
        }
        if (hiddenOut != null) {
            System.arraycopy(s.x, 0, hiddenOut, 0, d);
        }
    }

    /** The seed's S, in place on s.x, also leaving the result in s.act for the in_proj product. */
    private void seedSparsify(State s) {
        int d = config.dModel();
        ActivationBuffer act = s.act;
        if (config.quantized()) {
            float gamma = 0f;
            for (int i = 0; i < d; i++) {
                gamma = Math.max(gamma, Math.abs(s.x[i]));
            }
            float divisor = gamma + SEED_QUANT_EPS;
            for (int i = 0; i < d; i++) {
                float clamped = Math.max(-128f, Math.min(127f, s.x[i] / divisor));
                s.x[i] = (float) Math.rint(clamped);
                s.scratch[i] = Math.abs(s.x[i]);
            }
            float threshold = TopK.kthLargest(s.scratch, d, config.keptCount());
            int count = 0;
            int[] kept = act.indexToFill();
            for (int i = 0; i < d; i++) {
                if (Math.abs(s.x[i]) < threshold) {
                    s.x[i] = 0f;
                }
                act.values[i] = s.x[i];
                if (s.x[i] != 0f) {
                    kept[count++] = i;
                }
            }
            act.count = count;
            act.outputScale = 1f;
        } else {
            floatSparsifier.apply(s.x, act, s.scratch);
            // Materialise the rescaled values: they are the new residual stream. The kept set is
            // the sparsifier's (listed first: a tiny value could underflow to zero here).
            act.index();
            for (int i = 0; i < d; i++) {
                act.values[i] = act.values[i] * act.outputScale;
                s.x[i] = act.values[i];
            }
            act.outputScale = 1f;
        }
        s.recordActivations(act.count, d);
    }

    private static void multiply(State s, FloatMatrix w, ActivationBuffer in, float[] out) {
        w.multiply(in, out, s.workspace());
        s.recordWeightBytes(w.bytesRead(in.count));
    }

    @Override
    public void logits(State lead, float[][] hidden, int count, float[][] out) {
        for (int i = 0; i < count; i++) {
            lead.denseD.setDense(hidden[i]);
            multiply(lead, fc, lead.denseD, out[i]);
            Kernels.addBias(out[i], fcBias);
        }
    }
}
