"""Fixture-independent checks of training/qsparse.

Run from the repository root:  /usr/bin/python3 -m unittest training/test_model.py
"""

import json
import math
import os
import re
import struct
import sys
import tempfile
import unittest

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from qsparse.model import (QSparseConfig, QSparseForCausalLM, quantize_weight,  # noqa: E402
                           sparsify)
from qsparse.safetensors_io import load_file, load_metadata, save_file  # noqa: E402
from qsparse.seed_model import QSparseModel  # noqa: E402

SMALL = dict(vocab_size=50, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
             num_attention_heads=4, max_position_embeddings=64)


def randomize(model: torch.nn.Module, seed: int, std: float = 0.2) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            if name.endswith("norm.weight") or re.search(r"norm\d\.weight$", name):
                p.copy_(1.0 + 0.1 * noise)
            elif name.endswith("embed_tokens.weight") or name == "embedding.weight":
                p.copy_(0.5 * noise)
            else:
                p.copy_(std * noise)


# --------------------------------------------------------------------------
# safetensors
# --------------------------------------------------------------------------

class SafetensorsTest(unittest.TestCase):
    def sample_tensors(self):
        gen = torch.Generator().manual_seed(0)
        floats = torch.randn(3, 5, generator=gen)
        floats[0, :4] = torch.tensor([float("nan"), float("inf"), -float("inf"), -0.0])
        return {
            "f32": floats.clone(),
            "f16": floats.to(torch.float16),
            "bf16": floats.to(torch.bfloat16),
            "i8": torch.tensor([[-128, -1, 0], [1, 7, 127]], dtype=torch.int8),
            "u8": torch.tensor([0, 1, 128, 255], dtype=torch.uint8),
            "i32": torch.tensor([-2**31, -1, 0, 2**31 - 1], dtype=torch.int32),
            "i64": torch.tensor([[-2**63], [2**63 - 1], [12345678901234]], dtype=torch.int64),
            "scalar": torch.tensor(3.5),
            "empty": torch.zeros(0, 4, dtype=torch.float16),
            "odd_u8": torch.arange(7, dtype=torch.uint8),  # breaks alignment if put first
            "non_contiguous": torch.arange(12, dtype=torch.int32).reshape(3, 4).t(),
        }

    @staticmethod
    def bits(t: torch.Tensor) -> torch.Tensor:
        views = {torch.float32: torch.int32, torch.float16: torch.int16,
                 torch.bfloat16: torch.int16}
        return t.contiguous().view(views[t.dtype]) if t.dtype in views else t

    def test_round_trip_every_dtype(self):
        tensors = self.sample_tensors()
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "t.safetensors")
            save_file(tensors, path, metadata={"format": "pt", "note": "é"})
            loaded = load_file(path)
            self.assertEqual(load_metadata(path), {"format": "pt", "note": "é"})
        self.assertEqual(set(loaded), set(tensors))
        for name, t in tensors.items():
            with self.subTest(name=name):
                self.assertEqual(loaded[name].dtype, t.dtype)
                self.assertEqual(tuple(loaded[name].shape), tuple(t.shape))
                self.assertTrue(torch.equal(self.bits(loaded[name]), self.bits(t)))

    def test_layout(self):
        tensors = self.sample_tensors()
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "t.safetensors")
            save_file(tensors, path)
            with open(path, "rb") as f:
                raw = f.read()
        (n,) = struct.unpack("<Q", raw[:8])
        self.assertEqual(n % 8, 0)
        header = json.loads(raw[8:8 + n].decode("utf-8"))
        self.assertNotIn("__metadata__", header)
        names = {"F32": 4, "F16": 2, "BF16": 2, "I8": 1, "U8": 1, "I32": 4, "I64": 8}
        end = 0
        for name, info in header.items():
            begin, stop = info["data_offsets"]
            self.assertEqual(begin % names[info["dtype"]], 0, name)
            self.assertEqual(stop - begin,
                             names[info["dtype"]] * math.prod(info["shape"]), name)
            end = max(end, stop)
        self.assertEqual(8 + n + end, len(raw))
        # F32 little-endian bytes as written by hand
        begin = header["f32"]["data_offsets"][0]
        first = struct.unpack("<f", raw[8 + n + begin + 16:8 + n + begin + 20])[0]
        self.assertEqual(first, float(tensors["f32"][0, 4]))

    def test_rejects_unsupported(self):
        with tempfile.TemporaryDirectory() as tmp:
            with self.assertRaises(ValueError):
                save_file({"x": torch.zeros(2, dtype=torch.float64)}, os.path.join(tmp, "x"))
            with self.assertRaises(ValueError):
                save_file({"x": torch.zeros(2)}, os.path.join(tmp, "x"), metadata={"a": 1})


# --------------------------------------------------------------------------
# The sparsifier and the weight quantizers
# --------------------------------------------------------------------------

class SparsifierTest(unittest.TestCase):
    def setUp(self):
        self.x = torch.randn(6, 40, generator=torch.Generator().manual_seed(1))

    def test_topk_keeps_exactly_k(self):
        for ratio, k in ((0.5, 20), (0.3, 12), (0.01, 1), (0.999, 39)):
            y = sparsify(self.x, ratio)
            self.assertTrue(torch.all((y != 0).sum(-1) == k), ratio)
            kept_min = torch.where(y != 0, y.abs(), torch.full_like(y, math.inf)).amin(-1)
            dropped_max = torch.where(y == 0, self.x.abs(), torch.zeros_like(y)).amax(-1)
            self.assertTrue(torch.all(kept_min > dropped_max))

    def test_ties_are_kept(self):
        x = torch.tensor([[3.0, -2.0, 2.0, 1.0, 0.5, 2.0]])
        self.assertEqual(sparsify(x, 0.5).tolist(), [[3.0, -2.0, 2.0, 0.0, 0.0, 2.0]])

    def test_dense_is_identity(self):
        self.assertIs(sparsify(self.x, 1.0), self.x)

    def test_int8_values(self):
        y = sparsify(self.x, 0.5, activation_bits=8)
        gamma = self.x.abs().amax(-1, keepdim=True)
        s = torch.tensor(127.0) / (gamma + 1e-5)
        xq = y * s
        self.assertTrue(torch.allclose(xq, xq.round(), atol=1e-4))
        self.assertTrue(torch.all(xq.round().abs() <= 127))
        expected = (self.x * s).round().clamp(-128, 127) * (sparsify(self.x, 0.5) != 0) / s
        self.assertTrue(torch.equal(y, expected))
        self.assertTrue(torch.all((y != 0).sum(-1) <= 20))
        # ratio 1 with int8: quantization only
        d = sparsify(self.x, 1.0, activation_bits=8)
        self.assertTrue(torch.equal(d, (self.x * s).round().clamp(-128, 127) / s))

    def test_round_half_even(self):
        # Build inputs whose x * s is exactly k + 0.5 in float32.
        gamma = torch.tensor(100.0)
        s = torch.tensor(127.0) / (gamma + 1e-5)
        targets = [0.5, 1.5, 2.5, -0.5, -2.5, 3.5]
        xs = [gamma]
        for t in targets:
            x = torch.tensor(t) / s
            for _ in range(64):
                p = x * s
                if float(p) == t:
                    break
                x = torch.nextafter(x, torch.tensor(math.inf if float(p) < t else -math.inf))
            self.assertEqual(float(x * s), t)
            xs.append(x)
        x = torch.stack(xs)[None]
        y = sparsify(x, 1.0, activation_bits=8)
        self.assertEqual((y * s).round().tolist()[0][1:], [0.0, 2.0, 2.0, -0.0, -2.0, 4.0])

    def test_rescale(self):
        n_x = self.x.norm(dim=-1)
        l2 = sparsify(self.x, 0.5, rescale="l2")
        self.assertTrue(torch.allclose(l2.norm(dim=-1), torch.ones(6), atol=1e-5))
        keep = sparsify(self.x, 0.5, rescale="l2_preserve")
        self.assertTrue(torch.allclose(keep.norm(dim=-1), n_x, rtol=1e-5))
        self.assertTrue(torch.equal(sparsify(self.x, 1.0, rescale="l2"), self.x))

    def test_straight_through_gradient(self):
        for bits in (0, 8):
            x = self.x.clone().requires_grad_(True)
            y = sparsify(x, 0.25, activation_bits=bits)
            y.sum().backward()
            self.assertTrue(torch.equal(x.grad, torch.ones_like(x)))
        for mode in ("ternary", "int8"):
            w = self.x.clone().requires_grad_(True)
            quantize_weight(w, mode).sum().backward()
            self.assertTrue(torch.equal(w.grad, torch.ones_like(w)))

    def test_weight_quant(self):
        w = self.x * 0.1
        beta = w.abs().mean()
        t = quantize_weight(w, "ternary")
        levels = set((t / beta).round().unique().tolist())
        self.assertTrue(levels <= {-1.0, 0.0, 1.0} and len(levels) == 3)
        q = quantize_weight(w, "int8")
        alpha = w.abs().amax(dim=1, keepdim=True) + 1e-5
        codes = q * 127 / alpha
        self.assertTrue(torch.allclose(codes, codes.round(), atol=1e-3))
        self.assertTrue(torch.all(codes.round().abs() <= 127))
        self.assertTrue(torch.allclose(q, w, atol=float(alpha.max()) / 254 + 1e-6))


# --------------------------------------------------------------------------
# Model structure, gradients, and an independent per-token reference
# --------------------------------------------------------------------------

TENSOR_PATTERNS = [
    r"model\.embed_tokens\.weight",
    r"model\.layers\.\d+\.input_layernorm\.weight",
    r"model\.layers\.\d+\.self_attn\.[qkvo]_proj\.(weight|bias)",
    r"model\.layers\.\d+\.self_attn\.attn_sub_norm\.weight",
    r"model\.layers\.\d+\.post_attention_layernorm\.weight",
    r"model\.layers\.\d+\.mlp\.(gate|up|down)_proj\.(weight|bias)",
    r"model\.layers\.\d+\.mlp\.ffn_sub_norm\.weight",
    r"model\.norm\.weight",
    r"lm_head\.weight",
]

FULL = dict(SMALL, num_key_value_heads=2, head_dim=12, use_sub_norms=True, use_bias=True,
            topk_ratio=0.5, topk_ratio_attn=0.25, topk_ratio_mlp_out=0.3, activation_bits=8)


class ModelTest(unittest.TestCase):
    def test_state_dict_names(self):
        model = QSparseForCausalLM(QSparseConfig(**FULL))
        names = list(model.state_dict())
        for name in names:
            self.assertTrue(any(re.fullmatch(p, name) for p in TENSOR_PATTERNS), name)
        self.assertEqual(len(names), 1 + 2 * 18 + 1 + 1)
        shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        self.assertEqual(shapes["model.layers.0.self_attn.q_proj.weight"], (48, 32))
        self.assertEqual(shapes["model.layers.0.self_attn.k_proj.weight"], (24, 32))
        self.assertEqual(shapes["model.layers.0.self_attn.o_proj.weight"], (32, 48))
        self.assertEqual(shapes["model.layers.0.self_attn.attn_sub_norm.weight"], (48,))
        self.assertEqual(shapes["model.layers.0.mlp.ffn_sub_norm.weight"], (48,))
        tied = QSparseForCausalLM(QSparseConfig(**SMALL, tie_word_embeddings=True))
        self.assertNotIn("lm_head.weight", tied.state_dict())
        self.assertNotIn("model.layers.0.mlp.up_proj.bias", tied.state_dict())

    def test_config_json(self):
        config = QSparseConfig(**FULL)
        data = json.loads(config.to_json())
        self.assertEqual(data["model_type"], "qsparse")
        self.assertNotIn("use_sub_norms", data)
        self.assertNotIn("bos_token_id", data)
        self.assertEqual(data["topk_ratio_attn_out"], 0.5)
        self.assertEqual(data["topk_ratio_attn"], 0.25)
        again = QSparseConfig.from_json(config.to_json(include_training_keys=True))
        self.assertEqual(again, config)
        defaults = QSparseConfig.from_json(json.dumps(dict(SMALL, model_type="llama",
                                                           hidden_act="silu")))
        self.assertEqual((defaults.num_key_value_heads, defaults.head_dim,
                          defaults.topk_ratio_mlp, defaults.topk_rescale), (4, 8, 1.0, "none"))

    def assert_all_grads(self, model, loss):
        loss.backward()
        for name, p in model.named_parameters():
            with self.subTest(param=name):
                self.assertIsNotNone(p.grad)
                self.assertTrue(torch.isfinite(p.grad).all())
                self.assertGreater(float(p.grad.abs().sum()), 0.0)

    def test_ste_gradients_reach_every_weight(self):
        variants = [
            dict(FULL, weight_quant="ternary", topk_rescale="none"),
            dict(FULL, weight_quant="int8", topk_rescale="l2_preserve", use_bias=False),
            dict(SMALL, topk_ratio=0.5, topk_rescale="l2", tie_word_embeddings=True),
            dict(SMALL, topk_ratio=0.5, activation_bits=8, weight_quant="ternary",
                 tie_word_embeddings=True, use_sub_norms=True),
        ]
        ids = torch.randint(0, SMALL["vocab_size"], (2, 10),
                            generator=torch.Generator().manual_seed(3))
        for i, kwargs in enumerate(variants):
            with self.subTest(variant=i):
                model = QSparseForCausalLM(QSparseConfig(**kwargs)).train()
                randomize(model, seed=i)
                logits = model(ids)
                self.assertEqual(tuple(logits.shape), (2, 10, SMALL["vocab_size"]))
                loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]),
                                       ids[:, 1:].reshape(-1))
                self.assert_all_grads(model, loss)

    def test_seed_gradients(self):
        ids = torch.randint(0, 50, (2, 9), generator=torch.Generator().manual_seed(4))
        for quantized in (False, True):
            with self.subTest(quantized=quantized):
                model = QSparseModel(50, 32, 4, 2, 48, 0.5, quantized).train()
                randomize(model, seed=7)
                logits = model(ids)
                loss = F.cross_entropy(logits.reshape(-1, 50), ids.reshape(-1))
                self.assert_all_grads(model, loss)

    def test_causal(self):
        model = QSparseForCausalLM(QSparseConfig(**FULL)).eval()
        randomize(model, seed=5)
        ids = torch.randint(0, 50, (1, 12), generator=torch.Generator().manual_seed(6))
        with torch.no_grad():
            full = model(ids)
            prefix = model(ids[:, :7])
        self.assertTrue(torch.allclose(full[:, :7], prefix, atol=1e-5))

    def test_matches_per_token_reference(self):
        for i, kwargs in enumerate([dict(FULL, weight_quant="ternary", topk_rescale="l2"),
                                    dict(FULL, weight_quant="int8",
                                         topk_rescale="l2_preserve", activation_bits=0),
                                    dict(SMALL, topk_ratio=0.5, tie_word_embeddings=True)]):
            with self.subTest(variant=i):
                config = QSparseConfig(**kwargs)
                model = QSparseForCausalLM(config).eval()
                randomize(model, seed=11 + i)
                ids = torch.randint(0, 50, (1, 9), generator=torch.Generator().manual_seed(i))
                with torch.no_grad():
                    got = model(ids)[0].double().numpy()
                sd = {k: v.double().numpy() for k, v in model.state_dict().items()}
                want = reference_qsparse(config, sd, ids[0].tolist())
                np.testing.assert_allclose(got, want, atol=2e-4, rtol=0)

    def test_seed_matches_reference(self):
        for quantized in (False, True):
            with self.subTest(quantized=quantized):
                model = QSparseModel(50, 32, 4, 2, 48, 0.5, quantized).eval()
                randomize(model, seed=21)
                ids = torch.randint(0, 50, (1, 9), generator=torch.Generator().manual_seed(2))
                with torch.no_grad():
                    got = model(ids)[0].double().numpy()
                sd = {k: v.double().numpy() for k, v in model.state_dict().items()}
                want = reference_seed(sd, 4, 0.5, quantized, ids[0].tolist())
                np.testing.assert_allclose(got, want, atol=2e-4, rtol=0)

    def test_save_and_load(self):
        model = QSparseForCausalLM(QSparseConfig(**FULL, tie_word_embeddings=True)).eval()
        randomize(model, seed=8)
        ids = torch.randint(0, 50, (1, 6), generator=torch.Generator().manual_seed(8))
        with tempfile.TemporaryDirectory() as tmp:
            model.save_pretrained(tmp)
            with open(os.path.join(tmp, "config.json")) as f:
                self.assertNotIn("use_bias", json.load(f))
            loaded = QSparseForCausalLM.from_pretrained(tmp).eval()
            model.save_pretrained(tmp, dtype=torch.bfloat16)
            self.assertEqual(load_file(os.path.join(tmp, "model.safetensors"))
                             ["model.norm.weight"].dtype, torch.bfloat16)
        self.assertTrue(loaded.config.use_bias and loaded.config.use_sub_norms)
        with torch.no_grad():
            self.assertTrue(torch.equal(model(ids), loaded(ids)))


# ---- independent per-token float64 references of docs/model-format.md -----

def _rms(x, w, eps):
    return x / np.sqrt(np.mean(x * x) + eps) * w


def _ref_s(x, r, bits, rescale):
    n = x.shape[0]
    mask = np.ones(n)
    if r < 1:
        k = min(max(int(r * n), 1), n)
        t = np.sort(np.abs(x))[::-1][k - 1]
        mask = (np.abs(x) >= t).astype(np.float64)
    if bits == 8:
        s = 127.0 / (np.abs(x).max() + 1e-5)
        y = np.clip(np.rint(x * s), -128, 127) * mask / s
    else:
        y = x * mask
    if r < 1 and rescale == "l2":
        y = y / (np.linalg.norm(y) + 1e-6)
    elif r < 1 and rescale == "l2_preserve":
        y = y * np.linalg.norm(x) / (np.linalg.norm(y) + 1e-6)
    return y


def _ref_w(w, mode):
    if mode == "ternary":
        beta = np.abs(w).mean()
        return np.clip(np.rint(w / (beta + 1e-5)), -1, 1) * beta
    if mode == "int8":
        alpha = np.abs(w).max(axis=1, keepdims=True) + 1e-5
        return np.clip(np.rint(w * 127 / alpha), -127, 127) * alpha / 127
    return w


def reference_qsparse(c, sd, tokens):
    H, Hkv, hd = c.num_attention_heads, c.num_key_value_heads, c.head_dim

    def proj(prefix, x):
        y = _ref_w(sd[prefix + ".weight"], c.weight_quant) @ x
        return y + sd[prefix + ".bias"] if prefix + ".bias" in sd else y

    def rope(v, pos):
        out = v.copy()
        for i in range(hd // 2):
            angle = pos * c.rope_theta ** (-2.0 * i / hd)
            a, b = v[i], v[i + hd // 2]
            out[i] = a * math.cos(angle) - b * math.sin(angle)
            out[i + hd // 2] = b * math.cos(angle) + a * math.sin(angle)
        return out

    xs = [sd["model.embed_tokens.weight"][t].copy() for t in tokens]
    for layer in range(c.num_hidden_layers):
        p = f"model.layers.{layer}."
        qs, ks, vs = [], [], []
        for pos, x in enumerate(xs):
            a = _ref_s(_rms(x, sd[p + "input_layernorm.weight"], c.rms_norm_eps),
                       c.topk_ratio_attn, c.activation_bits, c.topk_rescale)
            q, k, v = (proj(p + "self_attn.q_proj", a), proj(p + "self_attn.k_proj", a),
                       proj(p + "self_attn.v_proj", a))
            qs.append([rope(q[h * hd:(h + 1) * hd], pos) for h in range(H)])
            ks.append([rope(k[h * hd:(h + 1) * hd], pos) for h in range(Hkv)])
            vs.append([v[h * hd:(h + 1) * hd] for h in range(Hkv)])
        out = []
        for pos, x in enumerate(xs):
            heads = []
            for h in range(H):
                g = h // (H // Hkv)
                scores = np.array([qs[pos][h] @ ks[j][g] / math.sqrt(hd)
                                   for j in range(pos + 1)])
                w = np.exp(scores - scores.max())
                w /= w.sum()
                heads.append(sum(w[j] * vs[j][g] for j in range(pos + 1)))
            o = np.concatenate(heads)
            if p + "self_attn.attn_sub_norm.weight" in sd:
                o = _rms(o, sd[p + "self_attn.attn_sub_norm.weight"], c.rms_norm_eps)
            x = x + proj(p + "self_attn.o_proj", _ref_s(o, c.topk_ratio_attn_out,
                                                        c.activation_bits, c.topk_rescale))
            m = _ref_s(_rms(x, sd[p + "post_attention_layernorm.weight"], c.rms_norm_eps),
                       c.topk_ratio_mlp, c.activation_bits, c.topk_rescale)
            h = proj(p + "mlp.up_proj", m) * np.maximum(proj(p + "mlp.gate_proj", m), 0) ** 2
            if p + "mlp.ffn_sub_norm.weight" in sd:
                h = _rms(h, sd[p + "mlp.ffn_sub_norm.weight"], c.rms_norm_eps)
            x = x + proj(p + "mlp.down_proj", _ref_s(h, c.topk_ratio_mlp_out,
                                                     c.activation_bits, c.topk_rescale))
            out.append(x)
        xs = out
    lm = sd.get("lm_head.weight", sd["model.embed_tokens.weight"])
    return np.stack([lm @ _rms(x, sd["model.norm.weight"], c.rms_norm_eps) for x in xs])


def reference_seed(sd, nhead, k_ratio, quantized, tokens):
    def s(x):
        n = x.shape[0]
        k = int(k_ratio * n)
        if quantized:
            xq = np.rint(np.clip(x / (np.abs(x).max() + 1e-6), -128, 127))
            t = np.sort(np.abs(xq))[::-1][k - 1]
            return xq * (np.abs(xq) >= t)
        t = np.sort(np.abs(x))[::-1][k - 1]
        kept = x * (np.abs(x) >= t)
        return kept / (np.linalg.norm(kept) + 1e-6)

    def ln(x, p):
        mu = x.mean()
        return (x - mu) / np.sqrt(((x - mu) ** 2).mean() + 1e-5) * sd[p + ".weight"] + sd[p + ".bias"]

    xs = [sd["embedding.weight"][t].copy() for t in tokens]
    layer = 0
    while f"decoder_layers.{layer}.norm1.weight" in sd:
        p = f"decoder_layers.{layer}."
        xs = [s(x) for x in xs]
        d = xs[0].shape[0]
        hd = d // nhead
        w_in, b_in = sd[p + "self_attn.in_proj_weight"], sd[p + "self_attn.in_proj_bias"]
        qkv = [w_in @ x + b_in for x in xs]
        out = []
        for pos, x in enumerate(xs):
            heads = []
            for h in range(nhead):
                sl = slice(h * hd, (h + 1) * hd)
                q = qkv[pos][:d][sl]
                scores = np.array([q @ qkv[j][d:2 * d][sl] / math.sqrt(hd)
                                   for j in range(pos + 1)])
                w = np.exp(scores - scores.max())
                w /= w.sum()
                heads.append(sum(w[j] * qkv[j][2 * d:][sl] for j in range(pos + 1)))
            attn = sd[p + "self_attn.out_proj.weight"] @ np.concatenate(heads) \
                + sd[p + "self_attn.out_proj.bias"]
            x = ln(x + attn, p + "norm1")
            up = sd[p + "feed_forward.w_up.weight"] @ x + sd[p + "feed_forward.w_up.bias"]
            gate = sd[p + "feed_forward.w_gate.weight"] @ x + sd[p + "feed_forward.w_gate.bias"]
            ff = sd[p + "linear2.weight"] @ (up * np.maximum(gate, 0) ** 2) + sd[p + "linear2.bias"]
            out.append(ln(x + ff, p + "norm2"))
        xs = out
        layer += 1
    return np.stack([sd["fc.weight"] @ x + sd["fc.bias"] for x in xs])


if __name__ == "__main__":
    unittest.main()
