#!/usr/bin/python3
"""Per-layer sparsity of the feed-forward activation, measured on a validation file.

    /usr/bin/python3 training/ffn_sparsity.py --model DIR --valid models/data/valid.txt [--out F]

For every layer, over every position the Java runtime's ``score --file`` forwards (each
non-empty line as ``[<|endoftext|>] + encode(line)`` cut to ``max_position_embeddings`` tokens,
all positions but the last), two vectors are counted:

* ``pre_topk``: h, the feed-forward activation (relu(up), up * silu(gate) or
  up * relu(gate)^2, after the sub-norm if any), before the sparsifier;
* ``down_proj_input``: what down_proj multiplies, i.e. h after the sparsifier (equal to h in a
  dense model).

For each: the fraction of entries that are exactly zero, and of those that are near zero:
exactly zero or ``|a| < 1e-3 * max|a|`` of their row (one token's vector), computed in float32
as the runtime's ``FeedForwardSparsity`` does, so the two can be compared. Also prints the
validation loss and perplexity (evaluate.py's definition). Prints one JSON object.
"""

import argparse
import json
import os
import sys
from typing import Dict, List, Optional, Sequence

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bpe_tokenizer import Tokenizer  # noqa: E402
from evaluate import (bos_id, encode_for_scoring, read_paragraphs,  # noqa: E402
                      score_token_lists)
from qsparse.model import QSparseForCausalLM  # noqa: E402

NEAR_ZERO_FRACTION = 1e-3  # of the row's max |a|


def count_zeros(rows: torch.Tensor) -> Dict[str, int]:
    """Entries, exact zeros and near zeros of ``rows`` [N, width] (float32)."""
    magnitude = rows.detach().float().abs()
    threshold = magnitude.amax(dim=-1, keepdim=True) * torch.tensor(NEAR_ZERO_FRACTION,
                                                                     dtype=torch.float32)
    exact = magnitude == 0
    near = exact | (magnitude < threshold)
    return {"entries": rows.numel(), "exact_zero": int(exact.sum()), "near_zero": int(near.sum())}


class FeedForwardProbe:
    """Forward pre-hooks on every layer's output sparsifier and down_proj that count zeros."""

    def __init__(self, model: QSparseForCausalLM):
        layers = model.model.layers
        self.counts = [{"pre_topk": {"entries": 0, "exact_zero": 0, "near_zero": 0},
                        "down_proj_input": {"entries": 0, "exact_zero": 0, "near_zero": 0}}
                       for _ in layers]
        self.hooks = []
        for index, layer in enumerate(layers):
            self.hooks.append(layer.mlp.output_sparsifier.register_forward_pre_hook(
                self._counter(index, "pre_topk")))
            self.hooks.append(layer.mlp.down_proj.register_forward_pre_hook(
                self._counter(index, "down_proj_input")))

    def _counter(self, index: int, where: str):
        def hook(module, inputs):
            x = inputs[0]
            c = count_zeros(x.reshape(-1, x.shape[-1]))
            for key, value in c.items():
                self.counts[index][where][key] += value
        return hook

    def remove(self) -> None:
        for h in self.hooks:
            h.remove()

    def fractions(self) -> List[Dict]:
        out = []
        for index, layer in enumerate(self.counts):
            entry = {"layer": index}
            for where, c in layer.items():
                n = max(c["entries"], 1)
                entry[where] = {"exact_zero": c["exact_zero"] / n, "near_zero": c["near_zero"] / n,
                                "entries": c["entries"]}
            out.append(entry)
        return out


@torch.no_grad()
def ffn_sparsity(model: QSparseForCausalLM, token_lists: Sequence[Sequence[int]]) -> List[Dict]:
    """Per-layer fractions over the positions the runtime forwards when scoring (all but the last)."""
    model.eval()
    probe = FeedForwardProbe(model)
    try:
        for tokens in token_lists:
            if len(tokens) < 2:
                continue  # nothing to predict: the runtime refuses such a line
            model(torch.tensor([list(tokens[:-1])], dtype=torch.long))
    finally:
        probe.remove()
    return probe.fractions()


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="model directory")
    ap.add_argument("--valid", required=True, help="paragraph-per-line validation text")
    ap.add_argument("--max-lines", type=int, default=0, help="only the first N paragraphs")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None, help="also write the JSON to this file")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    model = QSparseForCausalLM.from_pretrained(args.model)
    tokenizer = Tokenizer.load(os.path.join(args.model, "tokenizer.json"))
    texts = read_paragraphs(args.valid)
    if args.max_lines:
        texts = texts[:args.max_lines]
    token_lists = encode_for_scoring(tokenizer, texts, bos_id(model),
                                     model.config.max_position_embeddings)
    scored = score_token_lists(model, token_lists)
    scored.pop("per_text_logprob")
    result = {"model": args.model, "valid": args.valid, "texts": len(texts),
              "mlp_activation": model.config.mlp_activation,
              "topk_ratio_mlp_out": model.config.topk_ratio_mlp_out,
              "intermediate_size": model.config.intermediate_size,
              "parameters": sum(p.numel() for p in model.parameters()),
              **scored, "layers": ffn_sparsity(model, token_lists)}
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
