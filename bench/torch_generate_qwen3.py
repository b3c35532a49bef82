"""PyTorch eager generation on a Qwen3 directory: the PyTorch row of the embedding-models bench's generation table.

The module is the one training/export_qwen3_embedding_onnx.py --decoder traces for ONNX Runtime
(the published bf16 weights widened to float32, the reference's loader; a KV cache per layer, the
tied lm head), run eagerly: decode is one forward per token with the previous presents as its pasts
(greedy, logits every token, after a --prompt-token prompt), prefill one forward over --prefill
tokens from an empty cache; each --reps times after two warm-ups, medians reported. The logits of
--parity-tokens, one step each through the cache, are written to --logits-out (float32
little-endian, one row of vocab_size per token) for the caller to compare with its own. Torch
threads = --threads, pinned before torch loads (Debian's OpenBLAS ignores torch.set_num_threads).
Prints one JSON line on stdout.

    /usr/bin/python3 bench/torch_generate_qwen3.py --model DIR --threads 1 --prompt 16 --decode 32 \\
        --prefill 128 --reps 3 --parity-tokens 5,17,3 --logits-out FILE
"""

import argparse
import os
import sys
import time


import torch_threads  # noqa: E402  (bench/, beside this script)

torch_threads.pin_from_argv()

import json  # noqa: E402

import torch  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "training"))
import export_qwen3_embedding_onnx as exporter  # noqa: E402

MAX_TOKENS = 32768


class Step:
    """One sequence through the decoder module: the previous forward's presents are the cache."""

    def __init__(self, module):
        self.module = module
        self.past = [torch.zeros(1, module.kv, 0, module.hd) for _ in range(2 * module.layers)]
        self.position = 0

    def next(self, tokens):
        t = len(tokens)
        out = self.module(torch.tensor([tokens]), torch.arange(self.position, self.position + t).view(1, t), *self.past)
        self.past = list(out[1:])
        self.position += t
        return out[0][0]


def decode(module, prompt, tokens):
    step = Step(module)
    logits = step.next(prompt)
    t0 = time.perf_counter()
    for _ in range(tokens):
        logits = step.next([int(logits.argmax())])
    return tokens / (time.perf_counter() - t0)


def prefill(module, tokens):
    t0 = time.perf_counter()
    Step(module).next(tokens)
    return len(tokens) / (time.perf_counter() - t0)


def median(values):
    return sorted(values)[len(values) // 2]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--prompt", type=int, default=16)
    ap.add_argument("--decode", type=int, default=32)
    ap.add_argument("--prefill", type=int, default=128)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--parity-tokens", required=True, help="comma-separated ids whose logits go to --logits-out")
    ap.add_argument("--logits-out", required=True)
    args = ap.parse_args(argv)
    for name in ("prompt", "decode", "prefill", "reps"):
        if not 1 <= getattr(args, name) <= MAX_TOKENS:
            raise SystemExit(f"--{name} must be 1 to {MAX_TOKENS}, got {getattr(args, name)}")
    torch.set_num_threads(args.threads)
    module = exporter.load(args.model, decoder=True)
    vocab = module.lm_head_t.shape[1]
    parity = [int(t) for t in args.parity_tokens.split(",")]
    if not parity or any(not 0 <= t < vocab for t in parity):
        raise SystemExit(f"--parity-tokens must be ids in [0, {vocab})")
    if args.prompt + args.decode + 4 > module.cos.shape[0] or args.prefill > module.cos.shape[0]:
        raise SystemExit(f"more positions than the model's {module.cos.shape[0]}")
    g = torch.Generator().manual_seed(7)
    prompt = torch.randint(vocab, (args.prompt,), generator=g).tolist()
    prefill_ids = torch.randint(vocab, (args.prefill,), generator=g).tolist()
    with torch.no_grad():
        step = Step(module)
        rows = [step.next([t]) for t in parity]
        torch.stack(rows).numpy().astype("<f4").tofile(args.logits_out)
        for _ in range(2):  # warm-up, as the other rows
            decode(module, prompt, max(4, args.decode // 4))
            prefill(module, prefill_ids)
        d, p = [], []
        for _ in range(args.reps):
            d.append(decode(module, prompt, args.decode))
            p.append(prefill(module, prefill_ids))
    print(json.dumps({"torch": torch.__version__, "vocab_size": vocab, "decode_tokens_per_s": median(d),
                      "prefill_tokens_per_s": median(p)}))


if __name__ == "__main__":
    main()
