"""Checks of training/export_onnx.py on a tiny random model (a few seconds).

The exported graphs themselves are run by ONNX Runtime in the bench's onnx profile (Java); here
the modules that are traced are held to the reference QSparseForCausalLM, and the export is run.

    /usr/bin/python3 -m unittest training/test_export_onnx.py
"""

import json
import os
import sys
import tempfile
import unittest

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import export_onnx  # noqa: E402
from qsparse.model import QSparseConfig, QSparseForCausalLM  # noqa: E402

SMALL = dict(vocab_size=50, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
             num_attention_heads=4, num_key_value_heads=2, head_dim=8, max_position_embeddings=64)


def tiny_model(directory, **overrides):
    torch.manual_seed(3)
    model = QSparseForCausalLM(QSparseConfig(**{**SMALL, **overrides}))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape))
            else:
                p.copy_(0.3 * torch.randn(p.shape))
    model.save_pretrained(directory)
    return model


class ExportOnnxTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = os.path.join(self.tmp.name, "model")
        self.reference = tiny_model(self.dir).eval()

    def tearDown(self):
        self.tmp.cleanup()

    def test_decoder_with_kv_cache_matches_the_reference_forward(self):
        model = export_onnx.load_dense(self.dir, dense=False)
        decoder = export_onnx.OnnxDecoder(model)
        tokens = torch.tensor([[5, 17, 3, 42, 8, 1]])
        with torch.no_grad():
            expected = self.reference(tokens)[0]  # [T, V]
            c = model.config
            past = [torch.zeros(1, c.num_key_value_heads, 0, c.head_dim) for _ in range(2 * c.num_hidden_layers)]
            # a prefill of 3 tokens, then one token at a time
            out = decoder(tokens[:, :3], torch.arange(3).view(1, 3), *past)
            torch.testing.assert_close(out[0][0], expected[2], atol=1e-5, rtol=0)
            past = list(out[1:])
            for i in range(3, tokens.shape[1]):
                out = decoder(tokens[:, i:i + 1], torch.tensor([[i]]), *past)
                torch.testing.assert_close(out[0][0], expected[i], atol=1e-5, rtol=0)
                past = list(out[1:])
            self.assertEqual(past[0].shape[2], tokens.shape[1])

    def test_embed_pools_the_unpadded_positions(self):
        model = export_onnx.load_dense(self.dir, dense=False)
        embed = export_onnx.OnnxEmbed(model)
        a, b = [4, 9, 2], [7, 1, 3, 30, 11]
        ids = torch.tensor([a + [0, 0], b])
        mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
        with torch.no_grad():
            got = embed(ids, mask)
            for row, seq in enumerate((a, b)):
                want = self.reference.hidden_states(torch.tensor([seq]))[0].mean(dim=0)
                torch.testing.assert_close(got[row], want, atol=1e-5, rtol=0)

    def test_export_writes_both_graphs_and_their_description(self):
        out = os.path.join(self.tmp.name, "onnx")
        info = export_onnx.export(self.dir, out)
        for name in ("decoder.onnx", "embed.onnx"):
            with open(os.path.join(out, name), "rb") as f:
                data = f.read()
            self.assertGreater(len(data), 4 * 50 * 32)  # at least the embedding table
            for io_name in (b"input_ids", b"logits" if name == "decoder.onnx" else b"embeddings"):
                self.assertIn(io_name, data)
        with open(os.path.join(out, "onnx.json")) as f:
            self.assertEqual(json.load(f)["past_names"], info["past_names"])
        self.assertEqual(info["past_names"][:2], ["past_key.0", "past_value.0"])

    def test_int8_graphs_follow_the_f32_ones_and_export(self):
        model = export_onnx.load_dense(self.dir, dense=False)
        tokens = torch.tensor([[5, 17, 3, 42, 8, 1]])
        c = model.config
        past = [torch.zeros(1, c.num_key_value_heads, 0, c.head_dim) for _ in range(2 * c.num_hidden_layers)]
        with torch.no_grad():
            f32 = export_onnx.OnnxDecoder(model)(tokens, torch.arange(6).view(1, 6), *past)[0]
            q = export_onnx.OnnxDecoder(model, "int8")(tokens, torch.arange(6).view(1, 6), *past)[0]
        # 8-bit weights and activations: close to the float logits, not equal
        self.assertLess((q - f32).abs().max().item(), 0.1 * f32.abs().max().item())
        self.assertGreater((q - f32).abs().max().item(), 0)
        out = os.path.join(self.tmp.name, "onnx8")
        info = export_onnx.export(self.dir, out, int8=True)
        self.assertEqual(info["graphs"]["int8"]["decoder"], "decoder-int8.onnx")
        with open(os.path.join(out, "decoder-int8.onnx"), "rb") as f:
            data = f.read()
        self.assertIn(b"MatMulInteger", data)
        self.assertIn(b"DynamicQuantizeLinear", data)

    def test_a_sparse_config_is_refused_unless_dense_is_asked(self):
        sparse = os.path.join(self.tmp.name, "sparse")
        tiny_model(sparse, topk_ratio=0.5, activation_bits=8)
        with self.assertRaises(SystemExit):
            export_onnx.load_dense(sparse, dense=False)
        model = export_onnx.load_dense(sparse, dense=True)
        self.assertEqual(model.config.activation_bits, 0)
        self.assertEqual(model.config.topk_ratio_mlp_out, 1.0)


if __name__ == "__main__":
    unittest.main()
