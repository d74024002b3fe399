"""Run by tests/test_train.py under torchrun (or alone): a few pre-training steps of a tiny dropout-free model.

Each rank writes its final weights to OUTPUT/rank<r>.safetensors so the test can compare ranks with each other and
with a single-process run on the same global batches.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from transformers import BertForMaskedLM

from dnabert_core.model import build_config
from dnabert_core.tokenizer import KmerTokenizer
from dnabert_core.pretraining import pretrain
from dnabert_core.train import TrainConfig, init_distributed


def main(output: str) -> None:
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    pieces = ["".join(rng.choice(list("ACGT"), int(rng.integers(20, 60)))) for _ in range(40)]
    torch.manual_seed(0)
    config = build_config(3, layers=1, hidden=32, heads=2, intermediate=64, max_tokens=64)
    config.hidden_dropout_prob = config.attention_probs_dropout_prob = 0.0
    model = BertForMaskedLM(config)
    dist_info = init_distributed("cpu")
    run = pretrain(
        model, KmerTokenizer(3, 64), pieces,
        TrainConfig(output=Path(output), steps=4, batch_size=8, lr=1e-3, log_every=1, save_every=100,
                    mask_probability=0.1),
        dist_info=dist_info, resume=False,
    )
    save_file({k: v.contiguous() for k, v in run.model.state_dict().items() if "decoder" not in k},
              str(Path(output) / f"rank{dist_info.rank}.safetensors"))


if __name__ == "__main__":
    main(sys.argv[1])
