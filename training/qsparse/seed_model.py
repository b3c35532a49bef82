"""The original seed model (`qsparse_seed` in docs/model-format.md).

A post-norm transformer decoder without position information:

    x = embedding[tokens]
    for each layer:
        x = S(x)
        x = LayerNorm1(x + MHA(x, x, x, causal))
        x = LayerNorm2(x + linear2(w_up(x) * relu(w_gate(x))^2))
    logits = fc(x)

S keeps the K = int(k_ratio * d_model) largest entries of every token vector:
  * quantized = False: keep |x| >= the K-th largest |x|, then divide by
    (||kept||_2 + 1e-6);
  * quantized = True: gamma = max|x|, xq = round(clamp(x / (gamma + 1e-6), -128, 127)),
    keep |xq| >= the K-th largest |xq|; the result is xq (no scale back).
The masking and rounding are straight-through for training.
"""

import json
import os
from typing import Any, Dict

import torch
import torch.nn as nn

from .model import straight_through, topk_count, topk_mask
from .safetensors_io import load_file, save_file

MODEL_TYPE = "qsparse_seed"


class SeedSparsifier(nn.Module):
    def __init__(self, k_ratio: float, quantized: bool):
        super().__init__()
        self.k_ratio = float(k_ratio)
        self.quantized = bool(quantized)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = topk_count(self.k_ratio, x.shape[-1])
        if self.quantized:
            xd = x.detach()
            gamma = xd.abs().amax(dim=-1, keepdim=True)
            xq = (xd / (gamma + 1e-6)).clamp(-128, 127).round()
            return straight_through(xq * topk_mask(xq, k), x)
        kept = straight_through(x.detach() * topk_mask(x, k), x)
        return kept / (torch.linalg.vector_norm(kept, dim=-1, keepdim=True) + 1e-6)

    def extra_repr(self) -> str:
        return f"k_ratio={self.k_ratio}, quantized={self.quantized}"


class SeedFeedForward(nn.Module):
    """w_up(x) * relu(w_gate(x))^2 (the down projection is the layer's linear2)."""

    def __init__(self, d_model: int, dim_feedforward: int):
        super().__init__()
        self.w_up = nn.Linear(d_model, dim_feedforward)
        self.w_gate = nn.Linear(d_model, dim_feedforward)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w_up(x) * torch.relu(self.w_gate(x)).square()


class SeedDecoderLayer(nn.Module):
    def __init__(self, d_model: int, nhead: int, dim_feedforward: int,
                 k_ratio: float, quantized: bool):
        super().__init__()
        self.sparsifier = SeedSparsifier(k_ratio, quantized)
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=0.0, bias=True,
                                               batch_first=True)
        self.feed_forward = SeedFeedForward(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model, eps=1e-5)
        self.norm2 = nn.LayerNorm(d_model, eps=1e-5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.sparsifier(x)
        length = x.shape[1]
        future = torch.ones(length, length, dtype=torch.bool, device=x.device).triu(1)
        attn, _ = self.self_attn(x, x, x, attn_mask=future, need_weights=False)
        x = self.norm1(x + attn)
        x = self.norm2(x + self.linear2(self.feed_forward(x)))
        return x


class QSparseModel(nn.Module):
    """The seed model: QSparseModel(vocab_size, d_model, nhead, num_layers,
    dim_feedforward, k_ratio, quantized)."""

    def __init__(self, vocab_size: int, d_model: int, nhead: int, num_layers: int,
                 dim_feedforward: int, k_ratio: float = 0.5, quantized: bool = False,
                 max_position_embeddings: int = 2048):
        super().__init__()
        self.vocab_size = vocab_size
        self.d_model = d_model
        self.nhead = nhead
        self.num_layers = num_layers
        self.dim_feedforward = dim_feedforward
        self.k_ratio = k_ratio
        self.quantized = quantized
        self.max_position_embeddings = max_position_embeddings
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.decoder_layers = nn.ModuleList(
            SeedDecoderLayer(d_model, nhead, dim_feedforward, k_ratio, quantized)
            for _ in range(num_layers))
        self.fc = nn.Linear(d_model, vocab_size)

    def hidden_states(self, tokens: torch.Tensor) -> torch.Tensor:
        """Output of the last layer [B, T, d_model] (there is no final norm)."""
        x = self.embedding(tokens)
        for layer in self.decoder_layers:
            x = layer(x)
        return x

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits [B, T, vocab_size] for tokens [B, T]."""
        return self.fc(self.hidden_states(tokens))

    # ---- model directory I/O ------------------------------------------------

    def config_dict(self) -> Dict[str, Any]:
        return {
            "model_type": MODEL_TYPE,
            "vocab_size": self.vocab_size,
            "d_model": self.d_model,
            "nhead": self.nhead,
            "num_layers": self.num_layers,
            "dim_feedforward": self.dim_feedforward,
            "k_ratio": self.k_ratio,
            "quantized": self.quantized,
            "max_position_embeddings": self.max_position_embeddings,
        }

    def save_pretrained(self, directory: str) -> None:
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, "config.json"), "w") as f:
            f.write(json.dumps(self.config_dict(), indent=2) + "\n")
        tensors = {name: t.detach().to(torch.float32).contiguous()
                   for name, t in self.state_dict().items()}
        save_file(tensors, os.path.join(directory, "model.safetensors"),
                  metadata={"format": "pt"})

    @classmethod
    def from_pretrained(cls, directory: str) -> "QSparseModel":
        with open(os.path.join(directory, "config.json")) as f:
            config = json.load(f)
        if config.get("model_type") != MODEL_TYPE:
            raise ValueError(f"not a {MODEL_TYPE} config")
        model = cls(config["vocab_size"], config["d_model"], config["nhead"],
                    config["num_layers"], config["dim_feedforward"], config["k_ratio"],
                    config["quantized"], config.get("max_position_embeddings", 2048))
        model.load_state_dict(load_file(os.path.join(directory, "model.safetensors")))
        return model
