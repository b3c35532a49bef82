"""Export a Qwen3-Embedding directory to ONNX (f32), for the ONNX Runtime row of the embedding-models bench.

One graph, embed.onnx, from the weights the independent reference ``qsparse/qwen3_embedding.py``
loads (its loader: the published bf16 widened to float32, names with or without ``model.``):

    inputs   input_ids [batch, seq] int64, attention_mask [batch, seq] int64 (1 = token, 0 = right padding)
    outputs  embeddings [batch, hidden] f32: the final-norm hidden state of each row's last real token
             (position sum(mask) - 1), L2-normalised: Qwen3-Embedding's last-token pooling

written as Qwen3 computes it (per-head RMSNorm of q and k before the rotation, head_dim independent of
hidden / heads, grouped-query attention without copying K and V, SiLU GLU), causal attention that also
masks the padded keys, RoPE from a float64-computed table of max_position_embeddings rows (the sequence
bound). Weights are stored transposed, [in, out], so that the graph's MatMuls read them as they are and
constant folding copies nothing. A model over protobuf's 2 GB (0.6B in f32 is ~2.4 GB) is written by
torch's exporter with external data: one file per initializer beside embed.onnx, which ONNX Runtime reads
when the session is created from the file's path. A BitLinear checkpoint (bitnet-embedding) is refused:
only the float Qwen3 forward is exported.

Runs with Debian's python3-torch 1.13 (``/usr/bin/python3``); neither the onnx nor the onnxruntime
Python packages are needed. Writes onnx.json (what was exported) beside the graph.

With --decoder, the same weights as a text generator instead (the bench's generation table), decoder.onnx
in the signature of training/export_onnx.py's, so that the bench's OnnxRuntimePeer steps it:

    inputs   input_ids [1, T] int64, position_ids [1, T] int64,
             past_key.N / past_value.N [1, Hkv, P, head_dim] f32 per layer N (P may be 0)
    outputs  logits [1, V] f32 of the LAST position (the lm head: tied to embed_tokens unless
             lm_head.weight is there), present_key.N / present_value.N [1, Hkv, P+T, head_dim]

Decode is one run per token with T = 1, the presents fed back; prefill one run with P = 0. Give it its
own --out: the external data files are named by initializer and would collide with embed.onnx's.

    /usr/bin/python3 training/export_qwen3_embedding_onnx.py --model DIR --out DIR [--decoder] [--opset 14]
"""

import argparse
import inspect
import json
import math
import os
import sys
import warnings

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qsparse.qwen3_embedding import _PROJECTIONS, Qwen3Embedder  # noqa: E402

GRAPH = "embed.onnx"
DECODER = "decoder.onnx"


class Qwen3EmbeddingOnnx(nn.Module):
    """input_ids [B, T], attention_mask [B, T] (right padding) -> L2-normalised last-token embeddings [B, d]."""

    def __init__(self, reference: Qwen3Embedder, max_positions: int):
        super().__init__()
        if reference.bitlinear:
            raise ValueError("a BitLinear checkpoint (*_proj.norm.weight) is not exported: float Qwen3 only")
        w = reference.w
        self.layers = reference.layers
        self.heads, self.kv, self.hd = reference.heads, reference.kv, reference.hd
        if self.heads % self.kv:
            raise ValueError(f"num_key_value_heads {self.kv} does not divide num_attention_heads {self.heads}")
        self.eps = reference.eps
        self.embed_tokens = nn.Parameter(w["embed_tokens.weight"], requires_grad=False)
        self.norm = nn.Parameter(w["norm.weight"], requires_grad=False)
        self.blocks = nn.ModuleList()
        for i in range(self.layers):
            p = f"layers.{i}."
            block = nn.Module()
            for name in ("input_layernorm", "post_attention_layernorm", "self_attn.q_norm", "self_attn.k_norm"):
                block.register_parameter(name.replace(".", "_"),
                                         nn.Parameter(w[p + name + ".weight"], requires_grad=False))
            for proj in _PROJECTIONS:
                block.register_parameter(proj.replace(".", "_") + "_t",
                                         nn.Parameter(w[p + proj + ".weight"].t().contiguous(), requires_grad=False))
            self.blocks.append(block)
        half = self.hd // 2
        inv = 1.0 / (reference.theta ** (torch.arange(half, dtype=torch.float64) * 2 / self.hd))
        angles = torch.arange(max_positions, dtype=torch.float64)[:, None] * inv[None, :]
        self.register_buffer("cos", angles.cos().float(), persistent=False)  # [P, hd/2]
        self.register_buffer("sin", angles.sin().float(), persistent=False)

    def _rms(self, x, weight):
        return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))

    def _rope(self, x, cos, sin):
        half = self.hd // 2
        a, b = x[..., :half], x[..., half:]
        return torch.cat([a * cos - b * sin, b * cos + a * sin], dim=-1)

    def _attend_and_mlp(self, x, blk, q, k, v, hidden):
        """Attention of q [B, H, T, hd] over k, v [B, Hkv, S, hd] (hidden [.., T, S] True: masked), o_proj and
        the SiLU GLU, each added to the residual x [B, T, d]."""
        b, h, t, hd = q.shape
        hkv = k.shape[1]
        # Query head j reads kv head j // g: the g queries of a kv head as one matrix, K and V not copied.
        qg = q.reshape(b, hkv, h // hkv, t, hd)
        scores = torch.matmul(qg, k.unsqueeze(2).transpose(-1, -2)) / math.sqrt(hd)  # [B, Hkv, g, T, S]
        scores = scores.masked_fill(hidden, float("-inf"))
        o = torch.matmul(torch.softmax(scores, dim=-1), v.unsqueeze(2))  # [B, Hkv, g, T, hd]
        o = o.reshape(b, h, t, hd).transpose(1, 2).reshape(b, t, h * hd)
        x = x + torch.matmul(o, blk.self_attn_o_proj_t)
        m = self._rms(x, blk.post_attention_layernorm)
        gate = torch.matmul(m, blk.mlp_gate_proj_t)
        up = torch.matmul(m, blk.mlp_up_proj_t)
        return x + torch.matmul(torch.nn.functional.silu(gate) * up, blk.mlp_down_proj_t)

    def forward(self, input_ids, attention_mask):
        b, t = input_ids.shape[0], input_ids.shape[1]
        h, hkv, hd = self.heads, self.kv, self.hd
        x = self.embed_tokens[input_ids]  # [B, T, d]
        cos = self.cos[:t].view(1, 1, t, hd // 2)
        sin = self.sin[:t].view(1, 1, t, hd // 2)
        # A query sees the keys at or before it that are real tokens.
        pos = torch.arange(t, device=input_ids.device)
        allowed = (pos.view(1, t) <= pos.view(t, 1)).view(1, t, t) & (attention_mask.view(b, 1, t) > 0)
        hidden_keys = ~allowed.view(b, 1, 1, t, t)
        for blk in self.blocks:
            a = self._rms(x, blk.input_layernorm)
            q = torch.matmul(a, blk.self_attn_q_proj_t).view(b, t, h, hd).transpose(1, 2)  # [B, H, T, hd]
            k = torch.matmul(a, blk.self_attn_k_proj_t).view(b, t, hkv, hd).transpose(1, 2)  # [B, Hkv, T, hd]
            v = torch.matmul(a, blk.self_attn_v_proj_t).view(b, t, hkv, hd).transpose(1, 2)
            q = self._rope(self._rms(q, blk.self_attn_q_norm), cos, sin)
            k = self._rope(self._rms(k, blk.self_attn_k_norm), cos, sin)
            x = self._attend_and_mlp(x, blk, q, k, v, hidden_keys)
        last = attention_mask.sum(dim=1) - 1  # right padding: the last real token
        pooled = x.gather(1, last.view(b, 1, 1).expand(b, 1, x.shape[2])).squeeze(1)  # [B, d]
        pooled = self._rms(pooled, self.norm)
        return pooled / pooled.norm(dim=-1, keepdim=True).clamp(min=1e-12)


class Qwen3DecoderOnnx(Qwen3EmbeddingOnnx):
    """input_ids [B, T], position_ids [B, T], past_key.0, past_value.0, ... -> last logits [B, V], presents."""

    def __init__(self, reference: Qwen3Embedder, max_positions: int):
        super().__init__(reference, max_positions)
        head = reference.w.get("lm_head.weight", reference.w["embed_tokens.weight"])  # tied unless given
        self.lm_head_t = nn.Parameter(head.t().contiguous(), requires_grad=False)  # [d, V]

    def forward(self, input_ids, position_ids, *past):
        b, t = input_ids.shape[0], input_ids.shape[1]
        h, hkv, hd = self.heads, self.kv, self.hd
        x = self.embed_tokens[input_ids]  # [B, T, d]
        cos = self.cos[position_ids].unsqueeze(1)  # [B, 1, T, hd/2]
        sin = self.sin[position_ids].unsqueeze(1)
        presents = []
        for i, blk in enumerate(self.blocks):
            a = self._rms(x, blk.input_layernorm)
            q = torch.matmul(a, blk.self_attn_q_proj_t).view(b, t, h, hd).transpose(1, 2)
            k = torch.matmul(a, blk.self_attn_k_proj_t).view(b, t, hkv, hd).transpose(1, 2)
            v = torch.matmul(a, blk.self_attn_v_proj_t).view(b, t, hkv, hd).transpose(1, 2)
            q = self._rope(self._rms(q, blk.self_attn_q_norm), cos, sin)
            k = self._rope(self._rms(k, blk.self_attn_k_norm), cos, sin)
            if past:
                k = torch.cat([past[2 * i], k], dim=2)
                v = torch.cat([past[2 * i + 1], v], dim=2)
            presents += [k, v]
            s = k.shape[2]
            # A query sees the keys at or before its own position (the cache holds positions 0..P-1).
            future = torch.arange(s, device=x.device).view(1, 1, 1, 1, s) > position_ids.view(b, 1, 1, t, 1)
            x = self._attend_and_mlp(x, blk, q, k, v, future)
        last = self._rms(x[:, -1, :], self.norm)
        return (torch.matmul(last, self.lm_head_t), *presents)


def load(model_dir: str, decoder: bool = False):
    """The module over the reference's weights; a BitLinear checkpoint or an unused tensor is refused by name."""
    with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    reference = Qwen3Embedder(model_dir)
    module = Qwen3DecoderOnnx if decoder else Qwen3EmbeddingOnnx
    return module(reference, int(cfg.get("max_position_embeddings", 32768))).eval()


def export(model_dir: str, out_dir: str, opset: int = 14) -> dict:
    """Writes embed.onnx (with external data when over 2 GB) and onnx.json under out_dir."""
    module = load(model_dir)
    os.makedirs(out_dir, exist_ok=True)
    ids = torch.tensor([[1, 2, 0], [3, 4, 5]], dtype=torch.long)
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]], dtype=torch.long)
    kwargs = dict(input_names=["input_ids", "attention_mask"], output_names=["embeddings"],
                  dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                                "embeddings": {0: "batch"}},
                  opset_version=opset, do_constant_folding=True)
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False  # torch >= 2.5: the TorchScript exporter, as in 1.13
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's shape-inference chatter
        torch.onnx.export(module, (ids, mask), os.path.join(out_dir, GRAPH), **kwargs)
    weight_bytes = sum(p.numel() * p.element_size() for p in module.parameters())
    info = {"source": os.path.abspath(model_dir), "torch": torch.__version__, "opset": opset, "dtype": "float32",
            "graph": GRAPH, "pooling": "last token, L2-normalised", "hidden_size": module.norm.numel(),
            "layers": module.layers, "max_positions": module.cos.shape[0], "weight_bytes": weight_bytes,
            "external_data": sorted(n for n in os.listdir(out_dir) if n not in (GRAPH, "onnx.json"))[:3]}
    with open(os.path.join(out_dir, "onnx.json"), "w", encoding="utf-8") as f:
        json.dump(info, f, indent=2)
    return info


def export_decoder(model_dir: str, out_dir: str, opset: int = 14) -> dict:
    """Writes decoder.onnx (with external data when over 2 GB) and onnx.json in the keys OnnxRuntimePeer reads."""
    module = load(model_dir, decoder=True)
    os.makedirs(out_dir, exist_ok=True)
    past_names = [f"past_{kv}.{i}" for i in range(module.layers) for kv in ("key", "value")]
    present_names = [f"present_{kv}.{i}" for i in range(module.layers) for kv in ("key", "value")]
    ids = torch.tensor([[1, 2, 3]], dtype=torch.long)
    pos = torch.tensor([[2, 3, 4]], dtype=torch.long)
    past = tuple(torch.zeros(1, module.kv, 2, module.hd) for _ in past_names)
    axes = {"input_ids": {0: "batch", 1: "seq"}, "position_ids": {0: "batch", 1: "seq"}, "logits": {0: "batch"}}
    axes.update({n: {0: "batch", 2: "past"} for n in past_names})
    axes.update({n: {0: "batch", 2: "total"} for n in present_names})
    kwargs = dict(input_names=["input_ids", "position_ids", *past_names], output_names=["logits", *present_names],
                  dynamic_axes=axes, opset_version=opset, do_constant_folding=True)
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (ids, pos, *past), os.path.join(out_dir, DECODER), **kwargs)
    weight_bytes = sum(p.numel() * p.element_size() for p in module.parameters())
    info = {"source": os.path.abspath(model_dir), "torch": torch.__version__, "opset": opset, "dtype": "float32",
            "graph": DECODER, "graphs": {"f32": {"decoder": DECODER}}, "layers": module.layers,
            "kv_heads": module.kv, "head_dim": module.hd, "hidden_size": module.norm.numel(),
            "vocab_size": module.lm_head_t.shape[1], "max_positions": module.cos.shape[0],
            "past_names": past_names, "present_names": present_names, "weight_bytes": weight_bytes,
            "external_data": sorted(n for n in os.listdir(out_dir) if n not in (DECODER, "onnx.json"))[:3]}
    with open(os.path.join(out_dir, "onnx.json"), "w", encoding="utf-8") as f:
        json.dump(info, f, indent=2)
    return info


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="Qwen3-Embedding directory (config.json, model.safetensors)")
    ap.add_argument("--out", required=True, help="output directory (embed.onnx, its external data, onnx.json)")
    ap.add_argument("--opset", type=int, default=14)
    ap.add_argument("--decoder", action="store_true",
                    help="decoder.onnx with a KV cache and the lm head (text generation) instead of embed.onnx")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    info = (export_decoder if args.decoder else export)(args.model, args.out, args.opset)
    print(json.dumps({"out": os.path.abspath(args.out), "torch": info["torch"], "opset": info["opset"],
                      "weight_bytes": info["weight_bytes"]}))


if __name__ == "__main__":
    main()
