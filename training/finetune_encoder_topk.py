"""Top-K-aware distillation fine-tune of a BERT sentence encoder (issue 25: calibrated sparsity).

The runtime's per-token magnitude top-K on every linear-layer input costs all-MiniLM-L6-v2 too much
cosine (24.9% zeros at mean cosine 0.99 after calibration). The Q-Sparse paper trains with top-K in
the loop instead; this script does that as a short distillation: the student is the encoder with
top-K on (forward sparse, straight-through backward dense), the teacher is the original dense
encoder, the loss is 1 - cosine between the two sentence embeddings.

The encoder is a torch port of the runtime's BertEncoder: post-LayerNorm, erf GELU, absolute
positions + token type 0, mean pooling over every unmasked token including [CLS]/[SEP], L2
normalised. Top-K as the runtime's Sparsifier does it, per token (row): K = clamp(floor(ratio * n),
1, n) (Java's (int) cast of the double product), keep every |x| >= the K-th largest |x| (so ties at
the threshold are kept), selection in float32; ratio 1 leaves the input alone. The kept fraction per
layer and group (attn = q/k/v input, attn_out, mlp = intermediate input, mlp_out) comes from
config.json's `topk_ratio_layers` / `topk_ratio_<group>` / `topk_ratio` (docs/model-format.md) or
a uniform --ratio. Zeros are counted as bench/minilm_topk_criteria.py counts them: per text, the
dropped inputs of every sparsified projection over all projection inputs, then the mean over texts.

Inputs are token ids, one line per text without [CLS]/[SEP], as bench/MiniLmTokenIds.java writes
them with the runtime's tokenizer. Subcommands:

    text  --out F [--windows N] [--seed S] [--debian-docs N]   (training texts from models/data/valid.txt)
    train --model DIR --train-ids F --out DIR [--ratio R] [--epochs E] [--lr LR] [--init DIR] ...
    eval  --reference DIR --model DIR --ids F [--ratio R]   (cosine to --reference's dense output)
    embed --model DIR --ids F --out F.npy [--ratio R]

Run with Debian's /usr/bin/python3 (torch 1.13), one thread: OMP_NUM_THREADS=1.
"""

import argparse
import glob
import gzip
import json
import math
import os
import random
import re
import shutil
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qsparse.safetensors_io import load_file, save_file  # noqa: E402

CLS, SEP = 101, 102
GROUPS = ["attn", "attn_out", "mlp", "mlp_out"]
TOPK_KEYS = ["topk_ratio", "topk_ratio_layers"] + ["topk_ratio_" + g for g in GROUPS]


# ---------------------------------------------------------------------------------------------
# model directory

def load_config(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        return json.load(f)


def ratios_from_config(cfg):
    """[layer][group] kept fractions, as the runtime resolves them (layers entry, group key, topk_ratio, 1)."""
    base = float(cfg.get("topk_ratio", 1.0))
    shared = [float(cfg.get("topk_ratio_" + g, base)) for g in GROUPS]
    layers = cfg.get("topk_ratio_layers")
    out = []
    for layer in range(cfg["num_hidden_layers"]):
        row = list(shared)
        if layers is not None:
            for i, g in enumerate(GROUPS):
                if g in layers[layer]:
                    row[i] = float(layers[layer][g])
        out.append(row)
    return out


def uniform_ratios(cfg, ratio):
    return [[float(ratio)] * len(GROUPS) for _ in range(cfg["num_hidden_layers"])]


def load_params(model_dir):
    tensors = load_file(os.path.join(model_dir, "model.safetensors"))
    return {name: t.float() for name, t in tensors.items()}


def save_dir(src_dir, out_dir, params, ratios=None):
    """Copy src_dir to out_dir with the given weights; config.json's top-K keys replaced by ratios (None: dense)."""
    os.makedirs(out_dir, exist_ok=True)
    for entry in os.listdir(src_dir):
        if entry in ("model.safetensors", "config.json"):
            continue
        s, d = os.path.join(src_dir, entry), os.path.join(out_dir, entry)
        if os.path.isdir(s):
            shutil.copytree(s, d, dirs_exist_ok=True)
        else:
            shutil.copyfile(s, d)
    cfg = load_config(src_dir)
    for key in TOPK_KEYS:
        cfg.pop(key, None)
    if ratios is not None:
        flat = {r for row in ratios for r in row}
        if len(flat) == 1:
            r = flat.pop()
            if r < 1:
                cfg["topk_ratio"] = r
        else:
            cfg["topk_ratio_layers"] = [dict(zip(GROUPS, row)) for row in ratios]
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    save_file({n: t.detach().float().contiguous() for n, t in params.items()},
              os.path.join(out_dir, "model.safetensors"))


# ---------------------------------------------------------------------------------------------
# top-K with a straight-through gradient

def topk_keep(x, ratio):
    """Boolean mask of the kept inputs of each row of x (the runtime's rule), or None for ratio >= 1."""
    if ratio >= 1:
        return None
    n = x.shape[-1]
    k = max(1, min(n, int(ratio * n)))
    mag = x.detach().abs().float()
    threshold = torch.topk(mag, k, dim=-1, sorted=False).values.min(dim=-1, keepdim=True).values
    return mag >= threshold


def sparsify(x, ratio, ste=True):
    """(x with each row's top-K kept, mask or None). Forward sparse; backward dense when ste, masked otherwise."""
    keep = topk_keep(x, ratio)
    if keep is None:
        return x, None
    sparse = x * keep
    if ste:
        return x + (sparse - x).detach(), keep
    return sparse, keep


# ---------------------------------------------------------------------------------------------
# encoder

def encode(params, cfg, ids, mask, ratios=None, ste=True, stats=None, states=None):
    """Sentence embeddings [B, H] (L2 normalised) of padded ids [B, T] with mask [B, T] (1 = token).

    ratios: [layer][group] kept fractions or None (dense). stats: a list to which the per-text
    count of dropped inputs (float tensor [B]) and the total inputs per token are appended.
    states: a list to which every layer's output [B, T, H] is appended.
    """
    p = params
    eps = float(cfg.get("layer_norm_eps", 1e-12))
    hidden = cfg["hidden_size"]
    heads = cfg["num_attention_heads"]
    hd = hidden // heads
    B, T = ids.shape
    pos = torch.arange(T).unsqueeze(0).expand(B, T)
    x = (p["embeddings.word_embeddings.weight"][ids]
         + p["embeddings.position_embeddings.weight"][pos]
         + p["embeddings.token_type_embeddings.weight"][0])
    x = F.layer_norm(x, (hidden,), p["embeddings.LayerNorm.weight"], p["embeddings.LayerNorm.bias"], eps)
    maskf = mask.float()
    bias = (1.0 - maskf)[:, None, None, :] * torch.finfo(torch.float32).min  # [B,1,1,T] over keys
    dropped = torch.zeros(B)
    width = 0

    def sp(v, ratio):
        nonlocal dropped, width
        width += v.shape[-1]
        out, keep = sparsify(v, ratio, ste)
        if keep is not None:
            dropped = dropped + ((~keep).float() * maskf[..., None]).sum(dim=(1, 2))
        return out

    def lin(v, name):
        return F.linear(v, p[name + ".weight"], p[name + ".bias"])

    for layer in range(cfg["num_hidden_layers"]):
        pre = f"encoder.layer.{layer}."
        r = ratios[layer] if ratios is not None else [1.0] * 4
        xs = sp(x, r[0])
        q, k, v = (lin(xs, pre + "attention.self." + n).view(B, T, heads, hd).transpose(1, 2)
                   for n in ("query", "key", "value"))
        s = q @ k.transpose(-1, -2) / math.sqrt(hd) + bias
        ctx = (torch.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(B, T, hidden)
        att = lin(sp(ctx, r[1]), pre + "attention.output.dense")
        x = F.layer_norm(att + x, (hidden,), p[pre + "attention.output.LayerNorm.weight"],
                         p[pre + "attention.output.LayerNorm.bias"], eps)
        h = lin(sp(x, r[2]), pre + "intermediate.dense")
        h = 0.5 * h * (1.0 + torch.erf(h / math.sqrt(2.0)))
        out = lin(sp(h, r[3]), pre + "output.dense")
        x = F.layer_norm(out + x, (hidden,), p[pre + "output.LayerNorm.weight"],
                         p[pre + "output.LayerNorm.bias"], eps)
        if states is not None:
            states.append(x)
    e = (x * maskf[..., None]).sum(1) / maskf.sum(1, keepdim=True)
    if stats is not None:
        stats.append((dropped, width))
    return F.normalize(e, dim=-1)


# ---------------------------------------------------------------------------------------------
# data

def read_ids(path, max_len=256):
    texts = []
    with open(path) as f:
        for line in f:
            toks = [int(t) for t in line.split()]
            texts.append([CLS] + toks[: max_len - 2] + [SEP])
    return texts


def pad(batch):
    T = max(len(t) for t in batch)
    ids = torch.zeros(len(batch), T, dtype=torch.long)
    mask = torch.zeros(len(batch), T, dtype=torch.long)
    for i, t in enumerate(batch):
        ids[i, : len(t)] = torch.tensor(t)
        mask[i, : len(t)] = 1
    return ids, mask


def batches_by_length(n_items, lengths, batch_size, rng=None):
    """Index batches of similar length (less padding); shuffled batch order when rng is given."""
    order = sorted(range(n_items), key=lambda i: lengths[i])
    out = [order[i: i + batch_size] for i in range(0, n_items, batch_size)]
    if rng is not None:
        rng.shuffle(out)
    return out


@torch.no_grad()
def embed_all(params, cfg, texts, ratios=None, batch_size=32):
    """(embeddings [N, H] float64 numpy, per-text fraction of zeros [N])."""
    n = len(texts)
    embs = np.zeros((n, cfg["hidden_size"]))
    zeros = np.zeros(n)
    for idx in batches_by_length(n, [len(t) for t in texts], batch_size):
        ids, mask = pad([texts[i] for i in idx])
        stats = []
        e = encode(params, cfg, ids, mask, ratios, ste=False, stats=stats)
        dropped, width = stats[0]
        embs[idx] = e.double().numpy()
        zeros[idx] = (dropped / (mask.sum(1).float() * width)).double().numpy()
    return embs, zeros


def recall_at(reference, emb, k=10):
    want = reference @ reference.T
    have = emb @ emb.T
    np.fill_diagonal(want, -np.inf)
    np.fill_diagonal(have, -np.inf)
    return float(np.mean([len(set(np.argsort(-want[i])[:k]) & set(np.argsort(-have[i])[:k])) / k
                          for i in range(len(emb))]))


def quality(reference, emb, zeros):
    cos = (reference * emb).sum(1)
    return {"mean_cos": float(cos.mean()), "min_cos": float(cos.min()), "zeros": float(zeros.mean()),
            "recall10": recall_at(reference, emb)}


# ---------------------------------------------------------------------------------------------
# commands

def resolve_ratios(args, cfg):
    if getattr(args, "ratio", None) is not None:
        return uniform_ratios(cfg, args.ratio)
    if getattr(args, "ratios_from", None):
        return ratios_from_config(load_config(args.ratios_from))
    return ratios_from_config(cfg)


def cmd_train(args):
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    cfg = load_config(args.model)
    teacher = load_params(args.model)
    start = load_params(args.init) if args.init else teacher
    params = {n: start[n].clone().requires_grad_(n not in args.frozen) for n in teacher}
    ratios = resolve_ratios(args, cfg)
    print("ratios per layer [attn, attn_out, mlp, mlp_out]:", ratios, flush=True)
    texts = read_ids(args.train_ids)
    lengths = [len(t) for t in texts]
    t0 = time.time()
    target, _ = embed_all(teacher, cfg, texts, None)
    target = torch.from_numpy(target).float()
    print(f"{len(texts)} training texts, {sum(lengths)} tokens; teacher embedded in {time.time() - t0:.1f}s",
          flush=True)
    held = None
    if args.eval_ids:
        held_texts = read_ids(args.eval_ids)
        held_ref, _ = embed_all(teacher, cfg, held_texts, None)
        held = (held_texts, held_ref)

        def report(tag):
            emb, z = embed_all({n: t.detach() for n, t in params.items()}, cfg, held_texts, ratios)
            q = quality(held_ref, emb, z)
            print(f"[{tag}] held-out: mean cos {q['mean_cos']:.4f} min {q['min_cos']:.4f} "
                  f"zeros {q['zeros']:.3f} recall@10 {q['recall10']:.3f} ({time.time() - t0:.0f}s)", flush=True)
            return q
        report("start")
    trainable = [t for n, t in params.items() if t.requires_grad]
    opt = torch.optim.Adam(trainable, lr=args.lr)
    steps_per_epoch = math.ceil(len(texts) / args.batch_size)
    total = steps_per_epoch * args.epochs
    warm = max(1, int(0.06 * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, 0.5 * (1 + math.cos(math.pi * min(s, total) / total))))
    step = 0
    history = []
    for epoch in range(args.epochs):
        running, count = 0.0, 0
        for idx in batches_by_length(len(texts), lengths, args.batch_size, rng):
            ids, mask = pad([texts[i] for i in idx])
            states = [] if args.hidden_weight > 0 else None
            e = encode(params, cfg, ids, mask, ratios, ste=True, states=states)
            loss = (1 - (e * target[idx]).sum(-1)).mean()
            if states:
                # Layer-wise distillation: every unmasked token's output of every layer, 1 - cosine
                # to the dense teacher's (a denser signal than the one pooled vector per text).
                with torch.no_grad():
                    want = []
                    encode(teacher, cfg, ids, mask, None, states=want)
                m = mask.float()
                tok = sum(((1 - F.cosine_similarity(a, b, dim=-1)) * m).sum() / m.sum()
                          for a, b in zip(states, want)) / len(states)
                loss = loss + args.hidden_weight * tok
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            running += float(loss) * len(idx)
            count += len(idx)
            if step % args.log_every == 0:
                print(f"epoch {epoch} step {step}/{total} train 1-cos {running / count:.5f} "
                      f"({time.time() - t0:.0f}s)", flush=True)
        entry = {"epoch": epoch, "train_loss": running / count, "seconds": time.time() - t0}
        if held is not None:
            entry["heldout"] = report(f"epoch {epoch}")
        history.append(entry)
    save_dir(args.model, args.out, params, None if args.save_dense else ratios)
    with open(os.path.join(args.out, "finetune_log.json"), "w") as f:
        json.dump({"args": vars(args), "ratios": ratios, "history": history,
                   "train_texts": len(texts), "train_tokens": sum(lengths),
                   "minutes": (time.time() - t0) / 60}, f, indent=2)
    print(f"wrote {args.out} ({(time.time() - t0) / 60:.1f} min)", flush=True)


def split_sentences(paragraph):
    return re.split(r"(?<=[.!?;])\s+(?=[A-Z\"'])", paragraph.strip())


def cmd_text(args):
    """Training texts from --valid (never from --events): its sentences, then random word windows."""
    rng = random.Random(args.seed)
    held = {line.strip() for line in open(args.events, encoding="utf-8")}
    paragraphs = [p for p in open(args.valid, encoding="utf-8").read().split("\n") if p.strip()]
    out = []
    if args.sentences:
        out += [s.strip() for p in paragraphs for s in split_sentences(p)
                if 20 <= len(s.strip()) <= 300 and s.strip() not in held]
    words = " ".join(paragraphs).split()
    windows = []
    while len(windows) < args.windows:
        n = rng.randint(5, 40)
        i = rng.randrange(0, len(words) - n)
        w = " ".join(words[i: i + n])
        if w not in held:
            windows.append(w)
    out += windows
    if args.debian_docs:
        docs = sorted(glob.glob("/usr/share/doc/*/README*")) + sorted(glob.glob("/usr/share/vim/vim*/doc/*.txt"))
        seen, found = set(), []
        for path in docs:
            try:
                opener = gzip.open if path.endswith(".gz") else open
                with opener(path, "rt", errors="ignore") as f:
                    raw = f.read()
            except OSError:
                continue
            for para in re.split(r"\n\s*\n", raw):
                for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", " ".join(para.split())):
                    if (30 <= len(s) <= 250 and s[0].isupper() and s[-1] in ".!?" and len(s.split()) >= 6
                            and sum(c.isalpha() or c == " " for c in s) >= 0.9 * len(s)
                            and s not in seen and s not in held):
                        seen.add(s)
                        found.append(s)
        random.Random(0).shuffle(found)
        out += found[: args.debian_docs]
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    print(f"{args.out}: {len(out)} texts")


def cmd_eval(args):
    ref_cfg = load_config(args.reference)
    texts = read_ids(args.ids)
    ref, _ = embed_all(load_params(args.reference), ref_cfg, texts, None)
    cfg = load_config(args.model)
    ratios = resolve_ratios(args, cfg)
    emb, z = embed_all(load_params(args.model), cfg, texts, ratios)
    q = quality(ref, emb, z)
    q.update({"model": args.model, "ratios": ratios, "texts": len(texts)})
    print(json.dumps(q))


def cmd_embed(args):
    cfg = load_config(args.model)
    emb, z = embed_all(load_params(args.model), cfg, read_ids(args.ids), resolve_ratios(args, cfg))
    np.save(args.out, emb)
    print(f"{args.out}: {emb.shape}, mean zeros {z.mean():.4f}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--model", required=True, help="the dense source directory: the teacher (and the student's start)")
    t.add_argument("--init", help="start the student from this directory's weights (default: --model's)")
    t.add_argument("--train-ids", required=True)
    t.add_argument("--eval-ids", help="held-out ids, reported after each epoch (never trained on)")
    t.add_argument("--out", required=True)
    t.add_argument("--ratio", type=float, help="uniform kept fraction (else the --model's config keys)")
    t.add_argument("--ratios-from", help="take the kept fractions from this directory's config.json")
    t.add_argument("--epochs", type=int, default=3)
    t.add_argument("--lr", type=float, default=5e-5)
    t.add_argument("--batch-size", type=int, default=16)
    t.add_argument("--seed", type=int, default=1)
    t.add_argument("--hidden-weight", type=float, default=0.0,
                   help="weight of the layer-wise token loss (mean over layers of 1 - cosine to the teacher's)")
    t.add_argument("--log-every", type=int, default=50)
    t.add_argument("--train-word-embeddings", action="store_true",
                   help="also train the word embedding table (frozen by default)")
    t.add_argument("--save-dense", action="store_true", help="write config.json without top-K keys")
    e = sub.add_parser("eval")
    e.add_argument("--reference", required=True, help="the dense model the cosine is measured against")
    e.add_argument("--model", required=True)
    e.add_argument("--ids", required=True)
    e.add_argument("--ratio", type=float)
    e.add_argument("--ratios-from")
    x = sub.add_parser("text", help="write training texts (sentences and word windows of --valid)")
    x.add_argument("--valid", default="models/data/valid.txt")
    x.add_argument("--events", default="models/data/events.txt", help="lines never emitted (held out)")
    x.add_argument("--windows", type=int, default=0, help="random 5-40 word windows of --valid to add")
    x.add_argument("--no-sentences", dest="sentences", action="store_false")
    x.add_argument("--debian-docs", type=int, default=0,
                   help="add this many prose sentences from installed READMEs and vim help")
    x.add_argument("--seed", type=int, default=0)
    x.add_argument("--out", required=True)
    m = sub.add_parser("embed")
    m.add_argument("--model", required=True)
    m.add_argument("--ids", required=True)
    m.add_argument("--out", required=True)
    m.add_argument("--ratio", type=float)
    m.add_argument("--ratios-from")
    args = ap.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    if args.cmd == "train":
        args.frozen = set() if args.train_word_embeddings else {"embeddings.word_embeddings.weight"}
        args.frozen = sorted(args.frozen)
        cmd_train(args)
    elif args.cmd == "text":
        cmd_text(args)
    elif args.cmd == "eval":
        cmd_eval(args)
    else:
        cmd_embed(args)


if __name__ == "__main__":
    main()
