#!/usr/bin/python3
"""Write the Hugging Face BitNet fixtures of the Java runtime.

For every case, model-runtime/src/test/resources/fixtures-bitnet/<case>/ receives
a tiny model directory in the published ``bitnet`` format (config.json,
model.safetensors) and expected.json ({"tokens", "logits", "hidden",
"greedy": {"prompt", "max_new_tokens", "tokens"}}), computed in float32 by the
reference in training/qsparse/bitnet.py.

Cases (one set of float master weights, seeded):
  bitnet_packed        U8 packed projections, BF16 weight_scale (divided by:
                       linear_class bitlinear, offline), BF16 embeddings and
                       norms, tied lm head: the layout of BitNet b1.58 2B4T
  bitnet_bf16          the unquantized twin: the BF16 master weights,
                       quantization_mode online, quantized at load
  bitnet_autobitlinear U8 packed with an F32 weight_scale that multiplies
                       (linear_class autobitlinear, offline), untied BF16 lm head

For each case a few seeds are tried and the one whose int8 roundings (and
greedy choices) sit farthest from their boundaries is kept, preferring greedy
continuations that do not repeat one token; margins go to the README.

Run:  /usr/bin/python3 training/make_bitnet_fixtures.py
"""

import json
import math
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from qsparse.bitnet import BitNetReference, pack_ternary, weight_quant  # noqa: E402
from qsparse.safetensors_io import load_file, save_file  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "model-runtime", "src", "test", "resources", "fixtures-bitnet")

SEQ_LEN = 12
PROMPT_LEN = 4
MAX_NEW_TOKENS = 8
SEED_CANDIDATES = 24
MIN_DISTINCT_GENERATED = 5

BASE_CONFIG = {
    "architectures": ["BitNetForCausalLM"],
    "model_type": "bitnet",
    "vocab_size": 96,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 64,
    "hidden_act": "relu2",
    "rms_norm_eps": 1e-5,
    "rope_theta": 500000.0,
    "attention_bias": False,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "torch_dtype": "bfloat16",
}

CASES = {
    "bitnet_packed": dict(packed=True, scale_dtype=torch.bfloat16, tied=True,
                          quantization={"quant_method": "bitnet", "linear_class": "bitlinear",
                                        "quantization_mode": "offline"}),
    "bitnet_bf16": dict(packed=False, scale_dtype=None, tied=True,
                        quantization={"quant_method": "bitnet", "linear_class": "autobitlinear",
                                      "quantization_mode": "online"}),
    "bitnet_autobitlinear": dict(packed=True, scale_dtype=torch.float32, tied=False,
                                 quantization={"quant_method": "bitnet", "linear_class": "autobitlinear",
                                               "quantization_mode": "offline"}),
}

PROJECTIONS = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
               "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")


def master_weights(seed: int):
    """BF16 master weights of the base shape: N(0, 1/sqrt(fan_in)) projections,
    N(0, 1) embeddings and lm head / sqrt(d), norms 1 + N(0, 0.1)."""
    c = BASE_CONFIG
    gen = torch.Generator().manual_seed(seed)
    d, f, v = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    hd = d // c["num_attention_heads"]
    q_dim, kv_dim = c["num_attention_heads"] * hd, c["num_key_value_heads"] * hd
    shapes = {"self_attn.q_proj": (q_dim, d), "self_attn.k_proj": (kv_dim, d),
              "self_attn.v_proj": (kv_dim, d), "self_attn.o_proj": (d, q_dim),
              "mlp.gate_proj": (f, d), "mlp.up_proj": (f, d), "mlp.down_proj": (d, f)}

    def normal(shape, std):
        return (torch.randn(shape, generator=gen) * std).to(torch.bfloat16)

    t = {"model.embed_tokens.weight": normal((v, d), 1.0),
         "model.norm.weight": 1.0 + normal((d,), 0.1)}
    for layer in range(c["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        t[p + "input_layernorm.weight"] = 1.0 + normal((d,), 0.1)
        t[p + "post_attention_layernorm.weight"] = 1.0 + normal((d,), 0.1)
        t[p + "self_attn.attn_sub_norm.weight"] = 1.0 + normal((q_dim,), 0.1)
        t[p + "mlp.ffn_sub_norm.weight"] = 1.0 + normal((f,), 0.1)
        for name in PROJECTIONS:
            t[p + name + ".weight"] = normal(shapes[name], 1.0 / math.sqrt(shapes[name][1]))
    t["lm_head.weight"] = normal((v, d), 1.0 / math.sqrt(d))
    return {k: w.to(torch.bfloat16) for k, w in t.items()}


def case_tensors(masters, spec):
    """The checkpoint's tensors for one case, derived from the master weights."""
    out = {}
    for name, w in masters.items():
        if name == "lm_head.weight" and spec["tied"]:
            continue
        projection = name.endswith("_proj.weight")
        if projection and spec["packed"]:
            wq, s = weight_quant(w.to(torch.float32))
            prefix = name[:-len(".weight")]
            out[name] = pack_ternary(wq)
            # bitlinear divides by weight_scale, autobitlinear multiplies by it.
            scale = s if spec["quantization"]["linear_class"] == "bitlinear" else 1.0 / s
            out[prefix + ".weight_scale"] = scale.reshape(1).to(spec["scale_dtype"])
        else:
            out[name] = w
    return out


def case_config(spec):
    config = dict(BASE_CONFIG)
    config["tie_word_embeddings"] = spec["tied"]
    config["quantization_config"] = dict(spec["quantization"])
    return config


class Margins:
    """Smallest distance of a rounding from its boundary (k + 0.5), relative to the scale given."""

    def __init__(self):
        self.act = math.inf
        self.weight = math.inf

    def __call__(self, kind, z, scale):
        a = z.detach().double().abs()
        rel = float(((a - a.floor() - 0.5).abs() / scale.double()).min())
        if kind == "act":
            self.act = min(self.act, rel)
        else:
            self.weight = min(self.weight, rel)


def greedy(model: BitNetReference, prompt):
    ids = list(prompt)
    gap = math.inf
    for _ in range(MAX_NEW_TOKENS):
        last = model.logits(ids)[-1]
        top = torch.topk(last.double(), 2).values
        gap = min(gap, float((top[0] - top[1]) / last.double().abs().max()))
        ids.append(int(last.argmax()))
    return ids[len(prompt):], gap


@torch.no_grad()
def evaluate(config, tensors, tokens, prompt):
    margins = Margins()
    model = BitNetReference(config, tensors, margins)
    logits = model.logits(tokens)
    hidden = model.hidden_states(tokens)
    generated, gap = greedy(model, prompt)
    expected = {"tokens": tokens, "logits": logits, "hidden": hidden,
                "greedy": {"prompt": prompt, "max_new_tokens": MAX_NEW_TOKENS, "tokens": generated}}
    return expected, {"round": margins.act, "weights": margins.weight, "greedy": gap}


def score(margins, expected):
    varied = len(set(expected["greedy"]["tokens"])) >= MIN_DISTINCT_GENERATED
    return varied, min(margins.values())


def _floats(row) -> str:
    return "[" + ",".join(repr(float(v)) for v in row) + "]"


def _matrix(t: torch.Tensor) -> str:
    return "[\n    " + ",\n    ".join(_floats(r) for r in t.to(torch.float32).tolist()) + "\n  ]"


def write_expected(path, expected):
    parts = ['  "tokens": ' + json.dumps(expected["tokens"]),
             '  "logits": ' + _matrix(expected["logits"]),
             '  "hidden": ' + _matrix(expected["hidden"]),
             '  "greedy": ' + json.dumps(expected["greedy"])]
    text = "{\n" + ",\n".join(parts) + "\n}\n"
    json.loads(text)
    with open(path, "w") as f:
        f.write(text)


def _fmt(x):
    return "-" if math.isinf(x) else f"{x:.1e}"


@torch.no_grad()
def main():
    torch.set_num_threads(1)
    os.makedirs(FIXTURES, exist_ok=True)
    gen = torch.Generator().manual_seed(4242)
    tokens = torch.randint(0, BASE_CONFIG["vocab_size"], (SEQ_LEN,), generator=gen).tolist()
    prompt = torch.randint(0, BASE_CONFIG["vocab_size"], (PROMPT_LEN,), generator=gen).tolist()
    rows = []
    for index, (name, spec) in enumerate(CASES.items()):
        config = case_config(spec)
        best = None
        for seed in range(1000 * (index + 1), 1000 * (index + 1) + SEED_CANDIDATES):
            tensors = case_tensors(master_weights(seed), spec)
            expected, margins = evaluate(config, tensors, tokens, prompt)
            if best is None or score(margins, expected) > score(best[3], best[2]):
                best = (seed, tensors, expected, margins)
        seed, tensors, expected, margins = best
        directory = os.path.join(FIXTURES, name)
        if os.path.isdir(directory):
            shutil.rmtree(directory)
        os.makedirs(directory)
        with open(os.path.join(directory, "config.json"), "w") as f:
            json.dump(config, f, indent=2)
            f.write("\n")
        save_file(tensors, os.path.join(directory, "model.safetensors"), {"format": "pt"})
        # The files just written must reproduce the expected outputs exactly.
        reloaded = load_file(os.path.join(directory, "model.safetensors"))
        again, _ = evaluate(config, reloaded, tokens, prompt)
        assert torch.equal(again["logits"], expected["logits"]), name
        assert again["greedy"] == expected["greedy"], name
        write_expected(os.path.join(directory, "expected.json"), expected)
        size = sum(os.path.getsize(os.path.join(directory, f)) for f in os.listdir(directory))
        rows.append((name, seed, margins, size))
        print(f"{name:22s} seed={seed} " + " ".join(f"{k}={_fmt(v)}" for k, v in margins.items())
              + f" size={size}")
    write_readme(rows)


def write_readme(rows):
    lines = [
        "# Hugging Face BitNet reference fixtures",
        "",
        "Generated by `/usr/bin/python3 training/make_bitnet_fixtures.py` (do not edit by hand)",
        "with the float32 reference of transformers' BitNet math in `training/qsparse/bitnet.py`.",
        "Each directory is a model in the published `bitnet` format plus `expected.json`",
        "(`tokens`, `logits`, `hidden`, `greedy`), as in `../fixtures`.",
        "",
        "Margins: the smallest relative distance of a rounding from its boundary (`round`:",
        "int8 activations, relative to 127; `weights`: ternary rounding of float master weights",
        "at load, `-` when the weights are stored packed; `greedy`: best vs second-best logit",
        "over max|logit|).",
        "",
        "| case | seed | round | weights | greedy | bytes |",
        "|---|---|---|---|---|---|",
    ]
    for name, seed, m, size in rows:
        lines.append(f"| `{name}` | {seed} | {_fmt(m['round'])} | {_fmt(m['weights'])} | "
                     f"{_fmt(m['greedy'])} | {size} |")
    with open(os.path.join(FIXTURES, "README.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
