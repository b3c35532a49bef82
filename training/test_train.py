#!/usr/bin/python3
"""Smoke tests of training/train.py and training/evaluate.py (seconds; CPU).

    cd training && /usr/bin/python3 -m unittest test_train -v
"""

import json
import math
import os
import sys
import tempfile
import unittest

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import train  # noqa: E402
from bpe_tokenizer import Tokenizer, train_bpe  # noqa: E402
from evaluate import encode_for_scoring, evaluate_texts, read_paragraphs, score_token_lists  # noqa: E402
from qsparse.model import QSparseForCausalLM  # noqa: E402

CORPUS = [
    "It is a truth universally acknowledged, that a single man in possession of a good fortune, "
    "must be in want of a wife.",
    "The whale swam slowly past the ship, and the sailors watched it from the deck.",
    "Elizabeth walked to the window and looked at the garden for a long time.",
    "Mr. Darcy said nothing, but his sister smiled at her brother and at the fire.",
    "The captain stood on the deck of the ship and looked at the sea.",
    "She was very glad to see her sister again, and they talked of the ball.",
] * 6
VALID = [
    "The sailors looked at the whale from the ship.",
    "",
    "Her sister was glad to see the garden again.",
]

TINY_ARCH = ["--hidden-size", "32", "--layers", "2", "--heads", "2", "--kv-heads", "1",
             "--intermediate-size", "64", "--context", "32"]


class TrainSmokeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(1)
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        cls.train_path = os.path.join(d, "train.txt")
        cls.valid_path = os.path.join(d, "valid.txt")
        with open(cls.train_path, "w", encoding="utf-8") as f:
            f.write("\n".join(CORPUS) + "\n")
        with open(cls.valid_path, "w", encoding="utf-8") as f:
            f.write("\n".join(VALID) + "\n")
        cls.tok_path = os.path.join(d, "tokenizer.json")
        train_bpe(CORPUS, vocab_size=320).save(cls.tok_path)
        cls.tokenizer = Tokenizer.load(cls.tok_path)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_train(self, name, steps, *extra):
        out = os.path.join(self.tmp.name, name)
        args = train.parse_args([
            "--tokenizer", self.tok_path, "--train", self.train_path, "--valid", self.valid_path,
            "--out", out, "--work-dir", os.path.join(self.tmp.name, "runs", name),
            *TINY_ARCH, "--batch-size", "4", "--lr", "1e-2", "--warmup-steps", "3",
            "--max-steps", str(steps), "--eval-every-minutes", "0", "--log-every", "1000",
            "--threads", "1", *extra])
        return out, train.train(args)

    def test_train_export_reload_evaluate(self):
        out, summary = self.run_train("demo", 40, "--topk-ratio", "0.5", "--activation-bits", "8")
        self.assertEqual(summary["steps"], 40)
        self.assertEqual(summary["tokens_seen"], 40 * 4 * 32)
        self.assertLess(summary["final_train_loss_ema"], summary["first_train_loss"] - 1.0)
        for f in ("config.json", "model.safetensors", "tokenizer.json", "training_log.json"):
            self.assertTrue(os.path.exists(os.path.join(out, f)), f)
        with open(os.path.join(out, "config.json")) as f:
            config = json.load(f)
        self.assertEqual(config["bos_token_id"], 0)
        self.assertEqual(config["eos_token_id"], 0)
        self.assertEqual(config["topk_ratio"], 0.5)
        self.assertEqual(config["activation_bits"], 8)
        self.assertEqual(config["max_position_embeddings"], 32)
        self.assertNotIn("use_sub_norms", config)

        model = QSparseForCausalLM.from_pretrained(out)
        self.assertEqual(model.config.tie_word_embeddings, True)
        result = evaluate_texts(model, self.tokenizer, read_paragraphs(self.valid_path))
        self.assertEqual(result["texts"], 2)
        self.assertTrue(math.isfinite(result["perplexity"]))
        # Better than uniform over the vocabulary and equal to what training logged.
        self.assertLess(result["loss"], math.log(self.tokenizer.vocab_size) - 1.0)
        self.assertAlmostEqual(result["loss"], summary["final_validation"]["loss"], places=5)

    def test_resume_continues(self):
        out, first = self.run_train("resume", 6, "--weight-quant", "ternary")
        self.assertEqual(first["steps"], 6)
        _, second = self.run_train("resume", 10, "--weight-quant", "ternary")
        self.assertEqual(second["steps"], 10)
        self.assertEqual(second["tokens_seen"], 10 * 4 * 32)
        with self.assertRaises(SystemExit):  # another architecture in the same work dir
            self.run_train("resume", 12, "--weight-quant", "int8")

    def test_packing_rows_start_with_separator(self):
        docs = [np.arange(1, n + 1, dtype=np.uint16) for n in (3, 10, 40, 7, 1, 25)]
        units = train.make_units(docs, context=16, sep=0)
        self.assertTrue(all(len(u) <= 17 and u[0] == 0 for u in units))
        self.assertEqual(sum(len(u) - 1 for u in units), sum(len(d) for d in docs))
        rows = train.pack_epoch(units, context=16, seed=1, epoch=0)
        self.assertEqual(rows.shape[1], 17)
        self.assertTrue((rows[:, 0] == 0).all())
        self.assertFalse(np.array_equal(rows, train.pack_epoch(units, 16, 1, 1)))

    def test_scoring_matches_unbatched_runtime_definition(self):
        torch.manual_seed(0)
        out, _ = self.run_train("score", 3, "--topk-ratio", "0.5", "--activation-bits", "8")
        model = QSparseForCausalLM.from_pretrained(out).eval()
        texts = VALID[0:1] + VALID[2:] + [" ".join(CORPUS[:3])]  # the last one is truncated
        lists = encode_for_scoring(self.tokenizer, texts, 0, 32)
        self.assertEqual(len(lists[-1]), 32)
        self.assertTrue(all(ids[0] == 0 for ids in lists))
        batched = score_token_lists(model, lists, batch_tokens=64)
        total, n = 0.0, 0
        with torch.no_grad():
            for ids in lists:
                logp = F.log_softmax(model(torch.tensor([ids]))[0], dim=-1)
                total += float(logp[torch.arange(len(ids) - 1), torch.tensor(ids[1:])]
                               .double().sum())
                n += len(ids) - 1
        self.assertEqual(batched["scored_tokens"], n)
        self.assertAlmostEqual(batched["total_logprob"], total, delta=1e-3 * abs(total))


if __name__ == "__main__":
    unittest.main()
