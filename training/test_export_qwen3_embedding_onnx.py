"""Checks of training/export_qwen3_embedding_onnx.py on tiny random Qwen3-Embedding directories.

The exported graph itself is run by ONNX Runtime in the bench's onnx profile (Java,
OrtQwen3EmbedPeerTest: its embeddings against the Java runtime's); onnxruntime is not installable
in Debian's Python here (the --decoder graph: OrtQwen3DecodePeerTest, its logits against ours). So
this holds the traced modules to the independent reference (qsparse/qwen3_embedding.py, one text per
pass): the embedder on a right-padded batch, the decoder on a prefill then one token per step through
its KV cache (logits = the reference's final hidden states times the tied or untied lm head); and runs
both exports.

    /usr/bin/python3 -m unittest training/test_export_qwen3_embedding_onnx.py
"""

import json
import os
import sys
import tempfile
import unittest

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import export_qwen3_embedding_onnx as exporter  # noqa: E402
from qsparse.qwen3_embedding import Qwen3Embedder  # noqa: E402
from qsparse.safetensors_io import save_file  # noqa: E402


def write_model(directory, heads=4, kv_heads=2, head_dim=12, hidden=16, layers=2, prefix="model.", bitlinear=False,
                seed=5, untied=False):
    """A Qwen3-Embedding directory as published: bf16 weights, Qwen3's config keys (head_dim != hidden / heads)."""
    os.makedirs(directory, exist_ok=True)
    g = torch.Generator().manual_seed(seed)
    vocab, ffn = 60, 24
    t = {"embed_tokens.weight": torch.randn(vocab, hidden, generator=g),
         "norm.weight": 1 + 0.1 * torch.randn(hidden, generator=g)}
    shapes = {"self_attn.q_proj": (heads * head_dim, hidden), "self_attn.k_proj": (kv_heads * head_dim, hidden),
              "self_attn.v_proj": (kv_heads * head_dim, hidden), "self_attn.o_proj": (hidden, heads * head_dim),
              "mlp.gate_proj": (ffn, hidden), "mlp.up_proj": (ffn, hidden), "mlp.down_proj": (hidden, ffn)}
    for i in range(layers):
        p = f"layers.{i}."
        for name, shape in shapes.items():
            t[p + name + ".weight"] = torch.randn(*shape, generator=g) * 0.3
            if bitlinear:
                t[p + name + ".norm.weight"] = torch.ones(shape[1])
        for name in ("input_layernorm", "post_attention_layernorm"):
            t[p + name + ".weight"] = 1 + 0.1 * torch.randn(hidden, generator=g)
        t[p + "self_attn.q_norm.weight"] = 1 + 0.1 * torch.randn(head_dim, generator=g)
        t[p + "self_attn.k_norm.weight"] = 1 + 0.1 * torch.randn(head_dim, generator=g)
    tensors = {prefix + k: v.to(torch.bfloat16) for k, v in t.items()}
    if untied:
        tensors["lm_head.weight"] = torch.randn(vocab, hidden, generator=g).to(torch.bfloat16)
    save_file(tensors, os.path.join(directory, "model.safetensors"))
    config = {"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "vocab_size": vocab,
              "hidden_size": hidden, "intermediate_size": ffn, "num_hidden_layers": layers,
              "num_attention_heads": heads, "num_key_value_heads": kv_heads, "head_dim": head_dim,
              "hidden_act": "silu", "max_position_embeddings": 64, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
              "tie_word_embeddings": not untied, "attention_bias": False, "use_sliding_window": False,
              "torch_dtype": "bfloat16"}
    with open(os.path.join(directory, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f)
    return directory


def padded(rows):
    t = max(len(r) for r in rows)
    ids = torch.tensor([r + [0] * (t - len(r)) for r in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (t - len(r)) for r in rows])
    return ids, mask


ROWS = [[4, 9, 2], [7, 1, 3, 30, 11, 58, 0], [13], [5, 5, 5, 5, 40]]


class ExportQwen3EmbeddingOnnxTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def assert_module_matches_reference(self, directory):
        reference = Qwen3Embedder(directory)
        module = exporter.load(directory)
        with torch.no_grad():
            got = module(*padded(ROWS))
            for i, row in enumerate(ROWS):
                torch.testing.assert_close(got[i], reference.embed(row), atol=1e-5, rtol=0)
            self.assertTrue(torch.allclose(got.norm(dim=-1), torch.ones(len(ROWS))))

    def test_padded_batch_equals_the_reference_one_text_at_a_time(self):
        # GQA 2:1, head_dim 12 with hidden 16 and 4 heads, the CausalLM names (model. prefix).
        self.assert_module_matches_reference(write_model(os.path.join(self.tmp.name, "gqa")))

    def test_base_model_names_multi_head_and_gqa_4(self):
        self.assert_module_matches_reference(
            write_model(os.path.join(self.tmp.name, "mha"), heads=2, kv_heads=2, head_dim=24, prefix="", seed=6))
        self.assert_module_matches_reference(
            write_model(os.path.join(self.tmp.name, "gqa4"), heads=8, kv_heads=2, head_dim=8, layers=3, seed=7))

    def test_padding_does_not_change_a_row(self):
        module = exporter.load(write_model(os.path.join(self.tmp.name, "m")))
        with torch.no_grad():
            alone = module(*padded([ROWS[0]]))[0]
            batched = module(*padded(ROWS))[0]
        torch.testing.assert_close(batched, alone, atol=1e-6, rtol=0)

    def test_export_writes_the_graph_and_its_description(self):
        directory = write_model(os.path.join(self.tmp.name, "m"))
        out = os.path.join(self.tmp.name, "onnx")
        info = exporter.export(directory, out)
        with open(os.path.join(out, "embed.onnx"), "rb") as f:
            data = f.read()
        self.assertGreater(len(data), 4 * 60 * 16)  # at least the embedding table, inside (no external data)
        for name in (b"input_ids", b"attention_mask", b"embeddings", b"GatherElements"):
            self.assertIn(name, data)
        with open(os.path.join(out, "onnx.json"), encoding="utf-8") as f:
            written = json.load(f)
        self.assertEqual(written["graph"], "embed.onnx")
        self.assertEqual(written["hidden_size"], 16)
        self.assertEqual(written["external_data"], [])
        self.assertEqual(info["max_positions"], 64)

    def test_a_bitlinear_checkpoint_is_refused(self):
        directory = write_model(os.path.join(self.tmp.name, "bitnet"), bitlinear=True)
        with self.assertRaisesRegex(ValueError, "BitLinear"):
            exporter.load(directory)


def reference_logits(directory, tokens):
    """Logits [T, V] of the independent reference: its final-norm hidden states times the (tied) lm head."""
    reference = Qwen3Embedder(directory)
    head = reference.w.get("lm_head.weight", reference.w["embed_tokens.weight"])
    return reference.hidden(tokens) @ head.T


class ExportQwen3DecoderOnnxTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def assert_prefill_and_decode_match_reference(self, directory):
        tokens = [7, 1, 3, 30, 11, 58, 0, 42]
        expected = reference_logits(directory, tokens)
        module = exporter.load(directory, decoder=True)
        with torch.no_grad():
            # Prefill: one run over the first five tokens from an empty cache, the last position's logits.
            empty = [torch.zeros(1, module.kv, 0, module.hd) for _ in range(2 * module.layers)]
            out = module(torch.tensor([tokens[:5]]), torch.arange(5).view(1, 5), *empty)
            torch.testing.assert_close(out[0][0], expected[4], atol=1e-4 * expected.abs().max().item(), rtol=0)
            self.assertEqual(out[1].shape, (1, module.kv, 5, module.hd))
            # Decode: one token per run, the presents fed back as the pasts.
            for i in range(5, len(tokens)):
                out = module(torch.tensor([[tokens[i]]]), torch.tensor([[i]]), *out[1:])
                torch.testing.assert_close(out[0][0], expected[i], atol=1e-4 * expected.abs().max().item(), rtol=0)
            self.assertEqual(out[1].shape, (1, module.kv, len(tokens), module.hd))

    def test_tied_gqa_prefill_then_decode_equal_the_reference(self):
        self.assert_prefill_and_decode_match_reference(write_model(os.path.join(self.tmp.name, "gqa")))

    def test_untied_head_and_gqa_4(self):
        self.assert_prefill_and_decode_match_reference(
            write_model(os.path.join(self.tmp.name, "untied"), heads=8, kv_heads=2, head_dim=8, layers=3, seed=7,
                        untied=True, prefix=""))

    def test_export_decoder_writes_the_graph_and_the_keys_the_bench_reads(self):
        directory = write_model(os.path.join(self.tmp.name, "m"))
        out = os.path.join(self.tmp.name, "onnx")
        exporter.export_decoder(directory, out)
        with open(os.path.join(out, "decoder.onnx"), "rb") as f:
            data = f.read()
        for name in (b"input_ids", b"position_ids", b"past_key.1", b"present_value.0", b"logits"):
            self.assertIn(name, data)
        with open(os.path.join(out, "onnx.json"), encoding="utf-8") as f:
            written = json.load(f)
        self.assertEqual(written["graphs"], {"f32": {"decoder": "decoder.onnx"}})
        self.assertEqual((written["layers"], written["kv_heads"], written["head_dim"], written["vocab_size"]),
                         (2, 2, 12, 60))
        self.assertEqual(written["past_names"], ["past_key.0", "past_value.0", "past_key.1", "past_value.1"])


if __name__ == "__main__":
    unittest.main()
