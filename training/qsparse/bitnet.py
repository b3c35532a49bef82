"""A float32 reference of Hugging Face transformers' BitNet forward pass.

What a checkpoint of model_type ``bitnet`` (``BitNetForCausalLM``, the format of
BitNet b1.58 2B4T) computes, written from the published description of the
format, for the Java runtime's parity tests:

* projections are ternary.  Packed checkpoints store them as U8 ``[out/4, in]``:
  output row ``o = i * (out/4) + r`` is bits ``2i..2i+1`` of byte ``[r, c]``,
  codes 0, 1, 2 meaning -1, 0, +1, with a per-tensor ``weight_scale`` ([1]).
  ``linear_class`` bitlinear divides the integer product by
  ``input_scale * weight_scale``; autobitlinear multiplies the product of the
  dequantized input by ``weight_scale``.  Float master weights (the ``-bf16``
  checkpoints) are quantized on the fly: ``s = 1 / max(mean|W|, 1e-5)``,
  ``Wq = clamp(round(W * s), -1, 1)``, effective weight ``Wq / s``;
* the input of every projection is quantized per token to int8:
  ``s = 127 / max(max|x|, 1e-5)``, ``q = clamp(round(x * s), -128, 127)``
  (round half to even);
* a Llama decoder otherwise: RMSNorm, rotate-half RoPE, grouped-query
  attention, plus ``attn_sub_norm`` before o_proj and ``ffn_sub_norm`` before
  down_proj, and ``relu2``: ``down(ffn_sub_norm(relu(gate(x))^2 * up(x)))``;
  the lm head (tied to the embedding or not) is a plain float product.

Everything runs in float32 on the stored values (BF16 widened exactly).  An
optional ``observer`` receives every quantized activation (and weight) so that
a fixture writer can measure how far rounding decisions sit from their
boundaries.
"""

import math
from typing import Callable, Dict, Optional

import torch

from . import hub_config

VALUES_PER_BYTE = 4
ACT_FLOOR = 1e-5
MEAN_FLOOR = 1e-5


def pack_ternary(wq: torch.Tensor) -> torch.Tensor:
    """Ternary values [out, in] in {-1, 0, 1} -> U8 [out/4, in], HF layout."""
    out = wq.shape[0]
    if out % VALUES_PER_BYTE != 0:
        raise ValueError(f"output size {out} is not divisible by {VALUES_PER_BYTE}")
    quarter = out // VALUES_PER_BYTE
    codes = (wq.to(torch.int64) + 1).to(torch.uint8)
    packed = torch.zeros((quarter,) + tuple(wq.shape[1:]), dtype=torch.uint8)
    for i in range(VALUES_PER_BYTE):
        packed |= codes[i * quarter:(i + 1) * quarter] << (2 * i)
    return packed


def unpack_ternary(packed: torch.Tensor) -> torch.Tensor:
    """U8 [out/4, in] -> float32 [out, in] in {-1, 0, 1}; a code of 3 is an error."""
    parts = [(packed >> (2 * i)) & 3 for i in range(VALUES_PER_BYTE)]
    codes = torch.cat(parts, dim=0)
    if bool((codes == 3).any()):
        raise ValueError("packed ternary tensor holds a code of 3")
    return codes.to(torch.float32) - 1.0


def activation_quant(x: torch.Tensor):
    """Per-token absmax int8: (integer-valued float32 q, scale s)."""
    s = 127.0 / x.abs().amax(dim=-1, keepdim=True).clamp(min=ACT_FLOOR)
    return (x * s).round().clamp(-128, 127), s


def weight_quant(w: torch.Tensor):
    """Per-tensor absmean ternary of float weights: (q in {-1, 0, 1}, s)."""
    s = 1.0 / w.abs().mean().clamp(min=MEAN_FLOOR)
    return (w * s).round().clamp(-1, 1), s


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps) * weight


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class BitNetReference:
    """The forward pass of one checkpoint (config.json dict, name -> tensor)."""

    def __init__(self, config: Dict, tensors: Dict[str, torch.Tensor],
                 observer: Optional[Callable[[str, torch.Tensor, torch.Tensor], None]] = None):
        self.c = config
        self.t = {k: (v if v.dtype == torch.uint8 else v.to(torch.float32)) for k, v in tensors.items()}
        q = config.get("quantization_config") or {}
        self.linear_class = q.get("linear_class", "bitlinear")
        self.observer = observer
        # BitNetConfig's defaults where a key is absent (hub_config.bitnet_keys).
        config = dict(config, **hub_config.bitnet_keys(config))
        self.heads = config["num_attention_heads"]
        self.kv_heads = config.get("num_key_value_heads", self.heads)
        self.head_dim = config.get("head_dim", config["hidden_size"] // self.heads)
        self.eps = config["rms_norm_eps"]
        theta, scaling = hub_config.rope(config, config["rope_theta"])
        exponents = torch.arange(0, self.head_dim, 2, dtype=torch.int64).to(torch.float32) / self.head_dim
        inv_freq = 1.0 / (theta ** exponents)
        self.inv_freq = inv_freq if scaling is None else torch.tensor(
            [hub_config.scale_frequency(float(f), scaling) for f in inv_freq], dtype=torch.float32)

    def _observe(self, kind, z, keep_scale):
        if self.observer is not None:
            self.observer(kind, z, keep_scale)

    def linear(self, prefix: str, x: torch.Tensor) -> torch.Tensor:
        w = self.t[prefix + ".weight"]
        xq, s = activation_quant(x)
        self._observe("act", x * s, x.new_full(s.shape, 127.0))
        if w.dtype == torch.uint8:
            wq = unpack_ternary(w)
            ws = self.t[prefix + ".weight_scale"].reshape(())
            if self.linear_class == "autobitlinear":
                return torch.nn.functional.linear(xq / s, wq) * ws
            return torch.nn.functional.linear(xq, wq) / (s * ws)
        wq, sw = weight_quant(w)
        self._observe("weight", w * sw, (w * sw).abs().clamp(min=1.0))
        return torch.nn.functional.linear(xq / s, wq / sw)

    def rope(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        angles = positions[:, None].to(torch.float32) * self.inv_freq[None, :]
        emb = torch.cat((angles, angles), dim=-1)
        return x * emb.cos()[:, None, :] + rotate_half(x) * emb.sin()[:, None, :]

    def hidden_states(self, tokens) -> torch.Tensor:
        ids = torch.as_tensor(tokens, dtype=torch.int64)
        n = ids.shape[0]
        hd, hq, hkv = self.head_dim, self.heads, self.kv_heads
        positions = torch.arange(n)
        x = self.t["model.embed_tokens.weight"][ids]
        mask = torch.full((n, n), float("-inf")).triu(1)
        for layer in range(self.c["num_hidden_layers"]):
            p = f"model.layers.{layer}."
            a = rms_norm(x, self.t[p + "input_layernorm.weight"], self.eps)
            q = self.rope(self.linear(p + "self_attn.q_proj", a).view(n, hq, hd), positions)
            k = self.rope(self.linear(p + "self_attn.k_proj", a).view(n, hkv, hd), positions)
            v = self.linear(p + "self_attn.v_proj", a).view(n, hkv, hd)
            group = hq // hkv
            k = k.repeat_interleave(group, dim=1)
            v = v.repeat_interleave(group, dim=1)
            scores = torch.einsum("qhd,khd->hqk", q, k) / math.sqrt(hd) + mask
            o = torch.einsum("hqk,khd->qhd", scores.softmax(dim=-1), v).reshape(n, hq * hd)
            o = rms_norm(o, self.t[p + "self_attn.attn_sub_norm.weight"], self.eps)
            x = x + self.linear(p + "self_attn.o_proj", o)
            m = rms_norm(x, self.t[p + "post_attention_layernorm.weight"], self.eps)
            h = torch.relu(self.linear(p + "mlp.gate_proj", m)).pow(2) * self.linear(p + "mlp.up_proj", m)
            h = rms_norm(h, self.t[p + "mlp.ffn_sub_norm.weight"], self.eps)
            x = x + self.linear(p + "mlp.down_proj", h)
        return rms_norm(x, self.t["model.norm.weight"], self.eps)

    def logits(self, tokens) -> torch.Tensor:
        head = self.t["model.embed_tokens.weight"] if self.c.get("tie_word_embeddings", False) \
            else self.t["lm_head.weight"]
        return self.hidden_states(tokens) @ head.T
