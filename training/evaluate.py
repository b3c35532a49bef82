#!/usr/bin/python3
"""Evaluate a `qsparse` model directory the way the Java runtime scores text.

For every non-empty line (one paragraph) of the validation file, the model scores
``[<|endoftext|>] + encode(line)`` truncated to the first ``max_position_embeddings`` tokens:
the sum of the log-probabilities of every token after the BOS. The corpus loss is
``-(total log-probability) / (total scored tokens)`` and the perplexity ``exp(loss)``.

    /usr/bin/python3 training/evaluate.py --model models/qsparse-demo --valid models/data/valid.txt
    /usr/bin/python3 training/evaluate.py --model models/qsparse-demo --valid models/data/valid.txt \\
        --stats                         # also: non-zero inputs per projection, activated params
    /usr/bin/python3 training/evaluate.py --model models/qsparse-demo \\
        --generate "It is a truth universally acknowledged" --max-new-tokens 40

Prints one JSON object on stdout. Run with Debian's /usr/bin/python3 (torch).
"""

import argparse
import json
import math
import os
import sys
import time
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bpe_tokenizer import Tokenizer  # noqa: E402
from qsparse.model import QSparseForCausalLM, QuantLinear  # noqa: E402

BOS_FALLBACK = 0  # <|endoftext|> in our tokenizers


def read_paragraphs(path: str) -> List[str]:
    """The non-empty lines of a UTF-8 file (line terminators removed, text otherwise as is)."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    return [line for line in lines if line.strip()]


def bos_id(model: QSparseForCausalLM) -> Optional[int]:
    bos = model.config.bos_token_id
    if isinstance(bos, list):
        bos = bos[0] if bos else None
    return bos


def encode_for_scoring(tokenizer: Tokenizer, texts: Sequence[str], bos: Optional[int],
                       max_len: int) -> List[List[int]]:
    """``[bos] + encode(text)`` (no BOS if the config has none), cut to ``max_len`` tokens."""
    out = []
    for text in texts:
        ids = ([bos] if bos is not None else []) + tokenizer.encode(text)
        out.append(ids[:max_len])
    return out


@torch.no_grad()
def score_token_lists(model: QSparseForCausalLM, token_lists: Sequence[Sequence[int]],
                      batch_tokens: int = 8192) -> Dict[str, float]:
    """Sum of log p(token | prefix) over every token after the first of each list.

    Lists are batched by length with right padding; attention is causal and every other
    operation (top-K, int8 quantization, norms) is per token, so padding after a text does not
    change its scores. Log-probabilities are accumulated in float64.
    """
    was_training = model.training
    model.eval()
    order = sorted(range(len(token_lists)), key=lambda i: len(token_lists[i]))
    total_lp = 0.0
    total_n = 0
    per_text = [0.0] * len(token_lists)
    start = 0
    while start < len(order):
        longest = len(token_lists[order[start]])
        end = start
        while end < len(order):
            longest = max(longest, len(token_lists[order[end]]))
            if (end - start + 1) * longest > batch_tokens and end > start:
                break
            end += 1
        batch_ids = [order[j] for j in range(start, end)]
        longest = max(len(token_lists[i]) for i in batch_ids)
        if longest < 2:
            start = end
            continue
        ids = torch.zeros(len(batch_ids), longest, dtype=torch.long)
        mask = torch.zeros(len(batch_ids), longest - 1, dtype=torch.bool)
        for row, i in enumerate(batch_ids):
            toks = token_lists[i]
            ids[row, :len(toks)] = torch.tensor(toks, dtype=torch.long)
            mask[row, :len(toks) - 1] = True
        logits = model(ids[:, :-1])
        logp = F.log_softmax(logits.float(), dim=-1)
        target_lp = logp.gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1).double()
        target_lp = target_lp * mask
        sums = target_lp.sum(dim=1)
        for row, i in enumerate(batch_ids):
            per_text[i] = float(sums[row])
        total_lp += float(sums.sum())
        total_n += int(mask.sum())
        start = end
    model.train(was_training)
    loss = -total_lp / max(total_n, 1)
    return {"total_logprob": total_lp, "scored_tokens": total_n, "loss": loss,
            "perplexity": math.exp(loss), "per_text_logprob": per_text}


def evaluate_texts(model: QSparseForCausalLM, tokenizer: Tokenizer, texts: Sequence[str],
                   batch_tokens: int = 8192) -> Dict[str, float]:
    token_lists = encode_for_scoring(tokenizer, texts, bos_id(model),
                                     model.config.max_position_embeddings)
    result = score_token_lists(model, token_lists, batch_tokens)
    result["texts"] = len(texts)
    return result


# --------------------------------------------------------------------------------------------
# Activation statistics: how many weights are actually multiplied per token
# --------------------------------------------------------------------------------------------

PROJECTION_GROUPS = {
    "q_proj": "attn", "k_proj": "attn", "v_proj": "attn", "o_proj": "attn_out",
    "gate_proj": "mlp", "up_proj": "mlp", "down_proj": "mlp_out",
}


@torch.no_grad()
def activation_stats(model: QSparseForCausalLM, token_lists: Sequence[Sequence[int]],
                     batch_tokens: int = 8192) -> Dict:
    """Measured fraction of non-zero inputs of every linear projection, and the activated
    parameter count per token derived from it.

    activated = hidden_size (the one embedding row looked up)
              + sum over projections of (weights of the projection) * (mean fraction of its
                input entries that are non-zero over the tokens: the columns that are
                actually multiplied)
              + vocab_size * hidden_size (the lm head, dense: the final norm is not sparsified).
    Norm weights (a few thousand) are not counted.
    """
    was_training = model.training
    model.eval()
    nonzero: Dict[str, float] = {}
    widths: Dict[str, int] = {}
    weights: Dict[str, int] = {}
    state = {"mask": None}
    hooks = []
    for name, module in model.named_modules():
        if isinstance(module, QuantLinear):
            weights[name] = module.weight.numel()
            widths[name] = module.in_features
            nonzero[name] = 0.0

            def hook(mod, inputs, output, name=name):
                x = inputs[0]
                nz = (x != 0).sum(dim=-1).double()  # [B, T]
                nonzero[name] += float((nz * state["mask"]).sum())
            hooks.append(module.register_forward_hook(hook))
    tokens = 0
    try:
        order = sorted(range(len(token_lists)), key=lambda i: len(token_lists[i]))
        start = 0
        while start < len(order):
            end = start
            longest = 0
            while end < len(order):
                longest = max(longest, len(token_lists[order[end]]))
                if (end - start + 1) * longest > batch_tokens and end > start:
                    break
                end += 1
            batch_ids = order[start:end]
            longest = max(len(token_lists[i]) for i in batch_ids)
            ids = torch.zeros(len(batch_ids), longest, dtype=torch.long)
            mask = torch.zeros(len(batch_ids), longest, dtype=torch.double)
            for row, i in enumerate(batch_ids):
                ids[row, :len(token_lists[i])] = torch.tensor(token_lists[i])
                mask[row, :len(token_lists[i])] = 1
            state["mask"] = mask
            model(ids)
            tokens += int(mask.sum())
            start = end
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)

    c = model.config
    groups: Dict[str, Dict[str, float]] = {}
    activated_linear = 0.0
    linear_total = 0
    for name in weights:
        frac = nonzero[name] / (tokens * widths[name])
        activated_linear += frac * weights[name]
        linear_total += weights[name]
        group = PROJECTION_GROUPS[name.rsplit(".", 1)[-1]]
        g = groups.setdefault(group, {"fraction_sum": 0.0, "count": 0})
        g["fraction_sum"] += frac
        g["count"] += 1
    group_fractions = {g: v["fraction_sum"] / v["count"] for g, v in groups.items()}
    total_params = sum(p.numel() for p in model.parameters())
    lm_head = c.vocab_size * c.hidden_size
    return {
        "tokens": tokens,
        "total_params": total_params,
        "linear_params": linear_total,
        "nonzero_input_fraction": group_fractions,
        "activated_linear_params": round(activated_linear),
        "activated_params_per_token": round(c.hidden_size + activated_linear + lm_head),
        "dense_params_per_token": c.hidden_size + linear_total + lm_head,
    }


# --------------------------------------------------------------------------------------------
# Greedy generation (reference for the runtime's `generate`)
# --------------------------------------------------------------------------------------------

@torch.no_grad()
def greedy_generate(model: QSparseForCausalLM, tokenizer: Tokenizer, prompt: str,
                    max_new_tokens: int = 40, stop_at_eos: bool = True) -> Dict:
    """Greedy continuation of ``[bos] + encode(prompt)`` (recomputes the full prefix each step)."""
    model.eval()
    bos = bos_id(model)
    eos = model.config.eos_token_id
    ids = ([bos] if bos is not None else []) + tokenizer.encode(prompt)
    prompt_len = len(ids)
    for _ in range(max_new_tokens):
        if len(ids) >= model.config.max_position_embeddings:
            break
        logits = model(torch.tensor([ids], dtype=torch.long))[0, -1]
        nxt = int(torch.argmax(logits))
        if stop_at_eos and eos is not None and nxt == eos:
            break
        ids.append(nxt)
    new = ids[prompt_len:]
    return {"prompt": prompt, "completion": tokenizer.decode(new), "tokens": new}


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="model directory")
    ap.add_argument("--valid", default=None, help="paragraph-per-line validation text")
    ap.add_argument("--tokenizer", default=None, help="default: MODEL/tokenizer.json")
    ap.add_argument("--max-lines", type=int, default=0, help="only the first N paragraphs")
    ap.add_argument("--batch-tokens", type=int, default=8192)
    ap.add_argument("--stats", action="store_true",
                    help="also measure non-zero inputs per projection and activated params")
    ap.add_argument("--per-text", action="store_true", help="include every text's log-prob")
    ap.add_argument("--generate", action="append", default=[], metavar="PROMPT",
                    help="greedy continuation of PROMPT (repeatable)")
    ap.add_argument("--max-new-tokens", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=None, help="also write the JSON to this file")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    model = QSparseForCausalLM.from_pretrained(args.model)
    tokenizer = Tokenizer.load(args.tokenizer or os.path.join(args.model, "tokenizer.json"))
    result: Dict = {"model": args.model}
    if args.valid:
        texts = read_paragraphs(args.valid)
        if args.max_lines:
            texts = texts[:args.max_lines]
        t0 = time.time()
        token_lists = encode_for_scoring(tokenizer, texts, bos_id(model),
                                         model.config.max_position_embeddings)
        scored = score_token_lists(model, token_lists, args.batch_tokens)
        per_text = scored.pop("per_text_logprob")
        result.update({"valid": args.valid, "texts": len(texts), **scored,
                       "seconds": round(time.time() - t0, 2)})
        if args.per_text:
            result["per_text_logprob"] = per_text
        if args.stats:
            result["activation_stats"] = activation_stats(model, token_lists, args.batch_tokens)
    if args.generate:
        result["generations"] = [
            {k: v for k, v in greedy_generate(model, tokenizer, p, args.max_new_tokens).items()}
            for p in args.generate]
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
