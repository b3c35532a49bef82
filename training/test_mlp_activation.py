"""The feed-forward kinds (mlp_activation) and the sparsity probe of ffn_sparsity.py.

Run from the repository root:  /usr/bin/python3 -m unittest training/test_mlp_activation.py
"""

import json
import os
import sys
import tempfile
import unittest

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ffn_sparsity import FeedForwardProbe, count_zeros  # noqa: E402
from qsparse.model import QSparseConfig, QSparseForCausalLM  # noqa: E402

SMALL = dict(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
             max_position_embeddings=64)


def model_with(activation: str, width: int, **extra) -> QSparseForCausalLM:
    torch.manual_seed(7)
    return QSparseForCausalLM(QSparseConfig(**SMALL, intermediate_size=width,
                                            mlp_activation=activation, **extra)).eval()


class MlpActivationTest(unittest.TestCase):
    def test_default_is_not_written_so_existing_configs_stay_identical(self):
        config = QSparseConfig(**SMALL, intermediate_size=48)
        self.assertEqual("relu2glu", config.mlp_activation)
        self.assertNotIn("mlp_activation", config.to_dict())
        self.assertEqual("swiglu", QSparseConfig(**SMALL, intermediate_size=48,
                                                 mlp_activation="swiglu").to_dict()["mlp_activation"])

    def test_unknown_activation_is_refused(self):
        with self.assertRaisesRegex(ValueError, "mlp_activation"):
            QSparseConfig(**SMALL, intermediate_size=48, mlp_activation="gelu")

    def test_relu_has_no_gate_and_one_and_a_half_width_gives_equal_parameters(self):
        relu = model_with("relu", 72)
        glu = model_with("relu2glu", 48)
        self.assertFalse(any("gate_proj" in n for n in relu.state_dict()))
        self.assertTrue(any("gate_proj" in n for n in glu.state_dict()))
        count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
        self.assertEqual(count(glu), count(relu))

    def test_each_activation_computes_its_formula(self):
        x = torch.randn(1, 3, SMALL["hidden_size"])
        for activation, formula in (
                ("relu2glu", lambda up, gate: up * torch.relu(gate) ** 2),
                ("swiglu", lambda up, gate: up * F.silu(gate)),
                ("relu", lambda up, gate: torch.relu(up))):
            mlp = model_with(activation, 48).model.layers[0].mlp
            gate = mlp.gate_proj(x) if mlp.gate_proj is not None else None
            expected = mlp.down_proj(formula(mlp.up_proj(x), gate))
            torch.testing.assert_close(mlp(x), expected, msg=activation)

    def test_save_and_load_keep_the_activation(self):
        ids = torch.tensor([[0, 5, 9, 3, 17]])
        for activation in ("relu", "swiglu"):
            model = model_with(activation, 48, topk_ratio=0.5)
            with tempfile.TemporaryDirectory() as d:
                model.save_pretrained(d)
                with open(os.path.join(d, "config.json")) as f:
                    self.assertEqual(activation, json.load(f)["mlp_activation"])
                loaded = QSparseForCausalLM.from_pretrained(d).eval()
            self.assertTrue(torch.equal(model(ids), loaded(ids)), activation)


class FeedForwardProbeTest(unittest.TestCase):
    def test_count_zeros_uses_the_row_max(self):
        rows = torch.tensor([[0.0, 1e-4, 2e-3, 1.0],     # max 1: 0 and 1e-4 are near zero
                             [0.0, 0.0, 5e-5, 1e-2]])    # max 1e-2: threshold 1e-5
        self.assertEqual({"entries": 8, "exact_zero": 3, "near_zero": 4}, count_zeros(rows))

    def test_probe_sees_h_before_and_after_top_k(self):
        model = model_with("relu", 64, topk_ratio=0.5)
        probe = FeedForwardProbe(model)
        with torch.no_grad():
            model(torch.tensor([[0, 5, 9, 3, 17, 4]]))
        probe.remove()
        for layer in probe.counts:
            self.assertEqual(6 * 64, layer["pre_topk"]["entries"])
            # top-K keeps 32 of 64 per row: at least half is zero after it
            self.assertGreaterEqual(layer["down_proj_input"]["exact_zero"], 6 * 32)
            self.assertGreater(layer["pre_topk"]["exact_zero"], 0)  # relu zeroes some
            self.assertGreaterEqual(layer["pre_topk"]["near_zero"], layer["pre_topk"]["exact_zero"])


if __name__ == "__main__":
    unittest.main()
