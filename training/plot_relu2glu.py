#!/usr/bin/python3
"""Plots and table of the ReLU vs ReLU²GLU experiment (training/run_relu2glu.sh).

    /usr/bin/python3 training/plot_relu2glu.py --runs training/work/relu2glu/models \\
        --eval training/work/relu2glu/eval --out docs/experiments

Reads every model's training_log.json (loss curves), ``EVAL/<model>.json`` (PyTorch:
training/ffn_sparsity.py) and, where present, ``EVAL/<model>.java.json`` (the runtime:
``bin/qsparse score --file ... --ffn-sparsity``). Writes ``NAME-loss.png``,
``NAME-sparsity.png`` and ``NAME-results.json`` to ``--out`` (``--name``, default relu2glu)
and prints the Markdown table.
"""

import argparse
import json
import os
import sys
from typing import Dict, List, Optional, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ACTIVATIONS = (("relu", "ReLU"), ("swiglu", "SwiGLU"), ("relu2glu", "ReLU²GLU"))
VARIANTS = (("dense", "dense"), ("topk50", "top-K 50%"))
COLORS = {"relu": "tab:blue", "swiglu": "tab:green", "relu2glu": "tab:red"}
STYLES = {"dense": "-", "topk50": "--"}
WHERES = ("pre_topk", "down_proj_input")
KINDS = ("exact_zero", "near_zero")


def load_json(path: str) -> Optional[Dict]:
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def mean_over_layers(layers: List[Dict], where: str, kind: str) -> float:
    return sum(layer[where][kind] for layer in layers) / len(layers)


def max_java_difference(torch_layers: List[Dict], java_layers: List[Dict]) -> float:
    """Largest |PyTorch - runtime| over layers, both vectors and both kinds of zero."""
    worst = 0.0
    for t, j in zip(torch_layers, java_layers):
        for where in WHERES:
            for kind in KINDS:
                worst = max(worst, abs(t[where][kind] - j[where][kind]))
    return worst


def collect(runs: str, eval_dir: str) -> List[Dict]:
    rows = []
    for act, act_label in ACTIVATIONS:
        for variant, variant_label in VARIANTS:
            name = f"{act}-{variant}"
            log = load_json(os.path.join(runs, name, "training_log.json"))
            torch_eval = load_json(os.path.join(eval_dir, f"{name}.json"))
            if log is None or torch_eval is None:
                print(f"skipping {name}: no training log or evaluation", file=sys.stderr)
                continue
            java_eval = load_json(os.path.join(eval_dir, f"{name}.java.json"))
            row = {
                "model": name, "activation": act, "activation_label": act_label,
                "variant": variant, "variant_label": variant_label,
                "parameters": log["parameters"],
                "intermediate_size": log["config"]["intermediate_size"],
                "steps": log["steps"], "tokens_seen": log["tokens_seen"],
                "wall_minutes": log["wall_minutes"],
                "train_curve": log["train_curve"],
                "valid_curve": [[h["step"], h["valid_loss"]] for h in log["history"]
                                if "valid_loss" in h],
                "valid_loss": torch_eval["loss"], "valid_ppl": torch_eval["perplexity"],
                "scored_tokens": torch_eval["scored_tokens"],
                "layers": torch_eval["layers"],
            }
            for where in WHERES:
                for kind in KINDS:
                    row[f"{where}.{kind}"] = mean_over_layers(torch_eval["layers"], where, kind)
            if java_eval is not None:
                row["java_ppl"] = java_eval["perplexity"]
                row["java_scored_tokens"] = java_eval["scored_tokens"]
                row["java_layers"] = java_eval["ffn_sparsity"]
                row["java_max_difference"] = max_java_difference(torch_eval["layers"],
                                                                 java_eval["ffn_sparsity"])
            rows.append(row)
    return rows


def plot_losses(rows: List[Dict], path: str) -> None:
    fig, (train_ax, valid_ax) = plt.subplots(1, 2, figsize=(12, 4.5))
    for r in rows:
        label = f"{r['activation_label']} {r['variant_label']}"
        style = dict(color=COLORS[r["activation"]], linestyle=STYLES[r["variant"]])
        steps, losses = zip(*r["train_curve"])
        train_ax.plot(steps, losses, label=label, linewidth=1, **style)
        if r["valid_curve"]:
            steps, losses = zip(*r["valid_curve"])
            valid_ax.plot(steps, losses, marker="o", markersize=3, label=label, **style)
    train_ax.set_title("training loss (one batch of 8 x 128 tokens, every 20 steps)")
    valid_ax.set_title("validation loss (models/data/valid.txt)")
    for ax in (train_ax, valid_ax):
        ax.set_xlabel("step")
        ax.set_ylabel("cross-entropy (nats/token)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    train_ax.set_ylim(top=min(9.0, train_ax.get_ylim()[1]))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_sparsity(rows: List[Dict], path: str) -> None:
    panels = (("pre_topk", "exact_zero", "h exactly zero (before top-K)"),
              ("pre_topk", "near_zero", "h near zero: |a| < 1e-3 max|a| (before top-K)"),
              ("down_proj_input", "near_zero", "down_proj input near zero (after top-K)"))
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), sharey=True)
    for ax, (where, kind, title) in zip(axes, panels):
        for r in rows:
            layers = [layer["layer"] for layer in r["layers"]]
            values = [layer[where][kind] for layer in r["layers"]]
            ax.plot(layers, values, marker="o", color=COLORS[r["activation"]],
                    linestyle=STYLES[r["variant"]],
                    label=f"{r['activation_label']} {r['variant_label']}")
            if "java_layers" in r:
                java = [layer[where][kind] for layer in r["java_layers"]]
                ax.plot(layers, java, marker="x", linestyle="none", color="black", markersize=5)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("layer")
        ax.set_xticks(range(len(rows[0]["layers"])))
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("fraction of entries (validation set)")
    axes[0].legend(fontsize=8, title="PyTorch (lines); x = Java runtime", title_fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown_table(rows: List[Dict]) -> str:
    head = ("| feed-forward | top-K | d_ff | params | valid loss | valid ppl | ppl (Java) "
            "| h = 0 | h ≈ 0 | h ≠ 0 per token | h not ≈ 0 per token "
            "| down_proj in = 0 | down_proj in ≈ 0 | max \\|PyTorch − Java\\| |")
    lines = [head, "|" + "---|" * 14]
    for r in rows:
        java_ppl = f"{r['java_ppl']:.2f}" if "java_ppl" in r else "–"
        java_diff = f"{r['java_max_difference']:.1e}" if "java_max_difference" in r else "–"
        lines.append(
            f"| {r['activation_label']} | {r['variant_label']} | {r['intermediate_size']} "
            f"| {r['parameters']:,} | {r['valid_loss']:.4f} | {r['valid_ppl']:.2f} | {java_ppl} "
            f"| {r['pre_topk.exact_zero']:.1%} | {r['pre_topk.near_zero']:.1%} "
            f"| {(1 - r['pre_topk.exact_zero']) * r['intermediate_size']:.0f} "
            f"| {(1 - r['pre_topk.near_zero']) * r['intermediate_size']:.0f} "
            f"| {r['down_proj_input.exact_zero']:.1%} | {r['down_proj_input.near_zero']:.1%} "
            f"| {java_diff} |")
    return "\n".join(lines)


def seeds_table(rows: List[Dict], repeats: Sequence[str]) -> str:
    """Validation perplexity and mean h sparsity of every model over the seeds (--repeat)."""
    lines = ["| feed-forward | top-K | valid ppl per seed | mean ppl | h = 0 (min–max) "
             "| h ≈ 0 (min–max) |", "|" + "---|" * 6]
    for r in rows:
        evals = [{"perplexity": r["valid_ppl"], "layers": r["layers"]}]
        for directory in repeats:
            e = load_json(os.path.join(directory, f"{r['model']}.json"))
            if e is not None:
                evals.append(e)
        ppl = [e["perplexity"] for e in evals]
        exact = [mean_over_layers(e["layers"], "pre_topk", "exact_zero") for e in evals]
        near = [mean_over_layers(e["layers"], "pre_topk", "near_zero") for e in evals]
        lines.append(
            f"| {r['activation_label']} | {r['variant_label']} "
            f"| {', '.join(f'{p:.1f}' for p in ppl)} | {sum(ppl) / len(ppl):.1f} "
            f"| {sum(exact) / len(exact):.1%} ({min(exact):.1%}–{max(exact):.1%}) "
            f"| {sum(near) / len(near):.1%} ({min(near):.1%}–{max(near):.1%}) |")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", required=True, help="directory of the six model directories")
    ap.add_argument("--eval", required=True, help="directory of the evaluation JSON files")
    ap.add_argument("--out", required=True, help="where the PNGs and results JSON go")
    ap.add_argument("--name", default="relu2glu", help="stem of the output file names")
    ap.add_argument("--repeat", action="append", default=[], metavar="EVAL_DIR",
                    help="evaluation directory of the same six models with another seed "
                         "(repeatable): adds a table over the seeds")
    args = ap.parse_args(argv)
    rows = collect(args.runs, args.eval)
    if not rows:
        raise SystemExit("no finished model to plot")
    os.makedirs(args.out, exist_ok=True)
    plot_losses(rows, os.path.join(args.out, f"{args.name}-loss.png"))
    plot_sparsity(rows, os.path.join(args.out, f"{args.name}-sparsity.png"))
    with open(os.path.join(args.out, f"{args.name}-results.json"), "w") as f:
        json.dump(rows, f, indent=1)
        f.write("\n")
    print(markdown_table(rows))
    if args.repeat:
        print()
        print(seeds_table(rows, args.repeat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
