package dev.qsparse.runtime.model;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Map;

/**
 * An independent float64 Llama forward pass written from transformers' published math (not from
 * the runtime's code, nor from the training tools' model): RMSNorm {@code w * x / sqrt(mean(x^2) +
 * eps)}, rotary embedding over the two halves of each head, grouped-query causal attention, the
 * feed-forward {@code down(act(gate(x)) * up(x))}, biases where the config declares them. Reads
 * the config's Hub keys with LlamaConfig's defaults; rope scaling types default, linear and llama3.
 */
final class LlamaReference {

    private final Map<String, double[]> w;
    private final int vocab;
    private final int hidden;
    private final int heads;
    private final int kvHeads;
    private final int headDim;
    private final int intermediate;
    private final int layers;
    private final double eps;
    private final boolean silu;
    private final boolean tied;
    private final boolean qkvBias;
    private final boolean oBias;
    private final boolean mlpBias;
    private final boolean headNorms;
    private final double[] invFreq;

    LlamaReference(JsonNode c, Map<String, double[]> tensors) {
        w = tensors;
        String type = c.get("model_type").asText();
        boolean qwen = type.startsWith("qwen");
        vocab = c.get("vocab_size").intValue();
        hidden = c.get("hidden_size").intValue();
        heads = c.get("num_attention_heads").intValue();
        // Qwen2Config and Qwen3Config default to 32 key/value heads, Qwen3Config to head_dim 128.
        kvHeads = c.path("num_key_value_heads").asInt(qwen ? 32 : heads);
        headDim = c.path("head_dim").asInt(type.equals("qwen3") ? 128 : hidden / heads);
        intermediate = c.get("intermediate_size").intValue();
        layers = c.get("num_hidden_layers").intValue();
        eps = c.path("rms_norm_eps").asDouble(1e-6);
        String act = c.path("hidden_act").asText("silu");
        if (!act.equals("silu") && !act.equals("relu2")) {
            throw new IllegalArgumentException(act);
        }
        silu = act.equals("silu");
        tied = c.path("tie_word_embeddings").asBoolean(false);
        // Llama: attention_bias on q/k/v/o, mlp_bias on the feed-forward; Qwen2: q/k/v always;
        // Qwen3: attention_bias on q/k/v/o, per-head RMSNorm of q and k before the rotation.
        boolean attention = c.path("attention_bias").asBoolean(false);
        qkvBias = type.equals("qwen2") || attention;
        oBias = !type.equals("qwen2") && attention;
        mlpBias = type.equals("llama") && c.path("mlp_bias").asBoolean(false);
        headNorms = type.equals("qwen3");
        JsonNode params = c.path("rope_parameters");
        JsonNode scaling = params.isObject() ? params : c.path("rope_scaling");
        double theta = params.isObject()
                ? params.path("rope_theta").asDouble(10000)
                : c.path("rope_theta").asDouble(10000);
        invFreq = frequencies(theta, scaling);
    }

    private double[] frequencies(double theta, JsonNode scaling) {
        double[] f = new double[headDim / 2];
        String type = scaling.isObject()
                ? scaling.path("rope_type").asText(scaling.path("type").asText("default"))
                : "default";
        for (int i = 0; i < f.length; i++) {
            double base = Math.pow(theta, -2.0 * i / headDim);
            f[i] = switch (type) {
                case "default" -> base;
                case "linear" -> base / scaling.get("factor").asDouble();
                case "llama3" -> {
                    double factor = scaling.get("factor").asDouble();
                    double low = scaling.get("low_freq_factor").asDouble();
                    double high = scaling.get("high_freq_factor").asDouble();
                    double original =
                            scaling.get("original_max_position_embeddings").asDouble();
                    double wavelength = 2 * Math.PI / base;
                    if (wavelength < original / high) {
                        yield base; // high frequencies kept
                    }
                    if (wavelength > original / low) {
                        yield base / factor; // low frequencies slowed
                    }
                    double t = (original / wavelength - low) / (high - low);
                    yield (1 - t) * base / factor + t * base;
                }
                default -> throw new IllegalArgumentException(type);
            };
        }
        return f;
    }

    /** Logits at every position of {@code tokens}, a causal pass over the whole sequence. */
    double[][] logits(int[] tokens) {
        int n = tokens.length;
        double[][] x = new double[n][];
        for (int t = 0; t < n; t++) {
            x[t] = row(w.get("model.embed_tokens.weight"), tokens[t], hidden);
        }
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            double[][] q = new double[n][];
            double[][] k = new double[n][];
            double[][] v = new double[n][];
            for (int t = 0; t < n; t++) {
                double[] h = rmsNorm(x[t], w.get(p + "input_layernorm.weight"));
                double[] qs = linear(h, p + "self_attn.q_proj", qkvBias);
                double[] ks = linear(h, p + "self_attn.k_proj", qkvBias);
                if (headNorms) {
                    normHeads(qs, heads, w.get(p + "self_attn.q_norm.weight"));
                    normHeads(ks, kvHeads, w.get(p + "self_attn.k_norm.weight"));
                }
                q[t] = rotate(qs, heads, t);
                k[t] = rotate(ks, kvHeads, t);
                v[t] = linear(h, p + "self_attn.v_proj", qkvBias);
            }
            for (int t = 0; t < n; t++) {
                double[] att = new double[heads * headDim];
                for (int hd = 0; hd < heads; hd++) {
                    int g = hd / (heads / kvHeads);
                    double[] s = new double[t + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int u = 0; u <= t; u++) {
                        double dot = 0;
                        for (int i = 0; i < headDim; i++) {
                            dot += q[t][hd * headDim + i] * k[u][g * headDim + i];
                        }
                        s[u] = dot / Math.sqrt(headDim);
                        max = Math.max(max, s[u]);
                    }
                    double sum = 0;
                    for (int u = 0; u <= t; u++) {
                        s[u] = Math.exp(s[u] - max);
                        sum += s[u];
                    }
                    for (int u = 0; u <= t; u++) {
                        for (int i = 0; i < headDim; i++) {
                            att[hd * headDim + i] += s[u] / sum * v[u][g * headDim + i];
                        }
                    }
                }
                add(x[t], linear(att, p + "self_attn.o_proj", oBias));
            }
            for (int t = 0; t < n; t++) {
                double[] h = rmsNorm(x[t], w.get(p + "post_attention_layernorm.weight"));
                double[] gate = linear(h, p + "mlp.gate_proj", mlpBias);
                double[] up = linear(h, p + "mlp.up_proj", mlpBias);
                double[] a = new double[intermediate];
                for (int i = 0; i < intermediate; i++) {
                    double g = gate[i];
                    double act = silu ? g / (1 + Math.exp(-g)) : Math.pow(Math.max(g, 0), 2);
                    a[i] = act * up[i];
                }
                add(x[t], linear(a, p + "mlp.down_proj", mlpBias));
            }
        }
        double[] head = w.get(tied ? "model.embed_tokens.weight" : "lm_head.weight");
        double[][] out = new double[n][];
        for (int t = 0; t < n; t++) {
            out[t] = product(head, vocab, rmsNorm(x[t], w.get("model.norm.weight")));
        }
        return out;
    }

    /** Greedy continuation: {@code count} argmax tokens, stopping after {@code eos}. */
    int[] greedy(int[] prompt, int count, int eos) {
        int[] seq = java.util.Arrays.copyOf(prompt, prompt.length + count);
        int n = prompt.length;
        for (int i = 0; i < count; i++) {
            double[][] logits = logits(java.util.Arrays.copyOf(seq, n));
            double[] last = logits[n - 1];
            int best = 0;
            for (int j = 1; j < last.length; j++) {
                if (last[j] > last[best]) {
                    best = j;
                }
            }
            seq[n++] = best;
            if (best == eos) {
                break;
            }
        }
        return java.util.Arrays.copyOfRange(seq, prompt.length, n);
    }

    private double[] rmsNorm(double[] x, double[] weight) {
        double ss = 0;
        for (double v : x) {
            ss += v * v;
        }
        double r = 1 / Math.sqrt(ss / x.length + eps);
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = weight[i] * x[i] * r;
        }
        return out;
    }

    /** RMSNorm of each head of x over head_dim, one weight for all heads. */
    private void normHeads(double[] x, int count, double[] weight) {
        for (int h = 0; h < count; h++) {
            double[] head = java.util.Arrays.copyOfRange(x, h * headDim, (h + 1) * headDim);
            System.arraycopy(rmsNorm(head, weight), 0, x, h * headDim, headDim);
        }
    }

    /** rotate_half: pairs (i, i + half) of every head, angle = position * inverse frequency. */
    private double[] rotate(double[] x, int count, int pos) {
        int half = headDim / 2;
        for (int h = 0; h < count; h++) {
            int o = h * headDim;
            for (int i = 0; i < half; i++) {
                double c = Math.cos(pos * invFreq[i]);
                double s = Math.sin(pos * invFreq[i]);
                double a = x[o + i];
                double b = x[o + i + half];
                x[o + i] = a * c - b * s;
                x[o + i + half] = b * c + a * s;
            }
        }
        return x;
    }

    private double[] linear(double[] x, String name, boolean bias) {
        double[] weight = w.get(name + ".weight");
        double[] y = product(weight, weight.length / x.length, x);
        if (bias) {
            add(y, w.get(name + ".bias"));
        }
        return y;
    }

    private static double[] product(double[] weight, int rows, double[] x) {
        double[] y = new double[rows];
        for (int r = 0; r < rows; r++) {
            double s = 0;
            for (int i = 0; i < x.length; i++) {
                s += weight[r * x.length + i] * x[i];
            }
            y[r] = s;
        }
        return y;
    }

    private static double[] row(double[] m, int r, int cols) {
        return java.util.Arrays.copyOfRange(m, r * cols, (r + 1) * cols);
    }

    private static void add(double[] x, double[] y) {
        for (int i = 0; i < x.length; i++) {
            x[i] += y[i];
        }
    }
}
