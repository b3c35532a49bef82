"""PyTorch eager decode of a qsparse model directory: what a Python sidecar would give.

Called by `bin/qsparse bench` on the same float weights the Java runtime runs (Debian's
python3-torch with OpenBLAS; torch threads = --threads, as ours). Batch 1 with a KV cache, greedy,
logits every token, like the Java decode loop; prefill is one forward pass over --prefill tokens;
embed (with --embed-ids FILE, a JSON list of token-id lists, e.g. 32 events of ~40 tokens) is one
batched forward over all of them, right-padded, with the final-norm hidden states mean-pooled over
each row's own tokens (what a PyTorch user embedding a micro-batch would run), in events/s.
Rows:
  - dense f32: plain F.linear on float32 weights;
  - 50% top-K int8: the model format's sparsifier (training/qsparse/model.py `sparsify`) before
    every projection, as a PyTorch user would run Q-Sparse: masked dense matmuls (no speed-up);
  - dense int8 (dynamic): torch.ao.quantization.quantize_dynamic on the projections (fbgemm /
    onednn int8 GEMM with per-token dynamic activation quantization), when the build supports it.
Prints one JSON line on stdout.

    /usr/bin/python3 bench/torch_decode.py --model DIR --threads 1 --prompt 16 --tokens 64 --prefill 128
"""

import argparse
import json
import math
import os
import sys
import time

import torch_threads  # noqa: E402  (bench/, beside this script)

torch_threads.pin_from_argv()

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "training"))
from qsparse.model import load_model_tensors, sparsify  # noqa: E402


class Decoder(torch.nn.Module):
    def __init__(self, config, tensors, ratio, bits):
        super().__init__()
        self.c = config
        self.ratio = ratio
        self.bits = bits
        d = config["hidden_size"]
        self.heads = config["num_attention_heads"]
        self.kv_heads = config.get("num_key_value_heads", self.heads)
        self.hd = config.get("head_dim", d // self.heads)
        self.eps = config.get("rms_norm_eps", 1e-5)
        self.embed = tensors["model.embed_tokens.weight"].float()
        lm = tensors.get("lm_head.weight", self.embed)
        self.lm_head = torch.nn.Linear(d, lm.shape[0], bias=False)
        self.lm_head.weight.data = lm.float()
        self.norm = tensors["model.norm.weight"].float()
        self.layers = torch.nn.ModuleList()
        for l in range(config["num_hidden_layers"]):
            p = f"model.layers.{l}."
            layer = torch.nn.Module()
            for name, key in [("q", "self_attn.q_proj"), ("k", "self_attn.k_proj"), ("v", "self_attn.v_proj"),
                              ("o", "self_attn.o_proj"), ("gate", "mlp.gate_proj"), ("up", "mlp.up_proj"),
                              ("down", "mlp.down_proj")]:
                w = tensors[p + key + ".weight"].float()
                lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=False)
                lin.weight.data = w
                setattr(layer, name, lin)
            layer.n1 = tensors[p + "input_layernorm.weight"].float()
            layer.n2 = tensors[p + "post_attention_layernorm.weight"].float()
            self.layers.append(layer)
        half = self.hd // 2
        self.inv_freq = 1.0 / (config.get("rope_theta", 10000.0) ** (torch.arange(0, half, dtype=torch.float32) * 2 / self.hd))

    def s(self, x):
        if self.ratio >= 1 and self.bits == 0:
            return x
        return sparsify(x, self.ratio, self.bits, "none")

    def rms(self, x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * w

    def rope(self, x, pos):
        # x: [T, H, hd]; pos: [T]
        ang = pos[:, None].float() * self.inv_freq[None, :]
        cos = torch.cat([ang.cos(), ang.cos()], -1)[:, None, :]
        sin = torch.cat([ang.sin(), ang.sin()], -1)[:, None, :]
        h = self.hd // 2
        rot = torch.cat([-x[..., h:], x[..., :h]], -1)
        return x * cos + rot * sin

    def forward(self, tokens, start, cache):
        """tokens: [T] at positions start..; cache: per layer [k, v] tensors [len, Hkv, hd]. Returns last logits."""
        T = tokens.shape[0]
        pos = torch.arange(start, start + T)
        x = self.embed[tokens]
        for i, layer in enumerate(self.layers):
            a = self.s(self.rms(x, layer.n1))
            q = layer.q(a).view(T, self.heads, self.hd)
            k = layer.k(a).view(T, self.kv_heads, self.hd)
            v = layer.v(a).view(T, self.kv_heads, self.hd)
            q, k = self.rope(q, pos), self.rope(k, pos)
            if cache[i] is None:
                cache[i] = [k, v]
            else:
                cache[i] = [torch.cat([cache[i][0], k]), torch.cat([cache[i][1], v])]
            K, V = cache[i]
            rep = self.heads // self.kv_heads
            K = K.repeat_interleave(rep, dim=1)
            V = V.repeat_interleave(rep, dim=1)
            scores = torch.einsum("thd,shd->hts", q, K) / math.sqrt(self.hd)
            L = K.shape[0]
            mask = torch.arange(L)[None, :] > pos[:, None]
            scores = scores.masked_fill(mask[None], float("-inf"))
            o = torch.einsum("hts,shd->thd", scores.softmax(-1), V).reshape(T, -1)
            x = x + layer.o(self.s(o))
            m = self.s(self.rms(x, layer.n2))
            h = layer.up(m) * F.relu(layer.gate(m)).pow(2)
            x = x + layer.down(self.s(h))
        return self.lm_head(self.rms(x[-1:], self.norm))[0]

    def pooled(self, ids, mask):
        """ids, mask: [B, T] (right padding, mask 1 on tokens). Mean-pooled final hidden states [B, d]."""
        B, T = ids.shape
        pos = torch.arange(T)
        x = self.embed[ids]
        future = torch.ones(T, T, dtype=torch.bool).triu(1)
        rep = self.heads // self.kv_heads
        for layer in self.layers:
            a = self.s(self.rms(x, layer.n1))
            q = self.rope(layer.q(a).view(B, T, self.heads, self.hd), pos)
            k = self.rope(layer.k(a).view(B, T, self.kv_heads, self.hd), pos)
            v = layer.v(a).view(B, T, self.kv_heads, self.hd)
            k = k.repeat_interleave(rep, dim=2)
            v = v.repeat_interleave(rep, dim=2)
            scores = torch.einsum("bthd,bshd->bhts", q, k) / math.sqrt(self.hd)
            scores = scores.masked_fill(future, float("-inf"))
            o = torch.einsum("bhts,bshd->bthd", scores.softmax(-1), v).reshape(B, T, -1)
            x = x + layer.o(self.s(o))
            m = self.s(self.rms(x, layer.n2))
            h = layer.up(m) * F.relu(layer.gate(m)).pow(2)
            x = x + layer.down(self.s(h))
        h = self.rms(x, self.norm)
        w = mask.to(h.dtype).unsqueeze(-1)
        return (h * w).sum(1) / w.sum(1)


def blas():
    """The BLAS torch's generic BLAS_INFO resolves to (Debian: the libblas.so.3 alternative)."""
    try:
        with open("/proc/self/maps") as f:
            maps = f.read()
        for name in ("openblas", "mkl", "blis", "atlas"):
            if name in maps:
                return name
        return "reference BLAS (install libopenblas0-pthread!)" if "libblas" in maps else "unknown"
    except OSError:
        return "unknown"


def run(model, prompt, tokens, prefill, reps, batch=None):
    """Median decode tok/s, prefill tok/s and (with batch = (ids, mask)) embed events/s."""
    with torch.inference_mode():
        def decode_once(n):
            cache = [None] * len(model.layers)
            logits = model(prompt, 0, cache)
            pos = prompt.shape[0]
            t0 = time.perf_counter()
            for _ in range(n):
                nxt = logits.argmax().view(1)
                logits = model(nxt, pos, cache)
                pos += 1
            return n / (time.perf_counter() - t0)

        def prefill_once():
            cache = [None] * len(model.layers)
            t0 = time.perf_counter()
            model(prefill, 0, cache)
            return prefill.shape[0] / (time.perf_counter() - t0)

        def embed_once():
            t0 = time.perf_counter()
            model.pooled(*batch)
            return batch[0].shape[0] / (time.perf_counter() - t0)

        decode_once(max(2, tokens // 4))
        prefill_once()
        d = sorted(decode_once(tokens) for _ in range(reps))[reps // 2]
        p = sorted(prefill_once() for _ in range(reps))[reps // 2]
        e = None
        if batch is not None:
            embed_once()
            e = sorted(embed_once() for _ in range(reps))[reps // 2]
        return d, p, e


def padded(id_lists):
    """Right-padded ids and the attention mask [B, T] of a list of token-id lists."""
    T = max(len(r) for r in id_lists)
    ids = torch.zeros(len(id_lists), T, dtype=torch.long)
    mask = torch.zeros(len(id_lists), T, dtype=torch.long)
    for i, r in enumerate(id_lists):
        ids[i, :len(r)] = torch.tensor(r, dtype=torch.long)
        mask[i, :len(r)] = 1
    return ids, mask


def row(variant, d, p, e):
    r = {"variant": variant, "decode": d, "prefill": p}
    if e is not None:
        r["embed"] = e
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--prompt", type=int, default=16)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--prefill", type=int, default=128)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--embed-ids", help="JSON list of token-id lists: one batched embed forward per rep")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(7)
    with open(os.path.join(args.model, "config.json")) as f:
        config = json.load(f)
    tensors = load_model_tensors(args.model)
    vocab = config["vocab_size"]
    prompt = torch.randint(0, vocab, (args.prompt,))
    prefill = torch.randint(0, vocab, (args.prefill,))
    batch = None
    if args.embed_ids:
        with open(args.embed_ids) as f:
            batch = padded(json.load(f))
    rows = []
    for variant, ratio, bits in [("dense f32", 1.0, 0), ("50% top-K int8", 0.5, 8)]:
        print(f"torch: {variant} ...", file=sys.stderr, flush=True)
        rows.append(row(variant, *run(Decoder(config, tensors, ratio, bits), prompt, args.tokens, prefill, args.reps,
                                      batch)))
    note = (f"torch {torch.__version__}, {torch.get_num_threads()} thread(s) (OMP/OPENBLAS/MKL_NUM_THREADS="
            f"{os.environ['OPENBLAS_NUM_THREADS']} set before import), BLAS: {blas()}; "
            "50% top-K int8 = the model format's sparsifier in float before each projection (masked dense matmuls)"
            + (f"; embed = one forward over {batch[0].shape[0]} right-padded events ({batch[0].shape[1]} positions),"
               " mean-pooled under the attention mask" if batch is not None else ""))
    try:
        engines = torch.backends.quantized.supported_engines
        engine = "fbgemm" if "fbgemm" in engines else ("onednn" if "onednn" in engines else None)
        if engine:
            torch.backends.quantized.engine = engine
            print("torch: dense int8 (dynamic) ...", file=sys.stderr, flush=True)
            q = torch.ao.quantization.quantize_dynamic(Decoder(config, tensors, 1.0, 0), {torch.nn.Linear}, dtype=torch.qint8)
            rows.append(row("dense int8 (dynamic quant)", *run(q, prompt, args.tokens, prefill, args.reps, batch)))
            note += f"; dense int8 (dynamic quant) = quantize_dynamic with {engine}"
    except Exception as e:  # noqa: BLE001 - report, do not fail the table
        note += f"; dynamic int8 not available ({e})"
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "rows": rows, "note": note}))


if __name__ == "__main__":
    main()
