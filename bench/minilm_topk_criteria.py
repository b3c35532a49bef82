"""Offline experiment: which inputs of a projection should top-K keep on a BERT encoder (issue 25)?

Compares two per-token selection criteria on the real all-MiniLM-L6-v2, float activations, mean
cosine to the dense embeddings (the measure `bin/qsparse calibrate` uses):

- magnitude: keep the K largest |x_i| (what the runtime's Sparsifier does);
- weight-aware: keep the K largest |x_i| * c_i, with c_i the L2 norm of the weight column x_i
  multiplies (the WINA criterion); an input shared by q/k/v uses the root of the sum of the three
  squared column norms. The kept values stay x_i: only the selection changes.
- centred (mean or median): keep the K largest |x_i - c_i|, c_i the input's mean or median over
  every token of the dense pass (of --centre-ids when given, else --ids; --centre-tokens draws that
  many tokens at random); a dropped input becomes c_i instead of 0 (the runtime's `topk_centres`:
  the kernels multiply x - c and W c is folded into the bias). centred-weight-aware: |x_i - c_i|
  times the column norm above.

Each at uniform kept fractions and after the calibrator's search (a numpy port of
TopKCalibrator: each projection's loss alone on its grid, greedy steps by gain per unit of loss,
the allowance shrunk, grown and bisected). The encoder is a numpy port of BertEncoder in float64
(post-LayerNorm, erf GELU, mean pooling with [CLS]/[SEP], normalised); K = floor(ratio * n),
ties at the threshold kept, zeros counted as the runtime counts them (per text, zero inputs over
all projection inputs, then the mean over texts). Its magnitude rows reproduce the Java
calibrator's figures in BENCHMARKS.md.

Inputs: the directory `MiniLmDirectory` writes and one line of token ids per text (without
[CLS]/[SEP]), as `bench/MiniLmTokenIds.java` writes them with the runtime's tokenizer ($CP is
model-runtime's test classpath: `mvn -pl model-runtime dependency:build-classpath -Dmdep.includeScope=test`,
the full commands in BENCHMARKS.md):

    java -cp "model-runtime/target/classes:model-runtime/target/test-classes:$CP" \
        dev.qsparse.runtime.model.MiniLmDirectory target/minilm
    tail -n 244 models/data/events.txt | head -64 > target/calibration-64.txt
    java -cp "model-runtime/target/classes:$CP" bench/MiniLmTokenIds.java \
        target/minilm/tokenizer.json target/calibration-64.txt target/calibration-64.ids
    OMP_NUM_THREADS=1 python3 bench/minilm_topk_criteria.py --model target/minilm \
        --ids target/calibration-64.ids --target 0.99 [--objective zeros] [--grid fine]

Needs numpy and scipy (erf); one evaluation of 64 texts takes ~1-2 s, a calibration ~200.
"""

import argparse
import json
import struct

import numpy as np
from scipy.special import erf

GROUPS = ["attn", "attn_out", "mlp", "mlp_out"]
COARSE_GRID = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2]  # TopKCalibrator.GRID
FINE_GRID = [0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55, 0.5, 0.4, 0.3]
SHRINK = [1.0, 0.7, 0.5, 0.35, 0.25, 0.15, 0.08]
GROW = [1.4, 2.0]
BISECTIONS = 3


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        if t["dtype"] != "F32":
            raise ValueError(f"{path}: {name} is {t['dtype']}, expected F32")
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype=np.float32).reshape(t["shape"]).astype(np.float64)
    return out


def layer_norm(x, g, b, eps):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * g + b


class Encoder:
    def __init__(self, model_dir, ids_file, centre_tokens=0):
        cfg = json.load(open(f"{model_dir}/config.json"))
        self.layers = cfg["num_hidden_layers"]
        self.hidden = cfg["hidden_size"]
        self.ff = cfg["intermediate_size"]
        self.heads = cfg["num_attention_heads"]
        self.eps = cfg.get("layer_norm_eps", 1e-12)
        self.w = read_safetensors(f"{model_dir}/model.safetensors")
        cls, sep = 101, 102
        texts = [[cls] + [int(t) for t in line.split()] + [sep] for line in open(ids_file) if line.strip()]
        self.lengths = [len(t) for t in texts]
        self.offsets = np.cumsum([0] + self.lengths)
        self.tokens = np.concatenate(texts)
        self.positions = np.concatenate([np.arange(n) for n in self.lengths])
        # Column norms per sparsified input (weights are [out, in]: column i is W[:, i]).
        self.norms = []
        for layer in range(self.layers):
            p = f"encoder.layer.{layer}."
            self.norms.append([
                self.column_norm(p + "attention.self.query", p + "attention.self.key", p + "attention.self.value"),
                self.column_norm(p + "attention.output.dense"),
                self.column_norm(p + "intermediate.dense"),
                self.column_norm(p + "output.dense"),
            ])
        # Per-input centres for the centred criteria: each projection input's mean (or median)
        # over every token of the dense pass.
        self.record = [[[] for _ in GROUPS] for _ in range(self.layers)]
        self.centres = None
        self.dense, _ = self.embed(self.uniform(1.0), "magnitude")
        inputs = [[np.concatenate(g) for g in row] for row in self.record]
        self.record = None
        self.centres_from(inputs, centre_tokens)

    def centres_from(self, inputs, tokens):
        """Centres from every token of the recorded inputs, or from `tokens` of them drawn at random."""
        if tokens:
            pick = np.random.default_rng(0).choice(inputs[0][0].shape[0], tokens, replace=False)
            inputs = [[a[pick] for a in row] for row in inputs]
        self.means = [[a.mean(0) for a in row] for row in inputs]
        self.medians = [[np.median(a, 0) for a in row] for row in inputs]

    def centres_of(self, other):
        self.means, self.medians = other.means, other.medians

    def column_norm(self, *projections):
        return np.sqrt(sum((self.w[p + ".weight"] ** 2).sum(0) for p in projections))

    def uniform(self, ratio):
        return [[ratio] * len(GROUPS) for _ in range(self.layers)]

    def sparsify(self, x, ratio, layer, group, criterion):
        """x with all but each row's top-K (by the criterion) dropped; zeros per row; width.

        Centred criteria drop x_i - c_i (c the input's centre) rather than x_i: what is kept of
        the input is c + topk(x - c), the product W c folded into the bias, so the kernel's input
        x - c has the zeros."""
        if self.record is not None:
            self.record[layer][group].append(x)
        n = x.shape[1]
        if ratio >= 1:
            return x, np.zeros(x.shape[0]), n
        k = max(1, min(n, int(ratio * n)))
        centre = 0.0
        if criterion.startswith("centred"):
            centre = (self.medians if "median" in criterion else self.means)[layer][group]
        d = x - centre
        score = np.abs(d) * self.norms[layer][group] if criterion.endswith("weight-aware") else np.abs(d)
        score = score.astype(np.float32)  # the runtime selects on floats
        threshold = -np.partition(-score, k - 1, axis=1)[:, k - 1 : k]
        keep = score >= threshold
        return np.where(keep, x, centre), (~keep).sum(1), n

    def linear(self, x, name):
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def embed(self, topk, criterion):
        w = self.w
        x = (w["embeddings.word_embeddings.weight"][self.tokens]
             + w["embeddings.position_embeddings.weight"][self.positions]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        zeros = 0
        width = 0
        hd = self.hidden // self.heads
        for layer in range(self.layers):
            p = f"encoder.layer.{layer}."
            r = topk[layer]
            xs, z, n = self.sparsify(x, r[0], layer, 0, criterion)
            zeros, width = zeros + z, width + n
            q = self.linear(xs, p + "attention.self.query")
            k = self.linear(xs, p + "attention.self.key")
            v = self.linear(xs, p + "attention.self.value")
            ctx = np.empty_like(q)
            for t in range(len(self.lengths)):
                a, b = self.offsets[t], self.offsets[t + 1]
                qh, kh, vh = (m[a:b].reshape(-1, self.heads, hd).transpose(1, 0, 2) for m in (q, k, v))
                s = qh @ kh.transpose(0, 2, 1) / np.sqrt(hd)
                s = np.exp(s - s.max(-1, keepdims=True))
                s /= s.sum(-1, keepdims=True)
                ctx[a:b] = (s @ vh).transpose(1, 0, 2).reshape(-1, self.hidden)
            cs, z, n = self.sparsify(ctx, r[1], layer, 1, criterion)
            zeros, width = zeros + z, width + n
            att = self.linear(cs, p + "attention.output.dense")
            x = layer_norm(att + x, w[p + "attention.output.LayerNorm.weight"],
                           w[p + "attention.output.LayerNorm.bias"], self.eps)
            xs, z, n = self.sparsify(x, r[2], layer, 2, criterion)
            zeros, width = zeros + z, width + n
            h = self.linear(xs, p + "intermediate.dense")
            h = 0.5 * h * (1 + erf(h / np.sqrt(2)))
            hs, z, n = self.sparsify(h, r[3], layer, 3, criterion)
            zeros, width = zeros + z, width + n
            out = self.linear(hs, p + "output.dense")
            x = layer_norm(out + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], self.eps)
        spans = [(self.offsets[t], self.offsets[t + 1]) for t in range(len(self.lengths))]
        e = np.stack([x[a:b].mean(0) for a, b in spans])
        e /= np.linalg.norm(e, axis=1, keepdims=True)
        sparsity = np.mean([zeros[a:b].sum() / (width * (b - a)) for a, b in spans])
        return e, float(sparsity)

    def quality(self, topk, criterion):
        """(mean cosine, least cosine, activation zeros, recall@10) against the dense embeddings."""
        e, sparsity = self.embed(topk, criterion)
        cos = (e * self.dense).sum(1)
        want = self.dense @ self.dense.T
        have = e @ e.T
        np.fill_diagonal(want, -np.inf)
        np.fill_diagonal(have, -np.inf)
        recall = np.mean([
            len(set(np.argsort(-want[i])[:10]) & set(np.argsort(-have[i])[:10])) / 10 for i in range(len(e))
        ])
        return cos.mean(), cos.min(), sparsity, recall


class Calibrator:
    """TopKCalibrator's search; the gain of a step is weight reads, or activation zeros with objective=zeros."""

    def __init__(self, enc, criterion, grid, objective):
        self.enc = enc
        self.criterion = criterion
        self.grid = grid
        d, f = enc.hidden, enc.ff
        self.reads = [3 * d * d, d * d, f * d, d * f]
        self.gain = self.reads if objective == "weights" else [d, d, d, f]
        self.objective = objective

    def skipped(self, topk):
        saved = sum((1 - row[g]) * self.reads[g] for row in topk for g in range(len(GROUPS)))
        return saved / (len(topk) * sum(self.reads))

    def score(self, topk, quality):
        return self.skipped(topk) if self.objective == "weights" else quality[2]

    def greedy(self, loss, allowed):
        projections = len(loss)
        level = [-1] * projections
        total = 0
        while True:
            best = None
            for p in range(projections):
                nxt = level[p] + 1
                if nxt >= len(self.grid) or np.isnan(loss[p][nxt]):
                    continue
                delta = max(loss[p][nxt] - (0 if level[p] < 0 else loss[p][level[p]]), 0)
                if total + delta > allowed:
                    continue
                was = 1 if level[p] < 0 else self.grid[level[p]]
                value = (was - self.grid[nxt]) * self.gain[p % len(GROUPS)] / max(delta, 1e-7)
                if best is None or value > best[0]:
                    best = (value, p, delta)
            if best is None:
                break
            level[best[1]] += 1
            total += best[2]
        topk = self.enc.uniform(1.0)
        for p, lv in enumerate(level):
            if lv >= 0:
                topk[p // len(GROUPS)][p % len(GROUPS)] = self.grid[lv]
        return topk

    def calibrate(self, target):
        enc, g = self.enc, len(GROUPS)
        budget = 1 - target
        loss = np.full((enc.layers * g, len(self.grid)), np.nan)
        for p in range(enc.layers * g):
            for k, r in enumerate(self.grid):
                topk = enc.uniform(1.0)
                topk[p // g][p % g] = r
                loss[p, k] = max(0, 1 - enc.quality(topk, self.criterion)[0])
                if loss[p, k] > budget:
                    break

        def choose(allowance):
            topk = self.greedy(loss, budget * allowance)
            return topk, enc.quality(topk, self.criterion)

        dense = enc.uniform(1.0)
        best = (dense, enc.quality(dense, self.criterion))
        met = missed = -1
        for s in SHRINK:
            topk, q = choose(s)
            if q[0] >= target:
                met, best = s, (topk, q)
                break
            missed = s
        if met == SHRINK[0]:
            for s in GROW:
                topk, q = choose(s)
                if q[0] < target:
                    missed = s
                    break
                met = s
                if self.score(topk, q) > self.score(*best):
                    best = (topk, q)
        for _ in range(BISECTIONS):
            if not (met > 0 and missed > 0):
                break
            mid = (met + missed) / 2
            topk, q = choose(mid)
            if q[0] >= target:
                met = mid
                if self.score(topk, q) > self.score(*best):
                    best = (topk, q)
            else:
                missed = mid
        return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--ids", required=True)
    ap.add_argument("--target", type=float, action="append", help="calibrate for this mean cosine (repeatable)")
    ap.add_argument("--uniform", type=float, action="append", help="uniform kept fractions (default 0.8 .. 0.65)")
    ap.add_argument("--skip-uniform", action="store_true", help="calibrations only")
    ap.add_argument("--criteria", default="magnitude,weight-aware",
                    help="comma-separated: magnitude, weight-aware, centred, centred-median, centred-weight-aware")
    ap.add_argument("--objective", choices=["weights", "zeros"], default="weights",
                    help="what a calibration step gains: weight reads skipped (the calibrator's) or activation zeros")
    ap.add_argument("--grid", choices=["coarse", "fine"], default="coarse")
    ap.add_argument("--centre-ids", help="take the centred criteria's centres from these texts (default: --ids)")
    ap.add_argument("--centre-tokens", type=int, default=0, help="centres from this many tokens drawn at random")
    ap.add_argument("--topk", help="a topk_ratio_layers JSON array to evaluate")
    args = ap.parse_args()
    enc = Encoder(args.model, args.ids, args.centre_tokens)
    if args.centre_ids:
        enc.centres_of(Encoder(args.model, args.centre_ids, args.centre_tokens))
    if args.topk:
        layers = json.loads(args.topk)
        topk = [[row[g] for g in GROUPS] for row in layers]
        for c in args.criteria.split(","):
            m, lo, z, rec = enc.quality(topk, c)
            print(f"| given | {c} | {m:.4f} | {lo:.4f} | {rec:.3f} | {100 * z:.1f}% |", flush=True)
    criteria = args.criteria.split(",")
    grid = COARSE_GRID if args.grid == "coarse" else FINE_GRID
    print("| setting | criterion | mean cosine | min cosine | recall@10 | activation zeros | weight reads skipped |")
    print("|---|---|---:|---:|---:|---:|---:|")
    uniform = args.uniform if args.uniform is not None else [0.8, 0.75, 0.7, 0.65]
    for ratio in [] if args.skip_uniform else uniform:
        for c in criteria:
            m, lo, z, rec = enc.quality(enc.uniform(ratio), c)
            print(f"| uniform {ratio} | {c} | {m:.4f} | {lo:.4f} | {rec:.3f} | {100 * z:.1f}% | {100 * (1 - ratio):.1f}% |",
                  flush=True)
    for target in args.target or []:
        for c in criteria:
            cal = Calibrator(enc, c, grid, args.objective)
            topk, (m, lo, z, rec) = cal.calibrate(target)
            print(f"| calibrated {target} ({args.objective}, {args.grid} grid) | {c} | {m:.4f} | {lo:.4f} | {rec:.3f}"
                  f" | {100 * z:.1f}% | {100 * cal.skipped(topk):.1f}% |", flush=True)
            print("  " + json.dumps([dict(zip(GROUPS, row)) for row in topk]), flush=True)


if __name__ == "__main__":
    main()
