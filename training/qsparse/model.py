"""The `qsparse` decoder of docs/model-format.md in PyTorch.

A Llama/BitNet-style decoder in which the input of every linear projection
goes through a top-K sparsifier S (optionally with per-token absmax int8
quantization), and the projection weights can be quantized (ternary or int8)
on the fly. All quantization uses straight-through estimators, so the same
module serves for exact reference inference (the fixtures of the Java
runtime) and for quantization-aware training on latent float weights.

The state_dict names are exactly the tensor names of the model format, e.g.
``model.layers.0.self_attn.q_proj.weight``; ``lm_head.weight`` is absent when
the embeddings are tied.

Numerical notes (so that the Java runtime can match bit-for-bit where it
matters, i.e. in the discrete decisions):
  * all scale divisions are tensor/tensor true divisions (``127.0 / t`` in
    PyTorch would be computed as ``t.reciprocal() * 127``, which rounds
    differently);
  * the straight-through form ``value.detach() + (x - x.detach())`` yields
    exactly ``value`` in the forward pass (``x - x.detach()`` is exactly 0),
    unlike ``x + (value - x).detach()`` which may be off by one ulp.
"""

import dataclasses
import json
import math
import os
from dataclasses import dataclass
from typing import Any, Dict, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import hub_config
from .safetensors_io import load_file, save_file

MODEL_TYPE = "qsparse"
ACCEPTED_MODEL_TYPES = ("qsparse", "bitnet", "llama")
RESCALE_MODES = ("none", "l2", "l2_preserve")
WEIGHT_QUANT_MODES = ("none", "ternary", "int8")
# Feed-forward kinds: "relu2glu" (the default, Q-Sparse's) = up * relu(gate)^2;
# "swiglu" = up * silu(gate); "relu" = relu(up), with no gate_proj.
MLP_ACTIVATIONS = ("relu2glu", "swiglu", "relu")
# Config fields that only steer how the PyTorch module is built. The runtime
# detects these features from the tensors present, so they are not written
# to config.json by default.
TRAINING_ONLY_KEYS = ("use_sub_norms", "use_bias")


# --------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------

@dataclass
class QSparseConfig:
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: Optional[int] = None  # default: num_attention_heads
    head_dim: Optional[int] = None  # default: hidden_size // num_attention_heads
    max_position_embeddings: int = 2048
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    tie_word_embeddings: bool = False
    bos_token_id: Optional[Any] = None
    eos_token_id: Optional[Any] = None
    topk_ratio: float = 1.0
    topk_ratio_attn: Optional[float] = None  # default: topk_ratio
    topk_ratio_attn_out: Optional[float] = None  # default: topk_ratio
    topk_ratio_mlp: Optional[float] = None  # default: topk_ratio
    topk_ratio_mlp_out: Optional[float] = None  # default: topk_ratio
    activation_bits: int = 0  # 0 = float, 8 = per-token absmax int8
    topk_rescale: str = "none"  # "none", "l2", "l2_preserve"
    weight_quant: str = "none"  # "none", "ternary", "int8"
    mlp_activation: str = "relu2glu"  # one of MLP_ACTIVATIONS; written only when not the default
    rope_scaling: Optional[Dict[str, Any]] = None  # None, or linear / llama3 (hub_config); written when set
    # Training-only options (see TRAINING_ONLY_KEYS).
    use_sub_norms: bool = False  # attn_sub_norm / ffn_sub_norm (BitNet b1.58 2B4T)
    use_bias: bool = False  # a .bias on every projection

    def __post_init__(self):
        if self.num_key_value_heads is None:
            self.num_key_value_heads = self.num_attention_heads
        if self.head_dim is None:
            if self.hidden_size % self.num_attention_heads:
                raise ValueError("hidden_size must be divisible by num_attention_heads "
                                 "unless head_dim is given")
            self.head_dim = self.hidden_size // self.num_attention_heads
        for name in ("topk_ratio_attn", "topk_ratio_attn_out",
                     "topk_ratio_mlp", "topk_ratio_mlp_out"):
            if getattr(self, name) is None:
                setattr(self, name, self.topk_ratio)
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError("num_attention_heads must be a multiple of num_key_value_heads")
        if self.head_dim % 2:
            raise ValueError("head_dim must be even (RoPE rotates halves)")
        if self.activation_bits not in (0, 8):
            raise ValueError("activation_bits must be 0 or 8")
        if self.topk_rescale not in RESCALE_MODES:
            raise ValueError(f"topk_rescale must be one of {RESCALE_MODES}")
        if self.weight_quant not in WEIGHT_QUANT_MODES:
            raise ValueError(f"weight_quant must be one of {WEIGHT_QUANT_MODES}")
        if self.mlp_activation not in MLP_ACTIVATIONS:
            raise ValueError(f"mlp_activation must be one of {MLP_ACTIVATIONS}")
        _, self.rope_scaling = hub_config.rope({"rope_scaling": self.rope_scaling}, self.rope_theta)

    def to_dict(self, include_training_keys: bool = False) -> Dict[str, Any]:
        out = {"model_type": MODEL_TYPE}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name in TRAINING_ONLY_KEYS and not include_training_keys:
                continue
            if value is None:  # only bos/eos can still be None here
                continue
            if field.name == "mlp_activation" and value == "relu2glu":
                continue  # the default: existing config.json files stay byte-identical
            out[field.name] = value
        return out

    def to_json(self, include_training_keys: bool = False) -> str:
        return json.dumps(self.to_dict(include_training_keys), indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "QSparseConfig":
        """Reads a config.json. ``llama`` and ``bitnet`` configs are read as transformers reads
        them (hub_config: hidden_act, their own defaults, rope scaling); our own ``qsparse`` keeps
        its defaults."""
        model_type = data.get("model_type", MODEL_TYPE)
        if model_type not in ACCEPTED_MODEL_TYPES:
            raise ValueError(f"model_type {model_type!r} is not a qsparse config")
        data = dict(data)
        if model_type == "llama":
            data.update(hub_config.llama_keys(data))
        elif model_type == "bitnet":
            data.update(hub_config.bitnet_keys(data))
        default_theta = data.get("rope_theta") or 10000.0
        data["rope_theta"], data["rope_scaling"] = hub_config.rope(data, default_theta)
        names = {field.name for field in dataclasses.fields(cls)}
        # Hugging Face configs carry many other keys; they are ignored.
        return cls(**{k: v for k, v in data.items() if k in names})

    @classmethod
    def from_json(cls, text: str) -> "QSparseConfig":
        return cls.from_dict(json.loads(text))

    def save(self, path: str, include_training_keys: bool = False) -> None:
        with open(path, "w") as f:
            f.write(self.to_json(include_training_keys))

    @classmethod
    def load(cls, path: str) -> "QSparseConfig":
        with open(path) as f:
            return cls.from_json(f.read())


# --------------------------------------------------------------------------
# Straight-through quantizers
# --------------------------------------------------------------------------

def straight_through(value: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Forward: exactly ``value``. Backward: identity gradient to ``x``."""
    return value.detach() + (x - x.detach())


def topk_count(ratio: float, n: int) -> int:
    """K = clamp(int(ratio * n), 1, n), with the product in double precision."""
    return min(max(int(ratio * n), 1), n)


def topk_mask(x: torch.Tensor, k: int) -> torch.Tensor:
    """1.0 where |x| >= the k-th largest |x| of its row (last dim), else 0.0.

    Ties at the threshold keep more than k elements.
    """
    magnitude = x.detach().abs()
    threshold = torch.topk(magnitude, k, dim=-1).values[..., -1:]
    return (magnitude >= threshold).to(x.dtype)


def absmax_int8(x: torch.Tensor):
    """Per-row absmax int8 quantization of ``x`` (no gradient).

    Returns ``(xq, s)``: integer-valued ``xq = clamp(round(x * s), -128, 127)``
    with ``s = 127 / (max|x| + 1e-5)``, so that ``x ~= xq / s``.
    """
    x = x.detach()
    gamma = x.abs().amax(dim=-1, keepdim=True)
    s = torch.tensor(127.0, dtype=x.dtype, device=x.device) / (gamma + 1e-5)
    xq = (x * s).round().clamp(-128, 127)  # torch.round is half-to-even
    return xq, s


def sparsify(x: torch.Tensor, ratio: float, activation_bits: int = 0,
             rescale: str = "none") -> torch.Tensor:
    """The sparsifier S of the model format, along the last dimension.

    1. keep the K = clamp(int(ratio * n), 1, n) largest |x| (ties kept);
       ratio >= 1 keeps everything and S is then the identity, or only the
       quantization when ``activation_bits == 8``;
    2. ``activation_bits == 8``: value = clamp(round(x * s), -128, 127) * M / s
       with per-row s = 127 / (max|x| + 1e-5); the mask M is taken on float |x|;
       otherwise value = x * M;
    3. rescale (only when top-K is active): "none", "l2" -> y / (|y| + 1e-6),
       "l2_preserve" -> y * |x| / (|y| + 1e-6).

    Steps 1-2 are straight-through (gradient as if nothing was masked or
    quantized); the rescale in step 3 is differentiated normally.
    """
    n = x.shape[-1]
    sparse = ratio < 1
    mask = topk_mask(x, topk_count(ratio, n)) if sparse else None

    if activation_bits == 8:
        xq, s = absmax_int8(x)
        if mask is not None:
            xq = xq * mask
        y = straight_through(xq / s, x)
    elif activation_bits == 0:
        if mask is None:
            return x
        y = straight_through(x.detach() * mask, x)
    else:
        raise ValueError(f"unsupported activation_bits {activation_bits}")

    if not sparse or rescale == "none":
        return y
    if rescale == "l2":
        return y / (torch.linalg.vector_norm(y, dim=-1, keepdim=True) + 1e-6)
    if rescale == "l2_preserve":
        x_norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True)
        return y * x_norm / (torch.linalg.vector_norm(y, dim=-1, keepdim=True) + 1e-6)
    raise ValueError(f"unknown topk_rescale {rescale!r}")


def quantize_weight(w: torch.Tensor, mode: str) -> torch.Tensor:
    """Effective weight for ``weight_quant`` (straight-through to the latent ``w``).

    - "ternary": beta = mean|W|, Wq = clamp(round(W / (beta + 1e-5)), -1, 1),
      effective Wq * beta (per tensor);
    - "int8": alpha_o = max_i |W[o, i]|, Wq = clamp(round(W * 127 / (alpha_o + 1e-5)),
      -127, 127), effective Wq * (alpha_o + 1e-5) / 127 (per output row).
    """
    if mode == "none":
        return w
    wd = w.detach()
    if mode == "ternary":
        beta = wd.abs().mean()
        wq = (wd / (beta + 1e-5)).round().clamp(-1, 1)
        value = wq * beta
    elif mode == "int8":
        alpha = wd.abs().amax(dim=1, keepdim=True) + 1e-5
        wq = (wd * 127 / alpha).round().clamp(-127, 127)
        value = wq * alpha / 127
    else:
        raise ValueError(f"unknown weight_quant {mode!r}")
    return straight_through(value, w)


# --------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------

class TopKSparsifier(nn.Module):
    """Module wrapper of :func:`sparsify` (no parameters)."""

    def __init__(self, ratio: float, activation_bits: int, rescale: str):
        super().__init__()
        self.ratio = float(ratio)
        self.activation_bits = activation_bits
        self.rescale = rescale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return sparsify(x, self.ratio, self.activation_bits, self.rescale)

    def extra_repr(self) -> str:
        return f"ratio={self.ratio}, activation_bits={self.activation_bits}, rescale={self.rescale}"


class QuantLinear(nn.Linear):
    """nn.Linear whose weight is quantized on the fly (``weight_quant``)."""

    def __init__(self, in_features: int, out_features: int, bias: bool, weight_quant: str):
        super().__init__(in_features, out_features, bias=bias)
        self.weight_quant = weight_quant

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, quantize_weight(self.weight, self.weight_quant), self.bias)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", weight_quant={self.weight_quant}"


class RMSNorm(nn.Module):
    """x / sqrt(mean(x^2) + eps) * weight."""

    def __init__(self, size: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x / torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps) * self.weight


def rope_cos_sin(length: int, head_dim: int, theta: float, dtype=torch.float32, device=None,
                 scaling: Optional[Dict[str, Any]] = None):
    """cos/sin tables [length, head_dim] for positions 0..length-1.

    Angles are computed in float64 and rounded once to ``dtype``; ``scaling`` is a
    rope_scaling rule (hub_config: linear or llama3) or None.
    """
    i = torch.arange(head_dim // 2, dtype=torch.float64, device=device)
    freq = torch.pow(torch.tensor(float(theta), dtype=torch.float64, device=device),
                     -2.0 * i / head_dim)
    if scaling is not None:
        freq = torch.tensor([hub_config.scale_frequency(float(f), scaling) for f in freq],
                            dtype=torch.float64, device=device)
    pos = torch.arange(length, dtype=torch.float64, device=device)
    angle = pos[:, None] * freq[None, :]
    angle = torch.cat([angle, angle], dim=-1)
    return angle.cos().to(dtype), angle.sin().to(dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """(x[i], x[i+h]) -> (x[i] cos - x[i+h] sin, x[i+h] cos + x[i] sin)."""
    return x * cos + rotate_half(x) * sin


class QSparseAttention(nn.Module):
    def __init__(self, config: QSparseConfig):
        super().__init__()
        c = config
        self.num_heads = c.num_attention_heads
        self.num_kv_heads = c.num_key_value_heads
        self.head_dim = c.head_dim
        inner, kv_inner = c.num_attention_heads * c.head_dim, c.num_key_value_heads * c.head_dim
        self.q_proj = QuantLinear(c.hidden_size, inner, c.use_bias, c.weight_quant)
        self.k_proj = QuantLinear(c.hidden_size, kv_inner, c.use_bias, c.weight_quant)
        self.v_proj = QuantLinear(c.hidden_size, kv_inner, c.use_bias, c.weight_quant)
        self.attn_sub_norm = RMSNorm(inner, c.rms_norm_eps) if c.use_sub_norms else None
        self.o_proj = QuantLinear(inner, c.hidden_size, c.use_bias, c.weight_quant)
        self.input_sparsifier = TopKSparsifier(c.topk_ratio_attn, c.activation_bits, c.topk_rescale)
        self.output_sparsifier = TopKSparsifier(c.topk_ratio_attn_out, c.activation_bits,
                                                c.topk_rescale)

    def forward(self, a: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        batch, length, _ = a.shape
        a = self.input_sparsifier(a)  # shared by q, k and v
        q = self.q_proj(a).view(batch, length, self.num_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(a).view(batch, length, self.num_kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(a).view(batch, length, self.num_kv_heads, self.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if self.num_kv_heads != self.num_heads:
            # query head h reads kv head h // (H / Hkv)
            group = self.num_heads // self.num_kv_heads
            k = k.repeat_interleave(group, dim=1)
            v = v.repeat_interleave(group, dim=1)
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        future = torch.ones(length, length, dtype=torch.bool, device=a.device).triu(1)
        scores = scores.masked_fill(future, float("-inf"))
        o = torch.matmul(torch.softmax(scores, dim=-1), v)
        o = o.transpose(1, 2).reshape(batch, length, self.num_heads * self.head_dim)
        if self.attn_sub_norm is not None:
            o = self.attn_sub_norm(o)
        return self.o_proj(self.output_sparsifier(o))


class QSparseMLP(nn.Module):
    """down(S(sub_norm(h))), m = S(input), with h by ``mlp_activation``:
    ReLU^2 GLU up(m) * relu(gate(m))^2 (default), SwiGLU up(m) * silu(gate(m)),
    or plain ReLU relu(up(m)) (no gate_proj)."""

    def __init__(self, config: QSparseConfig):
        super().__init__()
        c = config
        self.activation = c.mlp_activation
        self.gate_proj = (None if c.mlp_activation == "relu" else
                          QuantLinear(c.hidden_size, c.intermediate_size, c.use_bias,
                                      c.weight_quant))
        self.up_proj = QuantLinear(c.hidden_size, c.intermediate_size, c.use_bias, c.weight_quant)
        self.ffn_sub_norm = (RMSNorm(c.intermediate_size, c.rms_norm_eps)
                             if c.use_sub_norms else None)
        self.down_proj = QuantLinear(c.intermediate_size, c.hidden_size, c.use_bias, c.weight_quant)
        self.input_sparsifier = TopKSparsifier(c.topk_ratio_mlp, c.activation_bits, c.topk_rescale)
        self.output_sparsifier = TopKSparsifier(c.topk_ratio_mlp_out, c.activation_bits,
                                                c.topk_rescale)

    def forward(self, m: torch.Tensor) -> torch.Tensor:
        m = self.input_sparsifier(m)  # shared by gate and up
        if self.activation == "relu2glu":
            h = self.up_proj(m) * torch.relu(self.gate_proj(m)).square()
        elif self.activation == "swiglu":
            h = self.up_proj(m) * F.silu(self.gate_proj(m))
        else:
            h = torch.relu(self.up_proj(m))
        if self.ffn_sub_norm is not None:
            h = self.ffn_sub_norm(h)
        return self.down_proj(self.output_sparsifier(h))


class QSparseDecoderLayer(nn.Module):
    def __init__(self, config: QSparseConfig):
        super().__init__()
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.self_attn = QSparseAttention(config)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.mlp = QSparseMLP(config)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        x = x + self.mlp(self.post_attention_layernorm(x))
        return x


class QSparseDecoder(nn.Module):
    """The ``model.`` part: embeddings, layers and the final norm."""

    def __init__(self, config: QSparseConfig):
        super().__init__()
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(QSparseDecoderLayer(config)
                                    for _ in range(config.num_hidden_layers))
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        c = self.config
        length = input_ids.shape[1]
        if length > c.max_position_embeddings:
            raise ValueError(f"sequence of {length} exceeds max_position_embeddings "
                             f"{c.max_position_embeddings}")
        x = self.embed_tokens(input_ids)
        cos, sin = rope_cos_sin(length, c.head_dim, c.rope_theta, x.dtype, x.device, c.rope_scaling)
        for layer in self.layers:
            x = layer(x, cos, sin)
        return self.norm(x)


# --------------------------------------------------------------------------
# The causal LM
# --------------------------------------------------------------------------

class QSparseForCausalLM(nn.Module):
    def __init__(self, config: QSparseConfig):
        super().__init__()
        self.config = config
        self.model = QSparseDecoder(config)
        if config.tie_word_embeddings:
            self.lm_head = None
        else:
            self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.init_weights()

    def init_weights(self, std: float = 0.02) -> None:
        """Standard initialisation: N(0, std) matrices, zero biases, unit norms."""
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, mean=0.0, std=std)
                if getattr(module, "bias", None) is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, RMSNorm):
                nn.init.ones_(module.weight)

    def lm_head_weight(self) -> torch.Tensor:
        if self.lm_head is None:
            return self.model.embed_tokens.weight
        return self.lm_head.weight

    def hidden_states(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Final-norm hidden states [B, T, hidden_size]."""
        return self.model(input_ids)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Logits [B, T, vocab_size] for input_ids [B, T]."""
        return F.linear(self.hidden_states(input_ids), self.lm_head_weight())

    # ---- model directory I/O ------------------------------------------------

    def save_pretrained(self, directory: str, dtype: torch.dtype = torch.float32,
                        include_training_keys: bool = False) -> None:
        """Write config.json and model.safetensors (tensors cast to ``dtype``)."""
        os.makedirs(directory, exist_ok=True)
        self.config.save(os.path.join(directory, "config.json"), include_training_keys)
        tensors = {name: t.detach().to(dtype).contiguous()
                   for name, t in self.state_dict().items()}
        save_file(tensors, os.path.join(directory, "model.safetensors"),
                  metadata={"format": "pt"})

    @classmethod
    def from_pretrained(cls, directory: str) -> "QSparseForCausalLM":
        """Load a model directory; sub-norms and biases are detected from the tensors."""
        with open(os.path.join(directory, "config.json")) as f:
            data = json.load(f)
        tensors = load_model_tensors(directory)
        data["use_sub_norms"] = any(name.endswith("attn_sub_norm.weight") for name in tensors)
        data["use_bias"] = any(name.endswith("_proj.bias") for name in tensors)
        model = cls(QSparseConfig.from_dict(data))
        model.load_state_dict({name: t.to(torch.float32) for name, t in tensors.items()})
        return model


def load_model_tensors(directory: str) -> Dict[str, torch.Tensor]:
    """All tensors of a model directory (single file or index-listed shards)."""
    single = os.path.join(directory, "model.safetensors")
    if os.path.exists(single):
        return load_file(single)
    with open(os.path.join(directory, "model.safetensors.index.json")) as f:
        weight_map = json.load(f)["weight_map"]
    tensors = {}
    for shard in sorted(set(weight_map.values())):
        tensors.update(load_file(os.path.join(directory, shard)))
    return tensors
