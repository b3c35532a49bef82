"""Q-Sparse models in PyTorch: the `qsparse` decoder, the original seed model
and a safetensors reader/writer. See docs/model-format.md for the contract."""

from .model import (QSparseConfig, QSparseForCausalLM, quantize_weight, sparsify,
                    straight_through, topk_count, topk_mask)
from .safetensors_io import load_file, save_file
from .seed_model import QSparseModel

__all__ = [
    "QSparseConfig", "QSparseForCausalLM", "QSparseModel", "load_file", "quantize_weight",
    "save_file", "sparsify", "straight_through", "topk_count", "topk_mask",
]
