#!/usr/bin/python3
"""Train a `qsparse` causal LM (docs/model-format.md) from a tokenizer and a text corpus.

    /usr/bin/python3 training/train.py --tokenizer training/work/tokenizer.json \\
        --train training/work/corpus/train.txt --valid models/data/valid.txt \\
        --out models/qsparse-demo --work-dir training/work/runs/qsparse-demo \\
        --topk-ratio 0.5 --activation-bits 8 --max-minutes 22

Data: every non-empty line of the corpus is a document (a paragraph). Each document becomes
one or more units ``[<|endoftext|>] + tokens`` (documents longer than the context are cut into
pieces of at most ``context`` tokens, each with its own leading ``<|endoftext|>``). Every epoch
shuffles the units and packs them into rows of ``context + 1`` tokens; every row starts at a
unit boundary, i.e. with ``<|endoftext|>`` followed by text, exactly as the runtime feeds a
text. A unit that does not fit in the rest of a row fills the row with its beginning and then
starts the next row in full.

Optimisation: AdamW (weight decay on matrices only), linear warmup then cosine decay to
``--min-lr-ratio * --lr``, gradient-norm clipping. The schedule runs over
``--max-steps`` and/or ``--max-minutes``: progress = max(step / max_steps, wall / max_minutes),
and training stops when progress reaches 1, so a time budget still ends on a fully decayed
learning rate.

Checkpoints (model, optimizer, data position, RNG, wall time) go to ``--work-dir`` every
``--checkpoint-minutes`` and on SIGTERM/SIGINT; rerunning the same command resumes.

At the end the model is exported to ``--out`` (config.json, model.safetensors in F32 with the
latent weights, tokenizer.json), evaluated on ``--valid`` the way the Java runtime scores text
(see evaluate.py), and ``training_log.json`` (settings, steps, tokens, wall time, validation
history and final loss) is written into the model directory and the work directory.
"""

import argparse
import hashlib
import json
import math
import os
import random
import shutil
import signal
import sys
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bpe_tokenizer import Tokenizer  # noqa: E402
from evaluate import evaluate_texts, read_paragraphs  # noqa: E402
from qsparse.model import QSparseConfig, QSparseForCausalLM  # noqa: E402

EOT = "<|endoftext|>"
ARCH_KEYS = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
             "num_attention_heads", "num_key_value_heads", "head_dim", "max_position_embeddings",
             "rms_norm_eps", "rope_theta", "tie_word_embeddings", "topk_ratio", "topk_ratio_attn",
             "topk_ratio_attn_out", "topk_ratio_mlp", "topk_ratio_mlp_out", "activation_bits",
             "topk_rescale", "weight_quant", "mlp_activation", "use_sub_norms", "use_bias")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------

def file_digest(paths: Sequence[str]) -> str:
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest()[:16]


def tokenize_documents(tokenizer: Tokenizer, texts: Sequence[str]) -> List[np.ndarray]:
    dtype = np.uint16 if tokenizer.vocab_size <= 65536 else np.int32
    return [np.asarray(tokenizer.encode(t), dtype=dtype) for t in texts]


def load_tokenized_corpus(tokenizer_path: str, corpus_paths: Sequence[str],
                          cache_dir: Optional[str]) -> List[np.ndarray]:
    """Tokenized non-empty lines of the corpus files (cached by content hash)."""
    cache = None
    if cache_dir:
        key = file_digest([tokenizer_path, *corpus_paths])
        cache = os.path.join(cache_dir, f"tokens-{key}.npz")
        if os.path.exists(cache):
            data = np.load(cache)
            tokens, offsets = data["tokens"], data["offsets"]
            return [tokens[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]
    tokenizer = Tokenizer.load(tokenizer_path)
    texts = [line for p in corpus_paths for line in read_paragraphs(p)]
    t0 = time.time()
    docs = tokenize_documents(tokenizer, texts)
    log(f"tokenized {len(docs)} documents, {sum(len(d) for d in docs)} tokens "
        f"in {time.time() - t0:.1f}s")
    if cache:
        os.makedirs(cache_dir, exist_ok=True)
        offsets = np.cumsum([0] + [len(d) for d in docs]).astype(np.int64)
        tmp = cache + ".tmp.npz"
        np.savez(tmp, tokens=np.concatenate(docs) if docs else np.zeros(0, np.uint16),
                 offsets=offsets)
        os.replace(tmp, cache)
    return docs


def make_units(docs: Sequence[np.ndarray], context: int, sep: int) -> List[np.ndarray]:
    """``[sep] + piece`` for every piece of at most ``context`` tokens of every document."""
    units = []
    for d in docs:
        if len(d) == 0:
            continue
        for start in range(0, len(d), context):
            piece = d[start:start + context]
            units.append(np.concatenate([np.array([sep], dtype=np.int64),
                                         piece.astype(np.int64)]))
    return units


def pack_epoch(units: Sequence[np.ndarray], context: int, seed: int, epoch: int) -> np.ndarray:
    """Rows [N, context + 1] of shuffled units, every row starting at a unit boundary."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(units))
    width = context + 1
    rows = []
    i = 0
    n = len(order)
    while i < n:
        row = np.empty(width, dtype=np.int64)
        fill = 0
        while i < n and fill + len(units[order[i]]) <= width:
            u = units[order[i]]
            row[fill:fill + len(u)] = u
            fill += len(u)
            i += 1
        if fill < width:
            if i >= n:
                break  # the last, partial row is dropped
            u = units[order[i]]  # fill with its beginning; it starts the next row in full
            row[fill:] = u[:width - fill]
        rows.append(row)
    if not rows:
        raise ValueError("corpus too small for one row")
    return np.stack(rows)


class Batches:
    """Deterministic stream of [B, context + 1] batches with a resumable position."""

    def __init__(self, units, context: int, batch_size: int, seed: int, epoch: int = 0,
                 row: int = 0):
        self.units, self.context, self.batch_size, self.seed = units, context, batch_size, seed
        self.epoch, self.row = epoch, row
        self.rows = pack_epoch(units, context, seed, epoch)
        self.rows_per_epoch = len(self.rows)

    def next(self) -> torch.Tensor:
        if self.row + self.batch_size > len(self.rows):
            self.epoch += 1
            self.row = 0
            self.rows = pack_epoch(self.units, self.context, self.seed, self.epoch)
        batch = self.rows[self.row:self.row + self.batch_size]
        self.row += self.batch_size
        return torch.from_numpy(batch)

    def state(self) -> Dict[str, int]:
        return {"epoch": self.epoch, "row": self.row}


# --------------------------------------------------------------------------------------------
# Model / optimisation
# --------------------------------------------------------------------------------------------

def build_config(args, vocab_size: int, eot_id: int) -> QSparseConfig:
    return QSparseConfig(
        vocab_size=vocab_size,
        hidden_size=args.hidden_size,
        intermediate_size=args.intermediate_size,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        num_key_value_heads=args.kv_heads,
        head_dim=args.head_dim,
        max_position_embeddings=args.context,
        rms_norm_eps=args.rms_norm_eps,
        rope_theta=args.rope_theta,
        tie_word_embeddings=not args.untied,
        bos_token_id=eot_id,
        eos_token_id=eot_id,
        topk_ratio=args.topk_ratio,
        topk_ratio_attn=args.topk_ratio_attn,
        topk_ratio_attn_out=args.topk_ratio_attn_out,
        topk_ratio_mlp=args.topk_ratio_mlp,
        topk_ratio_mlp_out=args.topk_ratio_mlp_out,
        activation_bits=args.activation_bits,
        topk_rescale=args.topk_rescale,
        weight_quant=args.weight_quant,
        mlp_activation=args.mlp_activation,
        use_sub_norms=args.sub_norms,
        use_bias=args.bias,
    )


def make_optimizer(model: torch.nn.Module, args) -> torch.optim.Optimizer:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if p.dim() >= 2 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": args.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=args.lr, betas=(args.beta1, args.beta2), eps=1e-8)


def lr_at(step: int, progress: float, args) -> float:
    """Linear warmup over warmup_steps, then cosine from lr to min_lr_ratio * lr over progress."""
    if step < args.warmup_steps:
        return args.lr * (step + 1) / args.warmup_steps
    p = min(max(progress, 0.0), 1.0)
    floor = args.lr * args.min_lr_ratio
    return floor + 0.5 * (args.lr - floor) * (1 + math.cos(math.pi * p))


def count_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# --------------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------------

def save_checkpoint(path: str, state: Dict) -> None:
    tmp = path + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)


def rng_state() -> Dict:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
            "python": random.getstate()}


def set_rng_state(state: Dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])


# --------------------------------------------------------------------------------------------
# Main loop
# --------------------------------------------------------------------------------------------

def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    io = ap.add_argument_group("data and output")
    io.add_argument("--tokenizer", required=True, help="tokenizer.json (<|endoftext|> = BOS/EOS)")
    io.add_argument("--train", action="append", required=True,
                    help="training text, one document (paragraph) per line (repeatable)")
    io.add_argument("--valid", default=None,
                    help="validation text, one paragraph per line, scored like the runtime")
    io.add_argument("--out", required=True, help="model directory to export to")
    io.add_argument("--work-dir", default=None,
                    help="checkpoints and logs (default: training/work/runs/<basename of out>)")
    io.add_argument("--cache-dir", default=None,
                    help="tokenized-corpus cache (default: <work-dir>/../cache)")
    io.add_argument("--resume", choices=("auto", "never"), default="auto",
                    help="auto: continue from <work-dir>/checkpoint.pt if present")
    io.add_argument("--export-dtype", choices=("float32", "bfloat16"), default="float32")

    arch = ap.add_argument_group("architecture")
    arch.add_argument("--hidden-size", type=int, default=256)
    arch.add_argument("--layers", type=int, default=4)
    arch.add_argument("--heads", type=int, default=4)
    arch.add_argument("--kv-heads", type=int, default=2)
    arch.add_argument("--head-dim", type=int, default=None, help="default hidden/heads")
    arch.add_argument("--intermediate-size", type=int, default=640)
    arch.add_argument("--context", type=int, default=256,
                      help="max_position_embeddings and training row length")
    arch.add_argument("--rope-theta", type=float, default=10000.0)
    arch.add_argument("--rms-norm-eps", type=float, default=1e-5)
    arch.add_argument("--untied", action="store_true", help="separate lm_head (default: tied)")
    arch.add_argument("--topk-ratio", type=float, default=1.0,
                      help="kept fraction of every linear input (1.0 = dense)")
    arch.add_argument("--topk-ratio-attn", type=float, default=None)
    arch.add_argument("--topk-ratio-attn-out", type=float, default=None)
    arch.add_argument("--topk-ratio-mlp", type=float, default=None)
    arch.add_argument("--topk-ratio-mlp-out", type=float, default=None)
    arch.add_argument("--activation-bits", type=int, choices=(0, 8), default=0)
    arch.add_argument("--topk-rescale", choices=("none", "l2", "l2_preserve"), default="none")
    arch.add_argument("--weight-quant", choices=("none", "ternary", "int8"), default="none")
    arch.add_argument("--mlp-activation", choices=("relu2glu", "swiglu", "relu"),
                      default="relu2glu",
                      help="feed-forward: up*relu(gate)^2, up*silu(gate), or relu(up) without gate")
    arch.add_argument("--sub-norms", action="store_true",
                      help="attn_sub_norm/ffn_sub_norm (BitNet b1.58 2B4T)")
    arch.add_argument("--bias", action="store_true", help="a bias on every projection")

    tr = ap.add_argument_group("training")
    tr.add_argument("--batch-size", type=int, default=16, help="rows of context+1 tokens")
    tr.add_argument("--lr", type=float, default=2e-3)
    tr.add_argument("--min-lr-ratio", type=float, default=0.1)
    tr.add_argument("--warmup-steps", type=int, default=100)
    tr.add_argument("--weight-decay", type=float, default=0.1)
    tr.add_argument("--beta1", type=float, default=0.9)
    tr.add_argument("--beta2", type=float, default=0.95)
    tr.add_argument("--grad-clip", type=float, default=1.0)
    tr.add_argument("--max-steps", type=int, default=0, help="0 = no step limit")
    tr.add_argument("--max-minutes", type=float, default=0.0,
                    help="wall-time budget for training (0 = none); needs this or --max-steps")
    tr.add_argument("--init-std", type=float, default=0.02)
    tr.add_argument("--seed", type=int, default=1234)
    tr.add_argument("--threads", type=int, default=2)
    tr.add_argument("--log-every", type=int, default=20)
    tr.add_argument("--eval-every-minutes", type=float, default=4.0)
    tr.add_argument("--eval-every-steps", type=int, default=0,
                    help="also evaluate every N steps (0 = only by minutes), for step-aligned curves")
    tr.add_argument("--eval-max-lines", type=int, default=0,
                    help="paragraphs of --valid used for the periodic evaluation (0 = all)")
    tr.add_argument("--checkpoint-minutes", type=float, default=3.0)
    args = ap.parse_args(argv)
    if not args.max_steps and not args.max_minutes:
        ap.error("give --max-steps and/or --max-minutes")
    if args.work_dir is None:
        here = os.path.dirname(os.path.abspath(__file__))
        work_dir = os.path.join(here, "work", "runs", os.path.basename(os.path.normpath(args.out)))
        # relative to the current directory when below it (keeps training_log.json portable)
        rel = os.path.relpath(work_dir)
        args.work_dir = work_dir if rel.startswith("..") else rel
    if args.cache_dir is None:
        args.cache_dir = os.path.join(os.path.dirname(os.path.normpath(args.work_dir)), "cache")
    return args


def train(args: argparse.Namespace) -> Dict:
    torch.set_num_threads(args.threads)
    os.makedirs(args.work_dir, exist_ok=True)
    ckpt_path = os.path.join(args.work_dir, "checkpoint.pt")

    tokenizer = Tokenizer.load(args.tokenizer)
    eot_id = tokenizer.token_id(EOT)
    if eot_id is None:
        raise SystemExit(f"tokenizer has no {EOT} token")
    docs = load_tokenized_corpus(args.tokenizer, args.train, args.cache_dir)
    units = make_units(docs, args.context, eot_id)
    corpus_tokens = int(sum(len(d) for d in docs))

    valid_texts = read_paragraphs(args.valid) if args.valid else []
    periodic_texts = valid_texts[:args.eval_max_lines] if args.eval_max_lines else valid_texts

    config = build_config(args, tokenizer.vocab_size, eot_id)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    random.seed(args.seed)
    model = QSparseForCausalLM(config)
    model.init_weights(std=args.init_std)
    optimizer = make_optimizer(model, args)

    step, tokens_seen, wall_before = 0, 0, 0.0
    resumed_loss_ema = None
    history: List[Dict] = []
    train_curve: List[List] = []  # [step, loss of that step's batch] every --log-every steps
    data_state = {"epoch": 0, "row": 0}
    if args.resume == "auto" and os.path.exists(ckpt_path):
        ckpt = torch.load(ckpt_path)
        saved = ckpt["config"]
        mine = config.to_dict(include_training_keys=True)
        diff = {k: (saved.get(k), mine.get(k)) for k in ARCH_KEYS if saved.get(k) != mine.get(k)}
        if diff:
            raise SystemExit(f"checkpoint {ckpt_path} has another architecture: {diff}")
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        step, tokens_seen = ckpt["step"], ckpt["tokens_seen"]
        wall_before, history = ckpt["wall_seconds"], ckpt["history"]
        train_curve = ckpt.get("train_curve", [])
        data_state = ckpt["data"]
        set_rng_state(ckpt["rng"])
        resumed_loss_ema = ckpt.get("loss_ema")
        log(f"resumed from {ckpt_path} at step {step} ({tokens_seen} tokens, "
            f"{wall_before / 60:.1f} min)")
    batches = Batches(units, args.context, args.batch_size, args.seed, **data_state)

    n_params = count_params(model)
    log(f"model: {n_params} parameters; corpus {len(docs)} documents, {corpus_tokens} tokens, "
        f"{len(units)} units, {batches.rows_per_epoch} rows of {args.context + 1}/epoch; "
        f"config {json.dumps(config.to_dict())}")

    stop = {"signal": None}

    def on_signal(signum, frame):
        stop["signal"] = signum
    old_handlers = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}

    def checkpoint(wall: float) -> None:
        save_checkpoint(ckpt_path, {
            "config": config.to_dict(include_training_keys=True), "args": vars(args),
            "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "step": step, "tokens_seen": tokens_seen, "wall_seconds": wall,
            "history": history, "train_curve": train_curve, "data": batches.state(), "rng": rng_state(),
            "loss_ema": loss_ema})

    def progress(wall: float) -> float:
        p = 0.0
        if args.max_steps:
            p = max(p, step / args.max_steps)
        if args.max_minutes:
            p = max(p, wall / (args.max_minutes * 60))
        return p

    def periodic_eval(wall: float, train_loss: float) -> None:
        entry = {"step": step, "tokens_seen": tokens_seen, "minutes": round(wall / 60, 2),
                 "train_loss": round(train_loss, 4)}
        if periodic_texts:
            t0 = time.time()
            r = evaluate_texts(model, tokenizer, periodic_texts)
            entry.update(valid_loss=round(r["loss"], 4), valid_ppl=round(r["perplexity"], 2),
                         eval_seconds=round(time.time() - t0, 1))
        history.append(entry)
        log(f"eval {json.dumps(entry)}")

    t_start = time.time() - wall_before
    last_ckpt = last_eval = time.time()
    model.train()
    loss_ema = resumed_loss_ema
    first_loss = history[0].get("first_train_loss") if history else None
    window_t, window_tokens = time.time(), 0
    while True:
        wall = time.time() - t_start
        if progress(wall) >= 1.0 or stop["signal"] is not None:
            break
        lr = lr_at(step, progress(wall), args)
        for g in optimizer.param_groups:
            g["lr"] = lr
        batch = batches.next()
        inputs, targets = batch[:, :-1], batch[:, 1:]
        logits = model(inputs)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        optimizer.step()
        step += 1
        tokens_seen += targets.numel()
        window_tokens += targets.numel()
        lv = float(loss)
        if not math.isfinite(lv):
            raise SystemExit(f"non-finite loss at step {step}")
        loss_ema = lv if loss_ema is None else 0.95 * loss_ema + 0.05 * lv
        if first_loss is None:
            first_loss = lv
            history.append({"step": step, "first_train_loss": lv})
        if step % args.log_every == 0 or step == 1:
            train_curve.append([step, round(lv, 4)])
            now = time.time()
            log(f"step {step} loss {lv:.4f} (ema {loss_ema:.4f}) lr {lr:.2e} "
                f"gnorm {float(grad_norm):.2f} tok/s {window_tokens / (now - window_t):.0f} "
                f"tokens {tokens_seen} epoch {tokens_seen / corpus_tokens:.2f} "
                f"wall {(now - t_start) / 60:.1f} min")
            window_t, window_tokens = now, 0
        by_steps = args.eval_every_steps and step % args.eval_every_steps == 0
        by_minutes = (args.eval_every_minutes
                      and time.time() - last_eval >= args.eval_every_minutes * 60)
        if by_steps or by_minutes:
            periodic_eval(time.time() - t_start, loss_ema)
            last_eval = time.time()
        if time.time() - last_ckpt >= args.checkpoint_minutes * 60:
            checkpoint(time.time() - t_start)
            last_ckpt = time.time()

    wall = time.time() - t_start
    checkpoint(wall)
    for s, h in old_handlers.items():
        signal.signal(s, h)
    if stop["signal"] is not None:
        log(f"stopped by signal {stop['signal']} at step {step}; checkpoint saved, rerun to resume")
        raise SystemExit(130)
    log(f"training done: {step} steps, {tokens_seen} tokens, {wall / 60:.1f} min")

    # ---- export ----------------------------------------------------------------------------
    dtype = torch.float32 if args.export_dtype == "float32" else torch.bfloat16
    model.eval()
    model.save_pretrained(args.out, dtype=dtype)
    shutil.copyfile(args.tokenizer, os.path.join(args.out, "tokenizer.json"))
    final = None
    if valid_texts:
        exported = QSparseForCausalLM.from_pretrained(args.out)  # evaluate what was written
        t0 = time.time()
        r = evaluate_texts(exported, tokenizer, valid_texts)
        final = {"valid_file": args.valid, "texts": r["texts"],
                 "scored_tokens": r["scored_tokens"], "loss": r["loss"],
                 "perplexity": r["perplexity"], "eval_seconds": round(time.time() - t0, 1)}
        log(f"final validation {json.dumps(final)}")
    summary = {
        "model_dir": args.out,
        "config": config.to_dict(),
        "parameters": n_params,
        "settings": {k: v for k, v in vars(args).items()},
        "corpus": {"files": args.train, "documents": len(docs), "tokens": corpus_tokens,
                   "units": len(units), "rows_per_epoch": batches.rows_per_epoch},
        "steps": step,
        "tokens_seen": tokens_seen,
        "epochs": round(tokens_seen / corpus_tokens, 3),
        "wall_minutes": round(wall / 60, 2),
        "first_train_loss": first_loss,
        "final_train_loss_ema": loss_ema,
        "final_validation": final,
        "history": history,
        "train_curve": train_curve,
        "torch": torch.__version__,
        "threads": args.threads,
    }
    text = json.dumps(summary, indent=2) + "\n"
    for path in (os.path.join(args.out, "training_log.json"),
                 os.path.join(args.work_dir, "training_log.json")):
        with open(path, "w") as f:
            f.write(text)
    log(f"exported to {args.out}")
    return summary


def main(argv: Optional[Sequence[str]] = None) -> int:
    train(parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
