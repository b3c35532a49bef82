#!/usr/bin/python3
"""Byte-level BPE tokenizer (Hugging Face ``tokenizer.json`` format): trainer, encoder, decoder.

Standard library only; run with Debian's ``/usr/bin/python3``.

Usage::

    /usr/bin/python3 training/bpe_tokenizer.py train --input corpus.txt [--input more.txt] \\
        --vocab-size 8000 --out tokenizer.json
    /usr/bin/python3 training/bpe_tokenizer.py encode --tokenizer tokenizer.json --text "Hello"
    /usr/bin/python3 training/bpe_tokenizer.py decode --tokenizer tokenizer.json --ids 1 2 3
    /usr/bin/python3 training/bpe_tokenizer.py fixture      # regenerates the Java test fixture

Format and conventions
----------------------
* ``save`` writes a ``tokenizer.json`` that the Hugging Face ``tokenizers`` library and the Java
  runtime (``dev.qsparse.runtime.tokenizer.Tokenizer``) both read: ``normalizer: null``,
  ``pre_tokenizer`` ByteLevel (GPT-2 split regex, no prefix space), ``decoder`` ByteLevel,
  ``model`` BPE with merges written as ``"left right"`` strings (``load`` also accepts the newer
  ``[left, right]`` array form).
* Id layout chosen by the trainer: the special tokens come first (``<|endoftext|>`` is id 0),
  then the 256 byte symbols in byte order (byte ``b`` has id ``len(specials) + b``), then one
  id per learned merge in merge order. Special tokens appear both in ``model.vocab`` and in
  ``added_tokens`` (``special: true``), as Hugging Face's trainer does. Text that contains a
  special token literally is split around it during training (the token itself is not learned
  from), and is encoded as ordinary text by ``encode`` unless ``allow_special=True``.
* Byte symbols use the GPT-2 byte-to-unicode map: printable Latin-1 bytes map to the same code
  point, the other 68 bytes to U+0100 + n.
* Merging during encoding uses the Hugging Face algorithm (lowest merge rank first, leftmost
  position on ties), so ids agree with ``tokenizers`` and with the Java runtime.
* Lone surrogates (possible in Python ``str``) are replaced by U+FFFD before encoding, like the
  Java runtime does. Decoding replaces invalid or incomplete UTF-8 with U+FFFD.

Pre-tokenization and the Java reference
---------------------------------------
The GPT-2 split pattern
``'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+``
needs ``\\p{L}``/``\\p{N}``, which Python's ``re`` lacks. ``[^\\W\\d_]`` is *not* an exact
substitute (it also matches No/Nl characters such as ``²`` or ``½`` and CJK numerals), so this
module builds explicit character classes instead: letters = general category L*, numbers =
general category N*, whitespace = the Unicode ``White_Space`` property (which is what Java's
``\\s`` means under ``UNICODE_CHARACTER_CLASS``; Python's own ``\\s`` would also match
U+001C..U+001F). The Java runtime is the reference. Remaining difference: the Unicode
*version* of the character database (Python 3.11: Unicode 14, Java 17: Unicode 13), so
characters assigned or re-categorised between those versions can be split differently. Both
sides still round-trip every string; the committed cross-check fixture only uses characters
on which both agree.
"""

from __future__ import annotations

import argparse
import functools
import heapq
import json
import os
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from typing import Iterable, Sequence

__all__ = [
    "GPT2_SPLIT_PATTERN",
    "Tokenizer",
    "bytes_to_unicode",
    "pre_tokenize",
    "train_bpe",
    "generate_java_fixture",
]

GPT2_SPLIT_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
"""The split pattern as written in tokenizer.json / used by the Java runtime (for reference)."""

DEFAULT_SPECIAL_TOKENS = ("<|endoftext|>",)

# Unicode White_Space property (= Java's \s with UNICODE_CHARACTER_CLASS).
_WHITE_SPACE_RANGES = (
    (0x0009, 0x000D), (0x0020, 0x0020), (0x0085, 0x0085), (0x00A0, 0x00A0),
    (0x1680, 0x1680), (0x2000, 0x200A), (0x2028, 0x2029), (0x202F, 0x202F),
    (0x205F, 0x205F), (0x3000, 0x3000),
)

_SURROGATE_RE = re.compile("[\ud800-\udfff]")


# ----------------------------------------------------------------------------------------------
# Byte-level alphabet and pre-tokenization
# ----------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def bytes_to_unicode() -> tuple[str, ...]:
    """GPT-2 byte -> symbol map as a 256-tuple: printable bytes map to themselves, others to 256+n."""
    printable = set(range(0x21, 0x7F)) | set(range(0xA1, 0xAD)) | set(range(0xAE, 0x100))
    table = []
    n = 0
    for b in range(256):
        if b in printable:
            table.append(chr(b))
        else:
            table.append(chr(256 + n))
            n += 1
    return tuple(table)


@functools.lru_cache(maxsize=None)
def _unicode_to_bytes() -> dict[str, int]:
    return {c: b for b, c in enumerate(bytes_to_unicode())}


def _ranges_to_class(ranges: Iterable[tuple[int, int]]) -> str:
    def esc(cp: int) -> str:
        return "\\U%08x" % cp
    return "".join(esc(a) if a == b else esc(a) + "-" + esc(b) for a, b in ranges)


def _category_ranges(prefix: str) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    start = None
    for cp in range(0x110000):
        hit = unicodedata.category(chr(cp)).startswith(prefix)
        if hit and start is None:
            start = cp
        elif not hit and start is not None:
            ranges.append((start, cp - 1))
            start = None
    if start is not None:
        ranges.append((start, 0x10FFFF))
    return ranges


@functools.lru_cache(maxsize=None)
def _split_regex() -> re.Pattern:
    letters = _ranges_to_class(_category_ranges("L"))
    numbers = _ranges_to_class(_category_ranges("N"))
    space = _ranges_to_class(_WHITE_SPACE_RANGES)
    pattern = (
        r"'s|'t|'re|'ve|'m|'ll|'d"
        rf"| ?[{letters}]+"
        rf"| ?[{numbers}]+"
        rf"| ?[^{space}{letters}{numbers}]+"
        rf"|[{space}]+(?![^{space}])"
        rf"|[{space}]+"
    )
    return re.compile(pattern)


def _sanitize(text: str) -> str:
    """Replace lone surrogates by U+FFFD (they cannot be encoded as UTF-8)."""
    return _SURROGATE_RE.sub("\ufffd", text)


def pre_tokenize(text: str) -> list[str]:
    """Split text with the GPT-2 pattern. The pieces concatenate back to the (sanitized) text."""
    text = _sanitize(text)
    pieces = []
    pos = 0
    for m in _split_regex().finditer(text):
        if m.start() > pos:  # cannot happen with this pattern, kept for safety
            pieces.append(text[pos:m.start()])
        if m.end() > m.start():
            pieces.append(m.group())
        pos = m.end()
    if pos < len(text):
        pieces.append(text[pos:])
    return pieces


# ----------------------------------------------------------------------------------------------
# Tokenizer
# ----------------------------------------------------------------------------------------------

class Tokenizer:
    """A byte-level BPE tokenizer. Construct with ``train_bpe`` or ``Tokenizer.load``."""

    _CACHE_LIMIT = 50_000

    def __init__(self, vocab: dict[str, int], merges: Sequence[tuple[str, str]],
                 added_tokens: Sequence[dict] = (), *, ignore_merges: bool = False,
                 add_prefix_space: bool = False):
        self.vocab = dict(vocab)
        self.merges = [tuple(m) for m in merges]
        self.added_tokens = [dict(t) for t in added_tokens]
        self.ignore_merges = ignore_merges
        self.add_prefix_space = add_prefix_space

        b2u = bytes_to_unicode()
        missing = [c for c in b2u if c not in self.vocab]
        if missing:
            raise ValueError(f"vocab lacks {len(missing)} byte symbols, e.g. {missing[0]!r}")
        self._byte_ids = [self.vocab[c] for c in b2u]

        self._merge_table: dict[tuple[int, int], tuple[int, int]] = {}
        for rank, (a, b) in enumerate(self.merges):
            for t in (a, b, a + b):
                if t not in self.vocab:
                    raise ValueError(f"merge #{rank} {a!r} {b!r} references unknown token {t!r}")
            key = (self.vocab[a], self.vocab[b])
            if key not in self._merge_table:
                self._merge_table[key] = (rank, self.vocab[a + b])

        self._id_bytes: dict[int, bytes] = {}
        u2b = _unicode_to_bytes()
        for tok, i in self.vocab.items():
            self._id_bytes[i] = b"".join(
                bytes([u2b[c]]) if c in u2b else c.encode("utf-8") for c in tok)
        self._added: dict[str, int] = {}
        for t in self.added_tokens:
            self._id_bytes[t["id"]] = t["content"].encode("utf-8")
            self._added[t["content"]] = t["id"]
        self._special_re = (re.compile("|".join(
            re.escape(c) for c in sorted(self._added, key=len, reverse=True)))
            if self._added else None)
        self._cache: dict[str, list[int]] = {}

    # -- encoding ------------------------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        return max(self._id_bytes) + 1 if self._id_bytes else 0

    def encode(self, text: str, allow_special: bool = False) -> list[int]:
        """Encode text. With ``allow_special``, added tokens written in the text become their ids."""
        text = _sanitize(text)
        if not allow_special or self._special_re is None:
            return self._encode_ordinary(text)
        ids: list[int] = []
        pos = 0
        for m in self._special_re.finditer(text):
            ids.extend(self._encode_ordinary(text[pos:m.start()]))
            ids.append(self._added[m.group()])
            pos = m.end()
        ids.extend(self._encode_ordinary(text[pos:]))
        return ids

    def _encode_ordinary(self, text: str) -> list[int]:
        if not text:
            return []
        if self.add_prefix_space and not text.startswith(" "):
            text = " " + text
        ids: list[int] = []
        for piece in pre_tokenize(text):
            cached = self._cache.get(piece)
            if cached is None:
                cached = self._bpe(piece)
                if len(self._cache) >= self._CACHE_LIMIT:
                    self._cache.clear()
                self._cache[piece] = cached
            ids.extend(cached)
        return ids

    def _bpe(self, piece: str) -> list[int]:
        data = piece.encode("utf-8")
        if self.ignore_merges:
            b2u = bytes_to_unicode()
            whole = self.vocab.get("".join(b2u[b] for b in data))
            if whole is not None:
                return [whole]
        syms = [self._byte_ids[b] for b in data]
        n = len(syms)
        if n < 2:
            return syms
        nxt = list(range(1, n + 1))
        nxt[-1] = -1
        prv = list(range(-1, n - 1))
        alive = [True] * n
        table = self._merge_table
        heap = []
        for i in range(n - 1):
            m = table.get((syms[i], syms[i + 1]))
            if m is not None:
                heap.append((m[0], i))
        heapq.heapify(heap)
        while heap:
            rank, i = heapq.heappop(heap)
            j = nxt[i] if alive[i] else -1
            if j < 0:
                continue
            m = table.get((syms[i], syms[j]))
            if m is None or m[0] != rank:
                continue  # stale entry
            syms[i] = m[1]
            alive[j] = False
            k = nxt[j]
            nxt[i] = k
            if k >= 0:
                prv[k] = i
                m2 = table.get((syms[i], syms[k]))
                if m2 is not None:
                    heapq.heappush(heap, (m2[0], i))
            p = prv[i]
            if p >= 0:
                m2 = table.get((syms[p], syms[i]))
                if m2 is not None:
                    heapq.heappush(heap, (m2[0], p))
        out = []
        i = 0
        while i >= 0:
            out.append(syms[i])
            i = nxt[i]
        return out

    # -- decoding ------------------------------------------------------------------------------

    def decode(self, ids: Iterable[int]) -> str:
        parts = []
        for i in ids:
            b = self._id_bytes.get(i)
            if b is None:
                raise ValueError(f"token id {i} out of range")
            parts.append(b)
        return b"".join(parts).decode("utf-8", errors="replace")

    def token_id(self, token: str) -> int | None:
        return self._added.get(token, self.vocab.get(token))

    # -- persistence ---------------------------------------------------------------------------

    def to_json(self) -> dict:
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": [
                {"id": t["id"], "content": t["content"],
                 "single_word": bool(t.get("single_word", False)),
                 "lstrip": bool(t.get("lstrip", False)), "rstrip": bool(t.get("rstrip", False)),
                 "normalized": bool(t.get("normalized", False)),
                 "special": bool(t.get("special", True))}
                for t in self.added_tokens],
            "normalizer": None,
            "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": self.add_prefix_space,
                              "trim_offsets": True, "use_regex": True},
            "post_processor": None,
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                        "use_regex": True},
            "model": {
                "type": "BPE", "dropout": None, "unk_token": None,
                "continuing_subword_prefix": None, "end_of_word_suffix": None,
                "fuse_unk": False, "byte_fallback": False, "ignore_merges": self.ignore_merges,
                "vocab": dict(sorted(self.vocab.items(), key=lambda kv: kv[1])),
                "merges": [f"{a} {b}" for a, b in self.merges],
            },
        }

    def save(self, path: str | os.PathLike) -> None:
        text = json.dumps(self.to_json(), ensure_ascii=False, indent=2)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
            f.write("\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Tokenizer":
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        if data.get("normalizer") is not None:
            raise ValueError(f"{path}: unsupported normalizer {data['normalizer']!r}")
        pre = data.get("pre_tokenizer")
        if not isinstance(pre, dict) or pre.get("type") != "ByteLevel" \
                or not pre.get("use_regex", True):
            raise ValueError(f"{path}: only a ByteLevel pre_tokenizer with use_regex is supported")
        model = data.get("model")
        if not isinstance(model, dict) or model.get("type", "BPE") != "BPE":
            raise ValueError(f"{path}: model must be BPE")
        merges = []
        for m in model.get("merges", []):
            if isinstance(m, str):
                parts = m.split(" ")
            else:
                parts = list(m)
            if len(parts) != 2:
                raise ValueError(f"{path}: malformed merge {m!r}")
            merges.append((parts[0], parts[1]))
        return cls(model["vocab"], merges, data.get("added_tokens") or [],
                   ignore_merges=bool(model.get("ignore_merges", False)),
                   add_prefix_space=bool(pre.get("add_prefix_space", False)))


# ----------------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------------

def train_bpe(texts: Iterable[str], vocab_size: int,
              special_tokens: Sequence[str] = DEFAULT_SPECIAL_TOKENS,
              min_frequency: int = 2, verbose: bool = False) -> Tokenizer:
    """Train a byte-level BPE tokenizer.

    Words (pre-tokenized pieces) are counted once; merging then works on the unique words with
    incremental pair-count updates (only words containing the merged pair are touched), and a
    lazy max-heap picks the most frequent pair (ties: lowest pair of ids, as Hugging Face does).
    Stops at ``vocab_size`` tokens (specials + 256 bytes + merges) or when the best pair occurs
    fewer than ``min_frequency`` times.
    """
    special_tokens = list(dict.fromkeys(special_tokens))
    special_re = (re.compile("|".join(re.escape(s) for s in
                                      sorted(special_tokens, key=len, reverse=True)))
                  if special_tokens else None)
    counts: Counter[str] = Counter()
    for text in texts:
        chunks = special_re.split(text) if special_re is not None else [text]
        for chunk in chunks:
            counts.update(pre_tokenize(chunk))

    b2u = bytes_to_unicode()
    id_to_token: list[str] = list(special_tokens) + list(b2u)
    token_to_id = {t: i for i, t in enumerate(id_to_token)}
    if len(token_to_id) != len(id_to_token):
        raise ValueError("special tokens collide with byte symbols")
    offset = len(special_tokens)

    words: list[list[int]] = []
    freqs: list[int] = []
    for w, c in counts.items():
        words.append([offset + b for b in w.encode("utf-8")])
        freqs.append(c)
    del counts

    pair_counts: dict[tuple[int, int], int] = defaultdict(int)
    where: dict[tuple[int, int], set[int]] = defaultdict(set)
    for wi, w in enumerate(words):
        f = freqs[wi]
        for p in zip(w, w[1:]):
            pair_counts[p] += f
            where[p].add(wi)
    heap = [(-c, p) for p, c in pair_counts.items()]
    heapq.heapify(heap)

    merges: list[tuple[str, str]] = []
    while len(id_to_token) < vocab_size and heap:
        negc, pair = heapq.heappop(heap)
        cur = pair_counts.get(pair, 0)
        if cur != -negc:
            if cur > 0:
                heapq.heappush(heap, (-cur, pair))
            continue
        if cur < min_frequency:
            break
        a, b = pair
        new_token = id_to_token[a] + id_to_token[b]
        new_id = token_to_id.get(new_token)
        if new_id is None:
            new_id = len(id_to_token)
            id_to_token.append(new_token)
            token_to_id[new_token] = new_id
        merges.append((id_to_token[a], id_to_token[b]))
        if verbose and len(merges) % 500 == 0:
            print(f"merge {len(merges)}: {new_token!r} x{cur}", file=sys.stderr)

        delta: dict[tuple[int, int], int] = defaultdict(int)
        for wi in where.pop(pair, ()):
            w = words[wi]
            n = len(w)
            out = []
            i = 0
            changed = False
            while i < n:
                if i + 1 < n and w[i] == a and w[i + 1] == b:
                    out.append(new_id)
                    i += 2
                    changed = True
                else:
                    out.append(w[i])
                    i += 1
            if not changed:
                continue
            f = freqs[wi]
            for p in zip(w, w[1:]):
                delta[p] -= f
            for p in zip(out, out[1:]):
                delta[p] += f
                where[p].add(wi)
            words[wi] = out
        for p, d in delta.items():
            if d == 0:
                continue
            c = pair_counts[p] + d
            if c <= 0:
                del pair_counts[p]
            else:
                pair_counts[p] = c
                if d > 0:
                    heapq.heappush(heap, (-c, p))
        pair_counts.pop(pair, None)

    added = [{"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for i, s in enumerate(special_tokens)]
    return Tokenizer(token_to_id, merges, added)


# ----------------------------------------------------------------------------------------------
# Java fixture
# ----------------------------------------------------------------------------------------------

_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JAVA_FIXTURE_DIR = os.path.join(_REPO_ROOT, "model-runtime", "src", "test", "resources",
                                "tokenizer")
FIXTURE_CORPUS_DIR = "/usr/share/common-licenses"

# Strings for the Java cross-check: only characters on which Java 17 and Python 3.11 agree.
FIXTURE_TEXTS = [
    "",
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "This program is free software; you can redistribute it and/or modify it.",
    "GNU GENERAL PUBLIC LICENSE Version 3, 29 June 2007",
    "you'll, we've, they're, it's, I'm, he'd, she'll, 'S",
    "Don't DON'T don't’t",
    "   leading spaces",
    "trailing spaces   ",
    "multiple   spaces    between\twords",
    "line one\nline two\r\nline three\n\n\nend\n",
    "\t\ttabs\tand\u00a0no-break\u2003em space",
    "numbers 1234567890 3.14159 -42 1e10 0x1F",
    "mixed123abc 4you a1b2c3",
    "punctuation!!! ??? ... --- ((())) [x] {y} <z> @#$%^&*",
    "https://www.gnu.org/licenses/gpl-3.0.html",
    "email: someone@example.com, path: /usr/share/doc",
    "Grüße aus München: Äpfel, Öl und Übermaß.",
    "Ça va? Déjà vu, naïve café, señor, smørrebrød.",
    "Привет, мир! Съешь же ещё этих мягких французских булок.",
    "Γειά σου Κόσμε",
    "中文分词测试：你好，世界！",
    "日本語のテキスト、カタカナとひらがな。",
    "한국어 텍스트",
    "مرحبا بالعالم",
    "नमस्ते दुनिया",
    "emoji 😀🎉 family 👨‍👩‍👧‍👦 flags 🇩🇪🇯🇵 skin 👍🏽",
    "superscripts x² ½ Ⅻ and fullwidth ＡＢＣ１２３",
    "<|endoftext|> is literal text here",
    "a" * 40 + " " + "ab" * 20,
    "def f(x):\n    return x * 2  # comment\n",
    "{\"key\": [1, 2, 3], \"nested\": {\"a\": null}}",
]


def _fixture_corpus(corpus_dir: str = FIXTURE_CORPUS_DIR) -> list[str]:
    texts = []
    for name in sorted(os.listdir(corpus_dir)):
        path = os.path.join(corpus_dir, name)
        if os.path.islink(path) or not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            texts.append(f.read())
    return texts


def generate_java_fixture(out_dir: str = JAVA_FIXTURE_DIR, vocab_size: int = 1000,
                          corpus_dir: str = FIXTURE_CORPUS_DIR) -> Tokenizer:
    """(Re)generate ``tokenizer.json`` and ``expected.json`` for the Java cross-check test."""
    tok = train_bpe(_fixture_corpus(corpus_dir), vocab_size)
    os.makedirs(out_dir, exist_ok=True)
    tok.save(os.path.join(out_dir, "tokenizer.json"))
    expected = [{"text": t, "ids": tok.encode(t)} for t in FIXTURE_TEXTS]
    for e in expected:
        assert tok.decode(e["ids"]) == e["text"], e["text"]
    with open(os.path.join(out_dir, "expected.json"), "w", encoding="utf-8") as f:
        f.write("[\n")
        f.write(",\n".join("  " + json.dumps(e, ensure_ascii=False) for e in expected))
        f.write("\n]\n")
    return tok


# ----------------------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------------------

def _read_inputs(paths: Sequence[str]) -> Iterable[str]:
    for p in paths:
        with open(p, encoding="utf-8", errors="replace") as f:
            yield f.read()


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train a tokenizer.json")
    t.add_argument("--input", action="append", required=True, help="UTF-8 text file (repeatable)")
    t.add_argument("--vocab-size", type=int, required=True)
    t.add_argument("--min-frequency", type=int, default=2)
    t.add_argument("--special-token", action="append", default=None,
                   help="special token (repeatable; default <|endoftext|>)")
    t.add_argument("--out", required=True)
    t.add_argument("--verbose", action="store_true")
    e = sub.add_parser("encode", help="print the ids of TEXT as JSON")
    e.add_argument("--tokenizer", required=True)
    e.add_argument("--text", required=True)
    e.add_argument("--allow-special", action="store_true")
    d = sub.add_parser("decode", help="print the text of IDS")
    d.add_argument("--tokenizer", required=True)
    d.add_argument("--ids", type=int, nargs="*", default=[])
    x = sub.add_parser("fixture", help="regenerate the Java test fixture")
    x.add_argument("--out-dir", default=JAVA_FIXTURE_DIR)
    x.add_argument("--vocab-size", type=int, default=1000)
    x.add_argument("--corpus-dir", default=FIXTURE_CORPUS_DIR)
    args = ap.parse_args(argv)

    if args.cmd == "train":
        specials = args.special_token if args.special_token is not None \
            else list(DEFAULT_SPECIAL_TOKENS)
        tok = train_bpe(_read_inputs(args.input), args.vocab_size, specials,
                        args.min_frequency, verbose=args.verbose)
        tok.save(args.out)
        print(f"wrote {args.out}: vocab {tok.vocab_size}, merges {len(tok.merges)}",
              file=sys.stderr)
    elif args.cmd == "encode":
        tok = Tokenizer.load(args.tokenizer)
        print(json.dumps(tok.encode(args.text, allow_special=args.allow_special)))
    elif args.cmd == "decode":
        tok = Tokenizer.load(args.tokenizer)
        sys.stdout.write(tok.decode(args.ids))
        sys.stdout.write("\n")
    elif args.cmd == "fixture":
        tok = generate_java_fixture(args.out_dir, args.vocab_size, args.corpus_dir)
        print(f"wrote fixture to {args.out_dir}: vocab {tok.vocab_size}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
