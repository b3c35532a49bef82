"""Tests for bpe_tokenizer. Run: /usr/bin/python3 -m unittest training/test_bpe_tokenizer.py"""

import json
import os
import random
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bpe_tokenizer as bt  # noqa: E402

CORPUS = [
    "The quick brown fox jumps over the lazy dog. " * 20,
    "This program is free software; you can redistribute it and/or modify it "
    "under the terms of the GNU General Public License. " * 20,
    "Grüße aus München! Привет, мир. 你好，世界。 It's 2024, isn't it? " * 10,
    "<|endoftext|>the the the<|endoftext|>",
]

SAMPLES = [
    "",
    " ",
    "Hello, world!",
    "you'll we've they're it's I'm he'd 'S",
    "   leading and trailing   ",
    "tabs\tand\nnewlines\r\n\n\n",
    "Grüße aus München: Äpfel, Öl und Übermaß.",
    "中文分词测试：你好，世界！",
    "日本語のテキスト、カタカナとひらがな。",
    "مرحبا بالعالم",
    "नमस्ते दुनिया",
    "Привет, мир!",
    "emoji 😀🎉 family 👨‍👩‍👧‍👦 flags 🇩🇪🇯🇵 skin 👍🏽",
    "x² ½ Ⅻ ＡＢＣ１２３ \u2028 \u3000 \u001c\u001d",
    "<|endoftext|> literal",
    "a" * 500,
]


class BytesToUnicodeTest(unittest.TestCase):
    def test_mapping(self):
        m = bt.bytes_to_unicode()
        self.assertEqual(len(set(m)), 256)
        self.assertEqual(m[ord("A")], "A")
        self.assertEqual(m[ord(" ")], "\u0120")  # 'Ġ'
        self.assertEqual(m[ord("\n")], "\u010a")  # 'Ċ'
        self.assertEqual(m[0], "\u0100")
        self.assertEqual(m[0xAD], "\u0143")


class PreTokenizeTest(unittest.TestCase):
    def test_gpt2_splits(self):
        self.assertEqual(bt.pre_tokenize("Hello  world's 12ab\n\n  hi"),
                         ["Hello", " ", " world", "'s", " 12", "ab", "\n\n ", " hi"])
        self.assertEqual(bt.pre_tokenize("x² ½"), ["x", "²", " ½"])  # \p{N}, not letters
        self.assertEqual(bt.pre_tokenize("a\u001cb"), ["a", "\u001c", "b"])  # not White_Space

    def test_pieces_concatenate(self):
        for s in SAMPLES:
            self.assertEqual("".join(bt.pre_tokenize(s)), s)


class TokenizerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tok = bt.train_bpe(CORPUS, vocab_size=400, min_frequency=2)

    def test_training_sanity(self):
        tok = self.tok
        self.assertEqual(tok.vocab["<|endoftext|>"], 0)
        self.assertEqual(tok.vocab[bt.bytes_to_unicode()[0]], 1)
        self.assertGreater(len(tok.merges), 50)
        self.assertLessEqual(len(tok.vocab), 400)
        self.assertIn("Ġthe", tok.vocab)
        self.assertLess(len(tok.encode("the quick brown fox")), len("the quick brown fox") // 2)
        # the special token never takes part in merges
        self.assertFalse(any("<|" in a + b for a, b in tok.merges))
        # merges only reference earlier tokens
        for a, b in tok.merges:
            self.assertIn(a + b, tok.vocab)

    def test_min_frequency_stops_training(self):
        tok = bt.train_bpe(["ab ab cd"], vocab_size=1000, min_frequency=2)
        self.assertEqual(tok.merges, [("a", "b")])  # ("Ġ", "ab") occurs once only
        self.assertNotIn("cd", tok.vocab)

    def test_round_trip(self):
        for s in SAMPLES:
            self.assertEqual(self.tok.decode(self.tok.encode(s)), s, s)

    def test_random_round_trip(self):
        rnd = random.Random(1234)
        for _ in range(300):
            chars = []
            for _ in range(rnd.randrange(0, 40)):
                r = rnd.random()
                if r < 0.4:
                    cp = rnd.randrange(0x20, 0x7F)
                elif r < 0.5:
                    cp = rnd.choice([0x09, 0x0A, 0x0D, 0x20, 0xA0, 0x3000])
                else:
                    cp = rnd.randrange(0x80, 0x110000)
                    if 0xD800 <= cp <= 0xDFFF:
                        cp = 0xFFFD
                chars.append(chr(cp))
            s = "".join(chars)
            self.assertEqual(self.tok.decode(self.tok.encode(s)), s)

    def test_lone_surrogate_replaced(self):
        self.assertEqual(self.tok.decode(self.tok.encode("a\ud800b")), "a\ufffdb")

    def test_invalid_utf8_decodes_with_replacement(self):
        ids = self.tok.encode("é")  # two bytes, possibly one token
        byte_ids = [self.tok.vocab[bt.bytes_to_unicode()[0xC3]]]
        self.assertEqual(self.tok.decode(byte_ids), "\ufffd")
        self.assertEqual(self.tok.decode(ids), "é")

    def test_special_tokens(self):
        plain = self.tok.encode("a<|endoftext|>b")
        self.assertNotIn(0, plain)
        self.assertEqual(self.tok.encode("a<|endoftext|>b", allow_special=True),
                         self.tok.encode("a") + [0] + self.tok.encode("b"))
        self.assertEqual(self.tok.decode([0]), "<|endoftext|>")

    def test_merge_order_leftmost_on_ties(self):
        b2u = bt.bytes_to_unicode()
        vocab = {c: i for i, c in enumerate(b2u)}
        vocab["aa"] = 256
        tok = bt.Tokenizer(vocab, [("a", "a")])
        self.assertEqual(tok.encode("aaa"), [256, vocab["a"]])
        self.assertEqual(tok.encode("aaaa"), [256, 256])

    def test_save_load(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "tokenizer.json")
            self.tok.save(path)
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
            self.assertEqual(data["version"], "1.0")
            self.assertEqual(data["model"]["type"], "BPE")
            self.assertIsNone(data["normalizer"])
            self.assertEqual(data["pre_tokenizer"]["type"], "ByteLevel")
            self.assertEqual(data["added_tokens"][0]["content"], "<|endoftext|>")
            for c in bt.bytes_to_unicode():
                self.assertIn(c, data["model"]["vocab"])
            loaded = bt.Tokenizer.load(path)
            for s in SAMPLES:
                self.assertEqual(loaded.encode(s), self.tok.encode(s))
            # array form of merges is accepted too
            data["model"]["merges"] = [m.split(" ") for m in data["model"]["merges"]]
            with open(path, "w", encoding="utf-8") as f:
                json.dump(data, f)
            self.assertEqual(bt.Tokenizer.load(path).encode(SAMPLES[2]), self.tok.encode(SAMPLES[2]))

    def test_cli(self):
        import contextlib
        import io
        with tempfile.TemporaryDirectory() as d:
            inp = os.path.join(d, "in.txt")
            out = os.path.join(d, "tok.json")
            with open(inp, "w", encoding="utf-8") as f:
                f.write("\n".join(CORPUS))
            with contextlib.redirect_stderr(io.StringIO()):
                bt.main(["train", "--input", inp, "--vocab-size", "300", "--out", out])
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                bt.main(["encode", "--tokenizer", out, "--text", "the fox"])
            ids = json.loads(buf.getvalue())
            self.assertEqual(bt.Tokenizer.load(out).decode(ids), "the fox")


class JavaFixtureTest(unittest.TestCase):
    """The committed Java fixture must agree with this encoder."""

    def test_fixture_consistent(self):
        d = bt.JAVA_FIXTURE_DIR
        path = os.path.join(d, "tokenizer.json")
        if not os.path.exists(path):
            self.skipTest("no fixture")
        tok = bt.Tokenizer.load(path)
        with open(os.path.join(d, "expected.json"), encoding="utf-8") as f:
            expected = json.load(f)
        self.assertGreaterEqual(len(expected), 30)
        for e in expected:
            self.assertEqual(tok.encode(e["text"]), e["ids"], e["text"])
            self.assertEqual(tok.decode(e["ids"]), e["text"])


if __name__ == "__main__":
    unittest.main()
