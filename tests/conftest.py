"""Shared fixtures: tiny models built in the test (2 layers, hidden 32), written as our folders and as the published
DNABERT checkpoints are (config.json fields of DNABERT's bert-config-k, vocab.txt, pytorch_model.bin)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import BertForMaskedLM, BertForSequenceClassification

from dnabert_core.model import build_config, save_model
from dnabert_core.tokenizer import KmerTokenizer

# nothing in the tests downloads: the hub client refuses network access (the hub test replaces the download itself)
os.environ["HF_HUB_OFFLINE"] = "1"

SHARED = Path(__file__).resolve().parents[2] / "shared"
SHARED_DATA = SHARED / "data"

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's chromium for kaleido exports and browser tests: installed with apt-get when missing (never a browser
    download by playwright or kaleido); the test is skipped, saying why, when it cannot be installed."""
    if not CHROMIUM.exists() and shutil.which("apt-get") and os.geteuid() == 0:
        for command in (["apt-get", "install", "-y", "-q", "chromium"], ["apt-get", "update", "-q"],
                        ["apt-get", "install", "-y", "-q", "chromium"]):
            if subprocess.run(command, capture_output=True).returncode == 0 and CHROMIUM.exists():
                break
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed and could not be installed (apt-get install chromium)")
    os.environ.setdefault("BROWSER_PATH", str(CHROMIUM))
    return CHROMIUM


TINY = dict(layers=2, hidden=32, heads=4, intermediate=64)


def tiny_classifier(k: int = 3, max_tokens: int = 64, labels: list[str] | None = None, seed: int = 0):
    torch.manual_seed(seed)
    config = build_config(k, max_tokens=max_tokens, labels=labels, **TINY)
    return BertForSequenceClassification(config).eval()


def random_dna(rng: np.random.Generator, n: int, alphabet: str = "ACGT") -> str:
    return "".join(rng.choice(list(alphabet), n))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """Our own format: a k=3 classifier folder with 64 positions (so windows kick in above 64 bp)."""
    folder = tmp_path_factory.mktemp("tiny-k3")
    save_model(tiny_classifier(3, labels=["negative", "positive"]), KmerTokenizer(3, 64), folder, card="# tiny\n")
    return folder


def write_dnabert_format(folder: Path, k: int, seed: int = 1) -> Path:
    """A folder as the public zhihan1996/DNA_bert_k checkpoints ship: BertForMaskedLM, pytorch_model.bin (a pickle
    written here, by us), vocab.txt, DNABERT's extra config fields and a do_lower_case: true tokenizer config."""
    torch.manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "architectures": ["BertForMaskedLM"],
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": 32,
        "initializer_range": 0.02,
        "intermediate_size": 64,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": 512,
        "model_type": "bert",
        "num_attention_heads": 4,
        "num_hidden_layers": 2,
        "pad_token_id": 0,
        "type_vocab_size": 2,
        "vocab_size": KmerTokenizer(k).vocab_size,
        "num_rnn_layer": 1,
        "rnn": "lstm",
        "rnn_dropout": 0.0,
        "rnn_hidden": 768,
        "split": 10,
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    (folder / "vocab.txt").write_text("\n".join(KmerTokenizer(k).vocab) + "\n")
    (folder / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True, "max_len": 512}))
    (folder / "special_tokens_map.json").write_text(
        json.dumps({"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
                    "mask_token": "[MASK]"})
    )
    from transformers import BertConfig

    model = BertForMaskedLM(BertConfig.from_dict(config))
    torch.save(model.state_dict(), folder / "pytorch_model.bin")
    return folder


@pytest.fixture(scope="session")
def dnabert_format_dir(tmp_path_factory) -> Path:
    return write_dnabert_format(tmp_path_factory.mktemp("dnabert-format") / "DNA_bert_6", k=6)
