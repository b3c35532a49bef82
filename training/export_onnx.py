"""Export a `qsparse` model directory to ONNX (f32, dense), for the ONNX Runtime peer of the bench.

Two graphs are written, both from the same float weights the Java runtime reads:

  decoder.onnx  batch 1 (any batch works), a KV cache per layer:
      inputs   input_ids [B, T] int64, position_ids [B, T] int64,
               past_key.N / past_value.N [B, Hkv, P, hd] f32 for every layer N (P may be 0)
      outputs  logits [B, V] f32 of the LAST position, present_key.N / present_value.N [B, Hkv, P+T, hd]
      Decode is one call per token with T = 1 (the presents fed back as the next pasts);
      prefill is one call with P = 0 and T = N.
  embed.onnx    a padded batch:
      inputs   input_ids [B, T] int64, attention_mask [B, T] int64 (1 = token, 0 = right padding)
      outputs  embeddings [B, d] f32: final-norm hidden states mean-pooled over the unmasked positions
               (not L2-normalised)

With --int8, decoder-int8.onnx and embed-int8.onnx hold the same graphs with every projection and the lm
head as ONNX Runtime's dynamic quantization writes them (onnxruntime.quantization.quantize_dynamic is
Python-only and not installable here, so the graph is built directly): DynamicQuantizeLinear of the input
(uint8, one scale per tensor) -> MatMulInteger with int8 weights (per output channel, the model format's
int8 rule) -> Cast -> Mul by the two scales.

Only the dense float forward of docs/model-format.md is exported: top-K sparsifiers and int8
activations are not (a config that asks for them is refused unless --dense is given, which
exports the same weights with ratio 1 and float activations; this is what the bench's "dense f32"
variant runs). RoPE tables are the float64-computed tables of qsparse.model, as constants.
Runs with Debian's python3-torch 1.13 (`/usr/bin/python3`); neither the onnx nor the onnxruntime
Python packages are needed.

    /usr/bin/python3 training/export_onnx.py --model DIR --out DIR [--dense] [--opset 14]
"""

import argparse
import inspect
import json
import math
import os
import sys
import warnings
from typing import List

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qsparse.model import QSparseConfig, QSparseForCausalLM, rope_cos_sin  # noqa: E402


def dynamic_quantize_linear(x):
    """ONNX DynamicQuantizeLinear: uint8, one asymmetric scale for the whole tensor (ORT's dynamic quantization)."""
    lo = torch.clamp(x.min(), max=0.0)
    hi = torch.clamp(x.max(), min=0.0)
    scale = (hi - lo) / 255.0
    scale = torch.where(scale == 0, torch.ones_like(scale), scale)
    zero = torch.clamp(torch.round(-lo / scale), 0, 255)
    return torch.clamp(torch.round(x / scale) + zero, 0, 255), scale, zero


class _DynamicQuantLinear(torch.autograd.Function):
    """x @ Wq^T with x quantized on the fly: DynamicQuantizeLinear -> MatMulInteger (u8 x s8) -> Cast -> Mul, the graph
    onnxruntime.quantization.quantize_dynamic writes (per-channel int8 weights, per-tensor uint8 activations)."""

    @staticmethod
    def forward(ctx, x, wq_t, w_scale):
        xq, s, zero = dynamic_quantize_linear(x)
        acc = torch.matmul((xq - zero).double(), wq_t.double())  # exact integers
        return (acc * (s.double() * w_scale.double())).float()

    @staticmethod
    def symbolic(g, x, wq_t, w_scale):
        xq, s, zero = g.op("DynamicQuantizeLinear", x, outputs=3)
        acc = g.op("MatMulInteger", xq, wq_t, zero)
        return g.op("Mul", g.op("Cast", acc, to_i=1), g.op("Mul", s, w_scale))  # to_i=1: FLOAT


class _Int8Weight(nn.Module):
    """A projection's weight [out, in] as int8 per output channel (the model format's int8 rule) for MatMulInteger."""

    def __init__(self, w):
        super().__init__()
        alpha = w.detach().abs().amax(dim=1) + 1e-5
        wq = torch.clamp(torch.round(w.detach() * 127 / alpha[:, None]), -127, 127)
        self.register_buffer("wq_t", wq.t().contiguous().to(torch.int8))
        self.register_buffer("scale", (alpha / 127).to(torch.float32))

    def forward(self, x):
        return _DynamicQuantLinear.apply(x, self.wq_t, self.scale)


class _Core(nn.Module):
    """The dense layers of a QSparseForCausalLM, with explicit positions and a KV cache; weights "f32" or "int8"
    (every projection and the lm head as ONNX Runtime's dynamic quantization would run them)."""

    def __init__(self, model: QSparseForCausalLM, weights: str = "f32"):
        super().__init__()
        c = model.config
        if c.use_sub_norms or c.use_bias:
            raise ValueError("sub-norms and biases are not exported")
        self.c = c
        self.m = model
        self.group = c.num_attention_heads // c.num_key_value_heads
        cos, sin = rope_cos_sin(c.max_position_embeddings, c.head_dim, c.rope_theta, scaling=c.rope_scaling)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        if weights not in ("f32", "int8"):
            raise ValueError(f"weights must be f32 or int8, not {weights!r}")
        self.int8 = nn.ModuleDict()
        if weights == "int8":
            for name, p in model.named_parameters():
                if name.endswith("_proj.weight"):
                    self.int8[name.replace(".", "_")] = _Int8Weight(p)
            self.int8["lm_head"] = _Int8Weight(model.lm_head_weight())

    def linear(self, x, weight, name):
        """x @ weight^T, or its int8 form when the core is int8."""
        if len(self.int8):
            return self.int8[name.replace(".", "_")](x)
        return F.linear(x, weight)

    @staticmethod
    def _rms(norm, x):
        return x / torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + norm.eps) * norm.weight

    @staticmethod
    def _rope(x, cos, sin):
        half = x.shape[-1] // 2
        return x * cos + torch.cat([-x[..., half:], x[..., :half]], dim=-1) * sin

    def hidden(self, input_ids, position_ids, past: List[torch.Tensor]):
        """Final-norm hidden states [B, T, d] and the presents (k, v per layer)."""
        c = self.c
        b, t = input_ids.shape[0], input_ids.shape[1]
        hkv, hd, g = c.num_key_value_heads, c.head_dim, self.group
        x = self.m.model.embed_tokens(input_ids)
        cos = self.cos[position_ids].unsqueeze(1)  # [B, 1, T, hd]
        sin = self.sin[position_ids].unsqueeze(1)
        presents = []
        for i, layer in enumerate(self.m.model.layers):
            attn = layer.self_attn
            pre = f"model.layers.{i}."
            a = self._rms(layer.input_layernorm, x)
            q = self.linear(a, attn.q_proj.weight, pre + "self_attn.q_proj.weight").view(b, t, hkv * g, hd).transpose(1, 2)
            k = self.linear(a, attn.k_proj.weight, pre + "self_attn.k_proj.weight").view(b, t, hkv, hd).transpose(1, 2)
            v = self.linear(a, attn.v_proj.weight, pre + "self_attn.v_proj.weight").view(b, t, hkv, hd).transpose(1, 2)
            q, k = self._rope(q, cos, sin), self._rope(k, cos, sin)
            if past:
                k = torch.cat([past[2 * i], k], dim=2)
                v = torch.cat([past[2 * i + 1], v], dim=2)
            presents += [k, v]
            # query head h reads kv head h // g: group the queries instead of copying K and V
            qg = q.reshape(b, hkv, g * t, hd)
            scores = torch.matmul(qg, k.transpose(-1, -2)) / math.sqrt(hd)  # [B, Hkv, g*T, S]
            s = k.shape[2]
            key_pos = torch.arange(s, device=x.device)
            future = key_pos.view(1, 1, 1, s) > position_ids.view(b, 1, t, 1)  # [B, 1, T, S]
            future = future.unsqueeze(2).expand(b, 1, g, t, s).reshape(b, 1, g * t, s)
            scores = scores.masked_fill(future, float("-inf"))
            o = torch.matmul(torch.softmax(scores, dim=-1), v)  # [B, Hkv, g*T, hd]
            o = o.reshape(b, hkv * g, t, hd).transpose(1, 2).reshape(b, t, hkv * g * hd)
            x = x + self.linear(o, attn.o_proj.weight, pre + "self_attn.o_proj.weight")
            mlp = layer.mlp
            m = self._rms(layer.post_attention_layernorm, x)
            h = (self.linear(m, mlp.up_proj.weight, pre + "mlp.up_proj.weight")
                 * torch.relu(self.linear(m, mlp.gate_proj.weight, pre + "mlp.gate_proj.weight")).square())
            x = x + self.linear(h, mlp.down_proj.weight, pre + "mlp.down_proj.weight")
        return self._rms(self.m.model.norm, x), presents


class OnnxDecoder(nn.Module):
    """input_ids, position_ids, past_key.0, past_value.0, ... -> last logits, presents."""

    def __init__(self, model: QSparseForCausalLM, weights: str = "f32"):
        super().__init__()
        self.core = _Core(model, weights)

    def forward(self, input_ids, position_ids, *past):
        h, presents = self.core.hidden(input_ids, position_ids, list(past))
        logits = self.core.linear(h[:, -1, :], self.core.m.lm_head_weight(), "lm_head")
        return (logits, *presents)


class OnnxEmbed(nn.Module):
    """input_ids [B, T], attention_mask [B, T] (right padding) -> mean-pooled hidden states [B, d]."""

    def __init__(self, model: QSparseForCausalLM, weights: str = "f32"):
        super().__init__()
        self.core = _Core(model, weights)

    def forward(self, input_ids, attention_mask):
        b, t = input_ids.shape[0], input_ids.shape[1]
        positions = torch.arange(t, device=input_ids.device).view(1, t).expand(b, t)
        h, _ = self.core.hidden(input_ids, positions, [])
        mask = attention_mask.to(h.dtype).unsqueeze(-1)
        return (h * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)


def load_dense(model_dir: str, dense: bool) -> QSparseForCausalLM:
    with open(os.path.join(model_dir, "config.json")) as f:
        config = json.load(f)
    if config.get("model_type", "qsparse") not in ("qsparse", "bitnet", "llama"):
        raise SystemExit(f"{model_dir}: model_type {config.get('model_type')!r} is not exported (qsparse only)")
    try:
        # Read as the runtime reads it: a llama config's hidden_act decides its feed-forward.
        mlp_activation = QSparseConfig.from_dict(config).mlp_activation
    except ValueError as e:
        raise SystemExit(f"{model_dir}: {e}")
    if mlp_activation != "relu2glu":
        raise SystemExit(f"{model_dir}: mlp_activation {mlp_activation!r} is not exported "
                         "(the ONNX graph has the ReLU²GLU feed-forward only)")
    sparse = any(float(config.get(k, 1.0)) < 1.0 for k in
                 ("topk_ratio", "topk_ratio_attn", "topk_ratio_attn_out", "topk_ratio_mlp", "topk_ratio_mlp_out"))
    quant = int(config.get("activation_bits", 0)) != 0 or config.get("weight_quant", "none") != "none"
    if (sparse or quant) and not dense:
        raise SystemExit(f"{model_dir}: the config asks for top-K sparsity or quantization; only the dense f32 "
                         "forward is exported (pass --dense to export these weights dense)")
    model = QSparseForCausalLM.from_pretrained(model_dir)
    c = model.config
    c.topk_ratio = c.topk_ratio_attn = c.topk_ratio_attn_out = c.topk_ratio_mlp = c.topk_ratio_mlp_out = 1.0
    c.activation_bits = 0
    c.weight_quant = "none"
    return model.eval()


def _export(module, args, path, input_names, output_names, dynamic_axes, opset):
    kwargs = dict(input_names=input_names, output_names=output_names, dynamic_axes=dynamic_axes,
                  opset_version=opset, do_constant_folding=True)
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False  # torch >= 2.5: the TorchScript exporter, as in 1.13
    torch.onnx.export(module, args, path, **kwargs)


def export(model_dir: str, out_dir: str, dense: bool = False, opset: int = 14, int8: bool = False) -> dict:
    """Writes decoder.onnx, embed.onnx (and with int8, decoder-int8.onnx and embed-int8.onnx) and onnx.json
    (what was exported) under out_dir."""
    model = load_dense(model_dir, dense)
    c = model.config
    os.makedirs(out_dir, exist_ok=True)
    layers = c.num_hidden_layers
    past_names = [f"past_{kv}.{i}" for i in range(layers) for kv in ("key", "value")]
    present_names = [f"present_{kv}.{i}" for i in range(layers) for kv in ("key", "value")]
    ids = torch.tensor([[1, 2, 3]], dtype=torch.long)
    pos = torch.tensor([[2, 3, 4]], dtype=torch.long)
    past = tuple(torch.zeros(1, c.num_key_value_heads, 2, c.head_dim) for _ in past_names)
    axes = {"input_ids": {0: "batch", 1: "seq"}, "position_ids": {0: "batch", 1: "seq"}, "logits": {0: "batch"}}
    axes.update({n: {0: "batch", 2: "past"} for n in past_names})
    axes.update({n: {0: "batch", 2: "total"} for n in present_names})
    info = {"source": os.path.abspath(model_dir), "torch": torch.__version__, "opset": opset, "dtype": "float32",
            "layers": layers, "kv_heads": c.num_key_value_heads, "head_dim": c.head_dim,
            "hidden_size": c.hidden_size, "vocab_size": c.vocab_size,
            "max_position_embeddings": c.max_position_embeddings,
            "past_names": past_names, "present_names": present_names, "graphs": {}}
    for weights in ("f32", "int8") if int8 else ("f32",):
        suffix = "" if weights == "f32" else "-" + weights
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter's shape-inference chatter
            _export(OnnxDecoder(model, weights), (ids, pos, *past), os.path.join(out_dir, f"decoder{suffix}.onnx"),
                    ["input_ids", "position_ids", *past_names], ["logits", *present_names], axes, opset)
            mask = torch.tensor([[1, 1, 0], [1, 1, 1]], dtype=torch.long)
            _export(OnnxEmbed(model, weights), (torch.tensor([[1, 2, 0], [3, 4, 5]], dtype=torch.long), mask),
                    os.path.join(out_dir, f"embed{suffix}.onnx"), ["input_ids", "attention_mask"], ["embeddings"],
                    {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                     "embeddings": {0: "batch"}}, opset)
        info["graphs"][weights] = {"decoder": f"decoder{suffix}.onnx", "embed": f"embed{suffix}.onnx"}
    info["decoder"], info["embed"] = "decoder.onnx", "embed.onnx"
    with open(os.path.join(out_dir, "onnx.json"), "w") as f:
        json.dump(info, f, indent=2)
    return info


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="model directory (config.json, model.safetensors)")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--dense", action="store_true", help="export a sparse/quantized config's weights dense f32")
    ap.add_argument("--opset", type=int, default=14)
    ap.add_argument("--int8", action="store_true",
                    help="also decoder-int8.onnx / embed-int8.onnx: ONNX Runtime's dynamic int8 quantization graph "
                         "(DynamicQuantizeLinear + MatMulInteger, int8 weights per output channel)")
    args = ap.parse_args()
    info = export(args.model, args.out, args.dense, args.opset, args.int8)
    print(json.dumps({"out": os.path.abspath(args.out), "torch": info["torch"], "opset": info["opset"]}))


if __name__ == "__main__":
    main()
