"""Hub config keys in the training tools: a Llama config.json with only transformers' keys gives
the function transformers computes (checked against an independent numpy forward pass written
from LlamaConfig's published defaults), and what is not implemented is refused by name.

Run from the repository root:  /usr/bin/python3 -m unittest training/test_hub_config.py
"""

import math
import os
import sys
import unittest

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from qsparse.model import QSparseConfig, QSparseForCausalLM, rope_cos_sin  # noqa: E402

HUB_LLAMA = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 64, "hidden_size": 32,
    "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
    "head_dim": 12, "hidden_act": "silu", "max_position_embeddings": 128, "rope_theta": 500000.0,
    "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 64, "rope_type": "llama3"},
    "tie_word_embeddings": False, "torch_dtype": "bfloat16",
}


def reference_llama(cfg, sd, tokens):
    """Float64 Llama as transformers defines it, reading the raw config with LlamaConfig's defaults."""
    heads, hidden = cfg["num_attention_heads"], cfg["hidden_size"]
    kv = cfg.get("num_key_value_heads", heads)
    hd = cfg.get("head_dim", hidden // heads)
    eps = cfg.get("rms_norm_eps", 1e-6)
    act = cfg.get("hidden_act", "silu")
    theta = cfg.get("rope_theta", 10000.0)
    s = cfg.get("rope_scaling")

    def inv_freq(i):
        f = theta ** (-2.0 * i / hd)
        if s is None:
            return f
        if s.get("rope_type", s.get("type")) == "linear":
            return f / s["factor"]
        wl, orig = 2 * math.pi / f, s["original_max_position_embeddings"]
        if wl < orig / s["high_freq_factor"]:
            return f
        if wl > orig / s["low_freq_factor"]:
            return f / s["factor"]
        t = (orig / wl - s["low_freq_factor"]) / (s["high_freq_factor"] - s["low_freq_factor"])
        return (1 - t) * f / s["factor"] + t * f

    freqs = [inv_freq(i) for i in range(hd // 2)]

    def norm(x, w):
        return w * x / math.sqrt((x * x).mean() + eps)

    def rope(v, pos):
        out = v.copy()
        for i, f in enumerate(freqs):
            c, sn = math.cos(pos * f), math.sin(pos * f)
            out[i] = v[i] * c - v[i + hd // 2] * sn
            out[i + hd // 2] = v[i + hd // 2] * c + v[i] * sn
        return out

    xs = [sd["model.embed_tokens.weight"][t].copy() for t in tokens]
    for layer in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        q, k, v = [], [], []
        for pos, x in enumerate(xs):
            a = norm(x, sd[p + "input_layernorm.weight"])
            qq, kk = sd[p + "self_attn.q_proj.weight"] @ a, sd[p + "self_attn.k_proj.weight"] @ a
            q.append([rope(qq[h * hd:(h + 1) * hd], pos) for h in range(heads)])
            k.append([rope(kk[h * hd:(h + 1) * hd], pos) for h in range(kv)])
            vv = sd[p + "self_attn.v_proj.weight"] @ a
            v.append([vv[h * hd:(h + 1) * hd] for h in range(kv)])
        for pos in range(len(xs)):
            out = []
            for h in range(heads):
                g = h // (heads // kv)
                sc = np.array([q[pos][h] @ k[j][g] / math.sqrt(hd) for j in range(pos + 1)])
                w = np.exp(sc - sc.max())
                w /= w.sum()
                out.append(sum(w[j] * v[j][g] for j in range(pos + 1)))
            xs[pos] = xs[pos] + sd[p + "self_attn.o_proj.weight"] @ np.concatenate(out)
        for pos, x in enumerate(xs):
            m = norm(x, sd[p + "post_attention_layernorm.weight"])
            gate, up = sd[p + "mlp.gate_proj.weight"] @ m, sd[p + "mlp.up_proj.weight"] @ m
            a = gate / (1 + np.exp(-gate)) if act == "silu" else np.maximum(gate, 0) ** 2
            xs[pos] = x + sd[p + "mlp.down_proj.weight"] @ (a * up)
    head = sd["model.embed_tokens.weight" if cfg.get("tie_word_embeddings") else "lm_head.weight"]
    return np.stack([head @ norm(x, sd["model.norm.weight"]) for x in xs])


class HubConfigTest(unittest.TestCase):
    def test_llama_reads_hidden_act_defaults_and_rope_scaling(self):
        c = QSparseConfig.from_dict(HUB_LLAMA)
        self.assertEqual((c.mlp_activation, c.rms_norm_eps, c.bos_token_id, c.eos_token_id),
                         ("swiglu", 1e-6, 1, 2))
        self.assertEqual(c.rope_scaling["rope_type"], "llama3")
        bare = {k: v for k, v in HUB_LLAMA.items() if k not in ("hidden_act", "rope_scaling")}
        self.assertEqual(QSparseConfig.from_dict(bare).mlp_activation, "swiglu")
        self.assertEqual(QSparseConfig.from_dict(dict(HUB_LLAMA, hidden_act="relu2")).mlp_activation,
                         "relu2glu")
        self.assertEqual(QSparseConfig.from_dict(dict(HUB_LLAMA, model_type="bitnet",
                                                      hidden_act="relu2")).rope_theta, 500000.0)

    def test_refused_by_name(self):
        for change, words in [
            (dict(hidden_act="gelu"), "'hidden_act' 'gelu'"),
            (dict(mlp_activation="relu2glu"), "'mlp_activation'"),
            (dict(rope_scaling={"rope_type": "yarn", "factor": 4.0}), "'yarn'"),
            (dict(rope_scaling={"rope_type": "linear", "factor": 2.0, "attention_factor": 1.0}),
             "'rope_scaling.attention_factor'"),
            (dict(rope_parameters={"rope_theta": 10.0}), "disagrees with 'rope_theta'"),
            (dict(attention_bias=True), "attention_bias and mlp_bias"),
            (dict(partial_rotary_factor=0.5), "'partial_rotary_factor'"),
        ]:
            with self.subTest(change=change), self.assertRaisesRegex(ValueError, words):
                QSparseConfig.from_dict(dict(HUB_LLAMA, **change))

    def test_rope_parameters_of_transformers5_equal_the_legacy_keys(self):
        params = dict(HUB_LLAMA["rope_scaling"], rope_theta=500000.0)
        v5 = {k: v for k, v in HUB_LLAMA.items() if k not in ("rope_theta", "rope_scaling")}
        c = QSparseConfig.from_dict(dict(v5, rope_parameters=params))
        self.assertEqual((c.rope_theta, c.rope_scaling), (500000.0, QSparseConfig.from_dict(HUB_LLAMA).rope_scaling))

    def test_pytorch_model_on_a_hub_llama_matches_the_reference(self):
        for name, cfg in [("llama3-gqa-untied", HUB_LLAMA),
                          ("linear-tied-defaults", {k: v for k, v in dict(
                              HUB_LLAMA, tie_word_embeddings=True, num_key_value_heads=4,
                              rope_scaling={"type": "linear", "factor": 4.0}).items()
                              if k not in ("hidden_act", "head_dim")})]:
            with self.subTest(name):
                torch.manual_seed(5)
                model = QSparseForCausalLM(QSparseConfig.from_dict(cfg)).double().eval()
                with torch.no_grad():
                    for p in model.parameters():
                        p.uniform_(-0.3, 0.3)
                    for n, p in model.named_parameters():
                        if n.endswith("norm.weight"):
                            p.add_(1.0)
                sd = {k: v.double().numpy() for k, v in model.state_dict().items()}
                tokens = list(range(3, 23))
                expected = reference_llama(cfg, sd, tokens)
                with torch.no_grad():
                    actual = model(torch.tensor([tokens])).double()[0].numpy()
                worst = np.abs(actual - expected).max() / np.abs(expected).max()
                self.assertLess(worst, 1e-9, name)

    def test_rope_tables_apply_the_scaling(self):
        scaling = QSparseConfig.from_dict(HUB_LLAMA).rope_scaling
        plain, _ = rope_cos_sin(40, 12, 500000.0, torch.float64)
        scaled, _ = rope_cos_sin(40, 12, 500000.0, torch.float64, scaling=scaling)
        self.assertTrue(torch.equal(plain[:, 0], scaled[:, 0]))  # wavelength 6.3: kept
        self.assertFalse(torch.equal(plain[:, 2], scaled[:, 2]))  # wavelength 500: slowed


if __name__ == "__main__":
    unittest.main()
