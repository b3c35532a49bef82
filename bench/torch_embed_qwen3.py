"""PyTorch eager embeddings of a Qwen3-Embedding-style directory: the peer row of the embedding-models bench.

Called by `bin/qsparse bench --embedding-models` on the same weights the Java runtime runs (widened
to float32, as a PyTorch CPU user without bf16 kernels runs them), with the token ids our tokenizer
gave (a JSON list of id lists, the template's suffix included). The model is the independent
reference `training/qsparse/qwen3_embedding.py` (plain matmuls, causal attention, last-token
pooling): one text per forward pass, as it embeds. Torch threads = --threads, pinned before torch
loads (Debian's OpenBLAS ignores torch.set_num_threads). Prints one JSON line on stdout.

    /usr/bin/python3 bench/torch_embed_qwen3.py --model DIR --ids IDS.json --threads 1
"""

import argparse
import json
import os
import sys
import time


import torch_threads  # noqa: E402  (bench/, beside this script)

torch_threads.pin_from_argv()

import torch  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "training"))
from qsparse.qwen3_embedding import Qwen3Embedder  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--ids", required=True, help="JSON file: a list of token-id lists")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    with open(args.ids, encoding="utf-8") as f:
        ids = json.load(f)
    if not ids or not all(isinstance(r, list) and r for r in ids):
        raise SystemExit("--ids must be a non-empty list of non-empty id lists")
    model = Qwen3Embedder(args.model)
    latencies = []
    with torch.no_grad():
        model.embed(ids[0])  # warm-up
        t0 = time.perf_counter()
        cpu0 = time.process_time()  # every thread of this process
        for row in ids:
            s = time.perf_counter()
            model.embed(row)
            latencies.append((time.perf_counter() - s) * 1e3)
        seconds = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, -(-99 * len(latencies) // 100) - 1)]
    print(json.dumps({
        "torch": torch.__version__,
        "events": len(ids),
        "single_events_per_s": len(ids) / seconds,
        "single_events_per_cpu_s": len(ids) / cpu,
        "p99_ms": p99,
    }))


if __name__ == "__main__":
    main()
