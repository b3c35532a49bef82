"""Writes how Oniguruma, the regex engine of the Rust tokenizers, splits texts with the Split
patterns of GPT-2, Llama 3 and Qwen2/Qwen3: OnigurumaReferenceTest holds OnigurumaRegex to it.

Needs gcc and Debian's libonig-dev (Oniguruma 6.9.8). Regenerate from model-runtime/:
    /usr/bin/python3 src/test/onig/onig_pieces.py src/test/resources/tokenizer/onig/pieces.json
"""

import json
import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

PATTERNS = {
    "gpt2": r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+",
    "llama3": r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+",
    "qwen2": r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+",
    # Not in a shipped tokenizer: anchors, dot and Oniguruma-only escapes.
    "anchors": r"^\s*\h+|.$|\v+|[^\S\n]+",
}

# Where the JavaScript reference differs from Oniguruma, and the rest of the Unicode classes.
FIXED = [
    "a\u0085b", "x \u0085 y", "a\ufeffb", " \ufeff ", "it'\u017f", "IT'\u017fS", "the K\u212a'\u212a",
    "a\u000bb\u000cc", "\u2028line\u2029para", "\u00a0nbsp\u3000ideo\u2003em", "zw\u200bsp", "mvs\u180eb",
    "'s's'S'll'LL'Ll're'RE've'VE'm'M'd'D't'T", "\u2019s curly", "don\u2019t", "0x1F 0xfe ABC abc",
    "deadBEEF cafe\nface", "line\r\nnext\rold mac\n\n", "e\u0301 n\u0303 \u0915\u094d\u0937",
    "\u0663\u0664\u0665\u0666 \u096a\u096b\u096c\u096d \u216b \u00bd \u00b2\u00b3", "12345678",
    "\U0001F600\U0001F468\u200d\U0001F469\u200d\U0001F467 \U0001F1E9\U0001F1EA \U0001F44D\U0001F3FD",
    "\u4e2d\u6587\u5b57 \u65e5\u672c\u8a9e\u3067\u3059 \ud55c\uad6d\uc5b4", "\u0645\u0631\u062d\u0628\u0627",
    "tab\t\tx\t", "   ", "\n", "a", "\u0001\u007f\u0080\u009f", "_under_score__", "x\r\n\r\n  y",
]

FRAGMENTS = [
    "a", "Zq", "\u00e9", "\u00df", "\u017f", "\u212a", "\u0130", "\u4e2d\u6587", "\u65e5\u672c", "\ud55c",
    "\u0639\u0631\u0628", "\u0939\u093f\u0928\u094d\u0926\u0940", "\u0e44\u0e17\u0e22", "\u03a9", "\u0436",
    "\u0301", "\u0308", "0", "12", "345", "\u0663", "\u096a", "\u216b", "\u00bd", "\u00b2",
    "'", "'s", "'S", "'ll", "'LL", "'Re", "'ve", "'m", "'D", "'t", "'\u017f", "\u2019s",
    ".", ",", "!?", "--", "...", "()", "{}", "#", "@", "_", "/", "\\", "\"", "<|eot_id|>",
    " ", "  ", "\t", "\n", "\r\n", "\r", "\u000b", "\u000c", "\u0085", "\u00a0", "\u2028", "\u2029",
    "\u3000", "\u2003", "\u200b", "\ufeff", "\u180e", "\u0001",
    "\U0001F600", "\U0001F468\u200d\U0001F469\u200d\U0001F467", "\U0001F1E9\U0001F1EA", "\U0001F44D\U0001F3FD",
    "\u2764\ufe0f",
]


def random_texts(count, seed):
    rng = random.Random(seed)
    return ["".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 12))) for _ in range(count)]


def pieces(binary, pattern, texts):
    """Isolated split: every match and every gap between matches, in order."""
    data = b"".join(str(len(b)).encode() + b"\n" + b for b in (t.encode("utf-8") for t in texts))
    out = subprocess.run([binary, pattern], input=data, capture_output=True, check=True).stdout
    lines = out.decode().split("\n")
    result = []
    for text, line in zip(texts, lines):
        raw = text.encode("utf-8")
        cuts, prev = [], 0
        for span in line.split():
            start, end = (int(v) for v in span.split("-"))
            if prev < start:
                cuts.append(raw[prev:start].decode("utf-8"))
            cuts.append(raw[start:end].decode("utf-8"))
            prev = end
        if prev < len(raw):
            cuts.append(raw[prev:].decode("utf-8"))
        result.append(cuts)
    return result


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: onig_pieces.py OUTPUT.json")
    with tempfile.TemporaryDirectory() as tmp:
        binary = os.path.join(tmp, "onig_split")
        subprocess.run(["gcc", "-O1", "-o", binary, os.path.join(HERE, "onig_split.c"), "-lonig"], check=True)
        version = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", "libonig-dev"], capture_output=True, text=True).stdout
        texts = FIXED + random_texts(200, seed=13)
        cases = {name: pieces(binary, p, texts) for name, p in PATTERNS.items()}
    doc = {
        "engine": "Oniguruma (libonig-dev " + version + "), UTF-8, ONIG_SYNTAX_DEFAULT, ONIG_OPTION_NONE",
        "patterns": PATTERNS,
        "cases": [{"text": t, "pieces": {name: cases[name][i] for name in PATTERNS}} for i, t in enumerate(texts)],
    }
    os.makedirs(os.path.dirname(os.path.abspath(sys.argv[1])), exist_ok=True)
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=None, separators=(",", ":"))
        f.write("\n")
    print(sys.argv[1] + ": " + str(len(texts)) + " texts x " + str(len(PATTERNS)) + " patterns")


if __name__ == "__main__":
    main()
