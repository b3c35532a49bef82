"""The Qwen3 embedding reference (qsparse/qwen3_embedding.py) on its own: the BitLinear recipe's
roundings, the last-token pooling and normalisation, and refusals by name. Its parity with the Java
runtime is Qwen3EmbeddingParityTest's.

Run from the repository root:  /usr/bin/python3 -m unittest training/test_qwen3_embedding.py
"""

import json
import os
import sys
import tempfile
import unittest

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from qsparse.qwen3_embedding import Qwen3Embedder, _int8_per_token, _ternary  # noqa: E402
from qsparse.safetensors_io import save_file  # noqa: E402

CONFIG = {"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "vocab_size": 50, "hidden_size": 16,
          "intermediate_size": 24, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1,
          "head_dim": 12, "rope_theta": 1000000.0, "rms_norm_eps": 1e-6, "tie_word_embeddings": True}


def write_model(directory, bitlinear, extra=None):
    g = torch.Generator().manual_seed(7)
    t = {"embed_tokens.weight": torch.randn(50, 16, generator=g), "norm.weight": torch.ones(16)}
    shapes = {"self_attn.q_proj": (24, 16), "self_attn.k_proj": (12, 16), "self_attn.v_proj": (12, 16),
              "self_attn.o_proj": (16, 24), "mlp.gate_proj": (24, 16), "mlp.up_proj": (24, 16),
              "mlp.down_proj": (16, 24)}
    p = "layers.0."
    for name, shape in shapes.items():
        t[p + name + ".weight"] = torch.randn(*shape, generator=g) * 0.3
        if bitlinear:
            t[p + name + ".norm.weight"] = 1 + 0.1 * torch.randn(shape[1], generator=g)
    for name in ("input_layernorm", "post_attention_layernorm"):
        t[p + name + ".weight"] = torch.ones(16)
    t[p + "self_attn.q_norm.weight"] = torch.ones(12)
    t[p + "self_attn.k_norm.weight"] = torch.ones(12)
    t.update(extra or {})
    save_file({k: v.to(torch.bfloat16) for k, v in t.items()}, os.path.join(directory, "model.safetensors"))
    with open(os.path.join(directory, "config.json"), "w", encoding="utf-8") as f:
        json.dump(CONFIG, f)


class Qwen3EmbeddingReferenceTest(unittest.TestCase):
    def test_ternary_is_absmean_round_clamp(self):
        w = torch.tensor([[0.9, -0.1, 0.3], [-2.0, 0.05, 0.6]])
        m = w.abs().mean()
        self.assertTrue(torch.equal(_ternary(w) / m, torch.tensor([[1.0, 0.0, 0.0], [-1.0, 0.0, 1.0]])))

    def test_int8_is_per_token_absmax(self):
        x = torch.tensor([[1.0, -0.5, 0.25], [0.0, 0.0, 0.0]])
        self.assertTrue(torch.allclose(_int8_per_token(x)[0], torch.tensor([1.0, -64 / 127, 32 / 127])))
        self.assertTrue(torch.equal(_int8_per_token(x)[1], torch.zeros(3)))

    def test_embeddings_are_unit_last_token_and_int8_moves_them_a_little(self):
        with tempfile.TemporaryDirectory() as d:
            write_model(d, bitlinear=True)
            int8 = Qwen3Embedder(d).embed([3, 9, 0])
            fl = Qwen3Embedder(d, float_activations=True).embed([3, 9, 0])
            self.assertAlmostEqual(int8.norm().item(), 1.0, places=5)
            self.assertGreater((int8 - fl).abs().max().item(), 0)
            self.assertLess((int8 - fl).abs().max().item(), 0.2)
            # Causal: the last token's embedding ignores nothing before it, and a later token changes it.
            self.assertFalse(torch.allclose(int8, Qwen3Embedder(d).embed([3, 9, 0, 4])))

    def test_what_it_does_not_compute_is_refused_by_name(self):
        with tempfile.TemporaryDirectory() as d:
            write_model(d, bitlinear=False, extra={"layers.0.mlp.ffn_sub_norm.weight": torch.ones(24)})
            with self.assertRaisesRegex(ValueError, "ffn_sub_norm"):
                Qwen3Embedder(d)
        with tempfile.TemporaryDirectory() as d:
            write_model(d, bitlinear=False)
            with open(os.path.join(d, "config.json"), "w", encoding="utf-8") as f:
                json.dump(dict(CONFIG, quantization_config={"quant_method": "gptq"}), f)
            with self.assertRaisesRegex(ValueError, "quantization_config"):
                Qwen3Embedder(d)


if __name__ == "__main__":
    unittest.main()
