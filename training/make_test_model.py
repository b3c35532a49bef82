"""Writes the small random-weight test model committed under the Java test resources.

It is a real `qsparse` model directory (config.json, model.safetensors, tokenizer.json) with the
tokenizer fixture of model-runtime's tokenizer tests, 50% top-K on every linear input, int8
activations and grouped KV heads. Random weights: its text is gibberish; it exists so that the
README's run command and the inference tests always have a model that loads in milliseconds.

    /usr/bin/python3 training/make_test_model.py
"""

import os
import shutil

import torch

from qsparse.model import QSparseConfig, QSparseForCausalLM

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKENIZER = os.path.join(ROOT, "model-runtime/src/test/resources/tokenizer/tokenizer.json")
OUT = os.path.join(ROOT, "model-runtime/src/test/resources/test-model")


def main() -> None:
    torch.manual_seed(1234)
    config = QSparseConfig(
        vocab_size=1000,
        hidden_size=48,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        tie_word_embeddings=True,
        bos_token_id=0,
        eos_token_id=0,
        topk_ratio=0.5,
        activation_bits=8,
    )
    model = QSparseForCausalLM(config)
    model.init_weights(std=0.2)
    model.save_pretrained(OUT)
    shutil.copyfile(TOKENIZER, os.path.join(OUT, "tokenizer.json"))
    size = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"wrote {OUT} ({size} bytes)")


if __name__ == "__main__":
    main()
