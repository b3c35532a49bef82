"""Unit tests of the BitNet reference (training/qsparse/bitnet.py)."""

import os
import sys
import unittest

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from qsparse.bitnet import activation_quant, pack_ternary, unpack_ternary, weight_quant  # noqa: E402


class PackingTest(unittest.TestCase):

    def test_round_trip(self):
        gen = torch.Generator().manual_seed(0)
        w = torch.randint(-1, 2, (12, 5), generator=gen)
        packed = pack_ternary(w)
        self.assertEqual(packed.dtype, torch.uint8)
        self.assertEqual(tuple(packed.shape), (3, 5))
        self.assertTrue(torch.equal(unpack_ternary(packed), w.to(torch.float32)))

    def test_layout_output_row_is_i_times_quarter_plus_r(self):
        w = torch.zeros((8, 1), dtype=torch.int64)
        w[1 * 2 + 0, 0] = 1    # i = 1, r = 0 -> bits 2..3 of byte [0, 0] hold code 2
        w[3 * 2 + 1, 0] = -1   # i = 3, r = 1 -> bits 6..7 of byte [1, 0] hold code 0
        packed = pack_ternary(w)
        self.assertEqual(int(packed[0, 0]), 0b01_01_10_01)
        self.assertEqual(int(packed[1, 0]), 0b00_01_01_01)

    def test_code_three_is_refused(self):
        with self.assertRaises(ValueError):
            unpack_ternary(torch.tensor([[0b11]], dtype=torch.uint8))

    def test_output_size_must_divide_by_four(self):
        with self.assertRaises(ValueError):
            pack_ternary(torch.zeros((6, 2), dtype=torch.int64))


class QuantTest(unittest.TestCase):

    def test_activation_scale_floors_max_instead_of_adding_eps(self):
        x = torch.tensor([[1.0, 63.5 / 127, 0.0]])
        q, s = activation_quant(x)
        self.assertEqual(float(s), 127.0)
        self.assertEqual(q.tolist(), [[127.0, 64.0, 0.0]])  # 63.5 rounds half to even
        _, s0 = activation_quant(torch.zeros((1, 3)))
        self.assertAlmostEqual(float(s0), 127 / 1e-5, delta=1.0)

    def test_weight_quant_is_absmean_ternary(self):
        w = torch.tensor([[0.5, -0.25], [0.05, 1.2]])
        q, s = weight_quant(w)
        self.assertAlmostEqual(float(s), 1 / 0.5, places=5)
        self.assertEqual(q.tolist(), [[1.0, -0.0], [0.0, 1.0]])


if __name__ == "__main__":
    unittest.main()
