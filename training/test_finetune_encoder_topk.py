"""Tests of training/finetune_encoder_topk.py on a tiny random BERT (seconds, CPU).

Run: /usr/bin/python3 -m pytest training/test_finetune_encoder_topk.py
 (or: /usr/bin/python3 -m unittest training/test_finetune_encoder_topk.py)
"""

import json
import math
import os
import sys
import tempfile
import unittest

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import finetune_encoder_topk as ft  # noqa: E402
from qsparse.safetensors_io import save_file  # noqa: E402

CFG = {"model_type": "bert", "hidden_size": 16, "num_attention_heads": 2, "intermediate_size": 32,
       "num_hidden_layers": 2, "max_position_embeddings": 64, "type_vocab_size": 2, "vocab_size": 120,
       "layer_norm_eps": 1e-12, "hidden_act": "gelu"}


def tiny_params(seed=0):
    g = torch.Generator().manual_seed(seed)
    h, f = CFG["hidden_size"], CFG["intermediate_size"]

    def r(*shape, scale=0.3):
        return torch.randn(*shape, generator=g) * scale

    p = {"embeddings.word_embeddings.weight": r(CFG["vocab_size"], h, scale=1.0),
         "embeddings.position_embeddings.weight": r(CFG["max_position_embeddings"], h),
         "embeddings.token_type_embeddings.weight": r(2, h),
         "embeddings.LayerNorm.weight": 1 + r(h, scale=0.1), "embeddings.LayerNorm.bias": r(h, scale=0.1)}
    for layer in range(CFG["num_hidden_layers"]):
        pre = f"encoder.layer.{layer}."
        for name, (o, i) in {"attention.self.query": (h, h), "attention.self.key": (h, h),
                             "attention.self.value": (h, h), "attention.output.dense": (h, h),
                             "intermediate.dense": (f, h), "output.dense": (h, f)}.items():
            p[pre + name + ".weight"] = r(o, i)
            p[pre + name + ".bias"] = r(o, scale=0.1)
        for ln in ("attention.output.LayerNorm", "output.LayerNorm"):
            p[pre + ln + ".weight"] = 1 + r(h, scale=0.1)
            p[pre + ln + ".bias"] = r(h, scale=0.1)
    return p


def reference_topk(x, ratio):
    """The Java Sparsifier's rule in numpy, per row: K = clamp(int(ratio * n), 1, n), keep |x| >= K-th largest |x|."""
    x = np.asarray(x, dtype=np.float32)
    if ratio >= 1:
        return x.copy(), np.zeros(x.shape[0])
    n = x.shape[1]
    k = max(1, min(n, int(ratio * n)))
    mag = np.abs(x)
    threshold = -np.partition(-mag, k - 1, axis=1)[:, k - 1: k]
    keep = mag >= threshold
    return np.where(keep, x, 0), (~keep).sum(1)


def reference_encode(p, texts, ratios):
    """Float64 numpy encoder, one text at a time (as bench/minilm_topk_criteria.py computes it)."""
    w = {n: t.double().numpy() for n, t in p.items()}
    h, heads = CFG["hidden_size"], CFG["num_attention_heads"]
    hd = h // heads
    erf = np.vectorize(math.erf)

    def ln(x, g, b):
        m = x.mean(-1, keepdims=True)
        v = ((x - m) ** 2).mean(-1, keepdims=True)
        return (x - m) / np.sqrt(v + 1e-12) * g + b

    def lin(x, name):
        return x @ w[name + ".weight"].T + w[name + ".bias"]

    embs, zeros = [], []
    for t in texts:
        x = w["embeddings.word_embeddings.weight"][t] + w["embeddings.position_embeddings.weight"][:len(t)] \
            + w["embeddings.token_type_embeddings.weight"][0]
        x = ln(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        dropped, width = np.zeros(len(t)), 0

        def sp(v, ratio):
            nonlocal dropped, width
            out, d = reference_topk(v, ratio)
            dropped, width = dropped + d, width + v.shape[1]
            return out.astype(np.float64)

        for layer, r in enumerate(ratios):
            pre = f"encoder.layer.{layer}."
            xs = sp(x, r[0])
            q, k, v = (lin(xs, pre + "attention.self." + n).reshape(len(t), heads, hd).transpose(1, 0, 2)
                       for n in ("query", "key", "value"))
            s = q @ k.transpose(0, 2, 1) / np.sqrt(hd)
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            ctx = (s @ v).transpose(1, 0, 2).reshape(len(t), h)
            x = ln(lin(sp(ctx, r[1]), pre + "attention.output.dense") + x,
                   w[pre + "attention.output.LayerNorm.weight"], w[pre + "attention.output.LayerNorm.bias"])
            hh = lin(sp(x, r[2]), pre + "intermediate.dense")
            hh = 0.5 * hh * (1 + erf(hh / np.sqrt(2)))
            x = ln(lin(sp(hh, r[3]), pre + "output.dense") + x,
                   w[pre + "output.LayerNorm.weight"], w[pre + "output.LayerNorm.bias"])
        e = x.mean(0)
        embs.append(e / np.linalg.norm(e))
        zeros.append(dropped.sum() / (width * len(t)))
    return np.stack(embs), np.array(zeros)


TEXTS = [[101, 5, 17, 33, 102], [101, 7, 102], [101, 9, 9, 44, 61, 70, 3, 102]]


class TopKRule(unittest.TestCase):
    def test_matches_reference_rule_with_ties(self):
        rng = np.random.default_rng(1)
        x = rng.standard_normal((20, 37)).astype(np.float32)
        x[0, :10] = 0.5  # a run of ties
        x[1, :] = 0.25 * np.sign(rng.standard_normal(37))  # every magnitude tied
        x[2, :30] = 0  # K-th largest is zero
        for ratio in (0.05, 0.3, 0.5, 0.7, 0.99, 1.0):
            want, want_dropped = reference_topk(x, ratio)
            got, keep = ft.sparsify(torch.from_numpy(x), ratio)
            np.testing.assert_array_equal(got.numpy(), want)
            dropped = np.zeros(20) if keep is None else (~keep).sum(1).numpy()
            np.testing.assert_array_equal(dropped, want_dropped)
        kept = (ft.sparsify(torch.from_numpy(x), 0.1)[0].numpy()[1] != 0).sum()
        self.assertEqual(kept, 37)  # ties at the threshold are all kept

    def test_k_is_floor_of_ratio_times_n(self):
        x = torch.arange(1, 101, dtype=torch.float32).unsqueeze(0)
        for ratio, k in ((0.7, 70), (0.705, 70), (0.001, 1), (0.999, 99)):
            self.assertEqual(int(ft.topk_keep(x, ratio).sum()), k)


class Encoder(unittest.TestCase):
    def test_forward_matches_numpy_reference(self):
        p = tiny_params()
        ratios = [[0.7, 0.5, 0.9, 0.6], [1.0, 0.8, 0.4, 0.7]]
        ids, mask = ft.pad(TEXTS)
        stats = []
        e = ft.encode(p, CFG, ids, mask, ratios, ste=False, stats=stats)
        want, want_zeros = reference_encode(p, TEXTS, ratios)
        np.testing.assert_allclose(e.double().numpy(), want, atol=2e-5)
        dropped, width = stats[0]
        got_zeros = (dropped / (mask.sum(1).float() * width)).numpy()
        np.testing.assert_allclose(got_zeros, want_zeros, atol=1e-6)
        embs, zeros = ft.embed_all(p, CFG, TEXTS, ratios, batch_size=2)  # other padding, same result
        np.testing.assert_allclose(embs, want, atol=2e-5)
        np.testing.assert_allclose(zeros, want_zeros, atol=1e-6)
        dense, zd = ft.embed_all(p, CFG, TEXTS, None)
        np.testing.assert_allclose(dense, reference_encode(p, TEXTS, [[1.0] * 4] * 2)[0], atol=2e-5)
        self.assertEqual(zd.max(), 0)

    def test_straight_through_gradient_is_dense(self):
        x = torch.randn(4, 50, requires_grad=True)
        w = torch.randn(4, 50)
        y, keep = ft.sparsify(x, 0.3, ste=True)
        self.assertTrue(torch.equal(y, x.detach() * keep))  # forward is sparse
        (y * w).sum().backward()
        self.assertTrue(torch.equal(x.grad, w))  # backward passes through every input
        x.grad = None
        y, keep = ft.sparsify(x, 0.3, ste=False)
        (y * w).sum().backward()
        self.assertTrue(torch.equal(x.grad, w * keep))

    def test_gradient_reaches_every_trainable_tensor(self):
        p = {n: t.clone().requires_grad_(True) for n, t in tiny_params().items()}
        ids, mask = ft.pad(TEXTS)
        teacher = ft.encode({n: t.detach() for n, t in p.items()}, CFG, ids, mask, None)
        e = ft.encode(p, CFG, ids, mask, ft.uniform_ratios(CFG, 0.5), ste=True)
        loss = (1 - (e * teacher).sum(-1)).mean()
        self.assertGreater(float(loss), 0)
        loss.backward()
        for name, t in p.items():
            if name == "embeddings.token_type_embeddings.weight":
                self.assertGreater(float(t.grad[0].abs().sum()), 0, name)
                continue
            self.assertIsNotNone(t.grad, name)
            self.assertGreater(float(t.grad.abs().sum()), 0, name)


class Directory(unittest.TestCase):
    def test_save_load_round_trip_and_ratios(self):
        p = tiny_params()
        with tempfile.TemporaryDirectory() as d:
            src, out = os.path.join(d, "src"), os.path.join(d, "out")
            os.makedirs(os.path.join(src, "1_Pooling"))
            with open(os.path.join(src, "config.json"), "w") as f:
                json.dump(dict(CFG, topk_ratio=0.9), f)
            with open(os.path.join(src, "1_Pooling", "config.json"), "w") as f:
                f.write("{}")
            save_file(p, os.path.join(src, "model.safetensors"))
            self.assertEqual(ft.ratios_from_config(ft.load_config(src)), ft.uniform_ratios(CFG, 0.9))
            changed = {n: t + 1 for n, t in ft.load_params(src).items()}
            ratios = [[0.7, 0.6, 0.8, 0.9], [0.5, 0.7, 0.7, 1.0]]
            ft.save_dir(src, out, changed, ratios)
            back = ft.load_params(out)
            self.assertEqual(sorted(back), sorted(p))
            for n in p:
                self.assertEqual(tuple(back[n].shape), tuple(p[n].shape), n)
                self.assertEqual(back[n].dtype, torch.float32)
                self.assertTrue(torch.equal(back[n], changed[n]), n)
            cfg = ft.load_config(out)
            self.assertNotIn("topk_ratio", cfg)
            self.assertEqual(ft.ratios_from_config(cfg), ratios)
            self.assertTrue(os.path.exists(os.path.join(out, "1_Pooling", "config.json")))
            ft.save_dir(src, out, changed, ft.uniform_ratios(CFG, 0.7))
            cfg = ft.load_config(out)
            self.assertEqual(cfg["topk_ratio"], 0.7)
            self.assertNotIn("topk_ratio_layers", cfg)
            ft.save_dir(src, out, changed, None)
            self.assertFalse(any(k.startswith("topk") for k in ft.load_config(out)))


if __name__ == "__main__":
    unittest.main()
