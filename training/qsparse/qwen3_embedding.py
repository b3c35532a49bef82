"""Independent PyTorch reference for Qwen3 embedding models as published.

Written from the architecture (Qwen3 as transformers' Qwen3Model computes it; the BitLinear
projections as Microsoft's BitNet-embeddings guide, docs/bitnet-embeddings-i2s-guide.md,
describes them), sharing nothing with the Java runtime. In float32:

* Qwen3-Embedding-0.6B: a causal Qwen3 decoder (per-head RMSNorm of q and k before the rotation,
  ``head_dim`` independent of hidden / heads, grouped-query attention, SiLU GLU), the final norm,
  the last token's hidden state, L2 normalised.
* microsoft/bitnet-embedding-0.6b: the same, every projection P a BitLinear:
  ``RMSNorm(x, P.norm.weight) -> int8 per token (127 / max(max|x|, 1e-5), round half to even,
  clamp [-128, 127]) -> product with the ternary weights (1 / max(mean|W|, 1e-5), round, clamp
  +-1), rescaled``. ``--float-activations`` keeps the activations float (ternary weights still):
  the band int8 activations cost, which the reference itself shows.

Tensor names with or without the ``model.`` prefix. A tensor this reference does not use is
refused by name, as is a config key that changes the function and is not implemented here.

    /usr/bin/python3 training/qsparse/qwen3_embedding.py DIR --tokens 5,17,0 [--tokens ...]

prints ``{"embeddings": [[...], ...]}``, one L2-normalised row per --tokens.
"""

import argparse
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from qsparse.safetensors_io import load_file  # noqa: E402

_PROJECTIONS = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")


def _refuse_unimplemented(cfg):
    if cfg.get("model_type") != "qwen3":
        raise ValueError(f"model_type {cfg.get('model_type')!r}: this reference computes qwen3 only")
    if cfg.get("hidden_act", "silu") != "silu":
        raise ValueError(f"'hidden_act' {cfg['hidden_act']!r} is not implemented (silu only)")
    for key in ("rope_scaling", "quantization_config"):
        if cfg.get(key) is not None:
            raise ValueError(f"'{key}' is not implemented")
    if cfg.get("use_sliding_window", False):
        raise ValueError("'use_sliding_window' true is not implemented")
    if cfg.get("attention_bias", False):
        raise ValueError("'attention_bias' true is not implemented")


def _rms_norm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def _ternary(w):
    scale = 1.0 / w.abs().mean().clamp(min=1e-5)
    return (w * scale).round().clamp(-1, 1) / scale


def _int8_per_token(x):
    scale = 127.0 / x.abs().max(dim=-1, keepdim=True).values.clamp(min=1e-5)
    return (x * scale).round().clamp(-128, 127) / scale


class Qwen3Embedder:
    def __init__(self, directory, float_activations=False):
        with open(os.path.join(directory, "config.json"), encoding="utf-8") as f:
            cfg = json.load(f)
        _refuse_unimplemented(cfg)
        raw = load_file(os.path.join(directory, "model.safetensors"))
        self.w = {}
        for name, t in raw.items():
            self.w[name[len("model."):] if name.startswith("model.") else name] = t.to(torch.float32)
        self.layers = cfg["num_hidden_layers"]
        self.heads = cfg["num_attention_heads"]
        self.kv = cfg.get("num_key_value_heads", 32)
        self.hd = cfg.get("head_dim", 128)
        self.eps = cfg.get("rms_norm_eps", 1e-6)
        self.theta = cfg.get("rope_theta", 10000.0)
        self.bitlinear = any(n.endswith("_proj.norm.weight") for n in self.w)
        self.float_activations = float_activations
        used = {"embed_tokens.weight", "norm.weight", "lm_head.weight"}
        for i in range(self.layers):
            p = f"layers.{i}."
            used |= {p + "input_layernorm.weight", p + "post_attention_layernorm.weight",
                     p + "self_attn.q_norm.weight", p + "self_attn.k_norm.weight"}
            for proj in _PROJECTIONS:
                used.add(p + proj + ".weight")
                if self.bitlinear:
                    used.add(p + proj + ".norm.weight")
        unknown = sorted(set(self.w) - used)
        if unknown:
            raise ValueError(f"tensor {unknown[0]!r} is not used by this reference")
        if self.bitlinear:
            for name in list(self.w):
                if name.endswith("_proj.weight"):
                    self.w[name] = _ternary(self.w[name])

    def _linear(self, x, p):
        w = self.w[p + ".weight"]
        if not self.bitlinear:
            return x @ w.T
        x = _rms_norm(x, self.w[p + ".norm.weight"], self.eps)
        if not self.float_activations:
            x = _int8_per_token(x)
        return x @ w.T

    def _rope(self, x, positions):
        half = self.hd // 2
        inv = 1.0 / (self.theta ** (torch.arange(half, dtype=torch.float64) * 2 / self.hd))
        ang = positions[:, None].double() * inv[None, :]
        cos, sin = ang.cos().float()[:, None, :], ang.sin().float()[:, None, :]
        a, b = x[..., :half], x[..., half:]
        return torch.cat([a * cos - b * sin, b * cos + a * sin], dim=-1)

    def hidden(self, tokens):
        t = len(tokens)
        x = self.w["embed_tokens.weight"][torch.tensor(tokens)]
        pos = torch.arange(t)
        mask = torch.full((t, t), float("-inf")).triu(1)
        for i in range(self.layers):
            p = f"layers.{i}."
            h = _rms_norm(x, self.w[p + "input_layernorm.weight"], self.eps)
            q = self._linear(h, p + "self_attn.q_proj").view(t, self.heads, self.hd)
            k = self._linear(h, p + "self_attn.k_proj").view(t, self.kv, self.hd)
            v = self._linear(h, p + "self_attn.v_proj").view(t, self.kv, self.hd)
            q = self._rope(_rms_norm(q, self.w[p + "self_attn.q_norm.weight"], self.eps), pos)
            k = self._rope(_rms_norm(k, self.w[p + "self_attn.k_norm.weight"], self.eps), pos)
            group = self.heads // self.kv
            k = k.repeat_interleave(group, dim=1)
            v = v.repeat_interleave(group, dim=1)
            scores = torch.einsum("qhd,khd->hqk", q, k) / math.sqrt(self.hd) + mask
            att = torch.einsum("hqk,khd->qhd", scores.softmax(-1), v).reshape(t, self.heads * self.hd)
            x = x + self._linear(att, p + "self_attn.o_proj")
            h = _rms_norm(x, self.w[p + "post_attention_layernorm.weight"], self.eps)
            g = self._linear(h, p + "mlp.gate_proj")
            u = self._linear(h, p + "mlp.up_proj")
            x = x + self._linear(torch.nn.functional.silu(g) * u, p + "mlp.down_proj")
        return _rms_norm(x, self.w["norm.weight"], self.eps)

    def embed(self, tokens):
        last = self.hidden(tokens)[-1]
        return last / last.norm().clamp(min=1e-12)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--tokens", action="append", required=True, help="comma-separated ids")
    ap.add_argument("--float-activations", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    model = Qwen3Embedder(args.model, args.float_activations)
    with torch.no_grad():
        rows = [model.embed([int(t) for t in ids.split(",")]).tolist() for ids in args.tokens]
    print(json.dumps({"embeddings": rows}))


if __name__ == "__main__":
    main()
