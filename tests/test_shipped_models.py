"""The embedded default models (assets/models): files, cards, size, plain-transformers loading, and held-out metrics
that a re-evaluation of the shipped weights on the re-made test split reproduces."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from transformers import BertForMaskedLM, BertForSequenceClassification

from dnabert_core.io import read_records
from dnabert_core.metrics import classification_metrics
from dnabert_core.model import load_model
from dnabert_core.predict import predict
from tests.conftest import SHARED_DATA

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "assets" / "models"
CLASSIFIERS = {"promoter-300": ["non_promoter", "promoter"], "tfbs-ctcf": ["background", "ctcf_peak"],
               "splice-400": ["acceptor", "donor", "neither"]}
FILES = ("config.json", "model.safetensors", "vocab.txt", "README.md")
CARD_SECTIONS = ("## Task", "## Data", "## Training", "## Limitations", "Command:", "Wall time")


@pytest.fixture(scope="module")
def splits(tmp_path_factory) -> Path:
    """The train/dev/test splits re-made from ../shared/data by the same script that made them for training."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"the shared data folder {SHARED_DATA} is not present")
    spec = importlib.util.spec_from_file_location("prepare", ROOT / "scripts" / "prepare_default_data.py")
    prepare = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(prepare)
    out = tmp_path_factory.mktemp("splits")
    prepare.promoter(SHARED_DATA, out)
    prepare.ctcf(SHARED_DATA, out)
    prepare.splice(SHARED_DATA, out)
    return out


def test_all_four_are_shipped_small_and_complete():
    names = sorted(p.name for p in MODELS.iterdir() if p.is_dir())
    assert names == sorted(["dnabert-small-6", *CLASSIFIERS])
    total = sum(f.stat().st_size for f in MODELS.rglob("*") if f.is_file())
    assert total < 40e6, f"shipped models take {total / 1e6:.1f} MB"
    for name in names:
        for file_name in FILES:
            assert (MODELS / name / file_name).is_file(), f"{name} lacks {file_name}"
        assert not list((MODELS / name).glob("*.bin")) and not list((MODELS / name).glob("*.pt"))  # no pickles
        card = (MODELS / name / "README.md").read_text()
        for section in CARD_SECTIONS:
            assert section in card, f"{name}'s card lacks {section}"


@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
def test_classifier_loads_in_plain_transformers_and_in_ours(name):
    folder = MODELS / name
    model = BertForSequenceClassification.from_pretrained(folder)
    assert [model.config.id2label[i] for i in range(model.config.num_labels)] == CLASSIFIERS[name]
    loaded = load_model(folder)
    assert loaded.k == 6 and list(loaded.labels) == CLASSIFIERS[name]


def test_encoder_is_a_masked_lm_with_held_out_numbers():
    folder = MODELS / "dnabert-small-6"
    assert isinstance(BertForMaskedLM.from_pretrained(folder), BertForMaskedLM)
    card = (folder / "README.md").read_text()
    assert "| this model |" in card and "| unigram baseline |" in card and "22:21000001-22000000" in card


@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
def test_metrics_file_agrees_with_a_re_evaluation_on_the_test_split(name, splits):
    folder = MODELS / name
    metrics = json.loads((folder / "metrics.json").read_text())
    parsed = read_records(splits / name / "test.csv")
    assert not parsed.errors and len(parsed.records) == metrics["n_test"]
    labels = metrics["labels"]
    raw = sorted({r.label for r in parsed.records}, key=float)
    y = np.array([raw.index(r.label) for r in parsed.records])
    probs = np.stack([p.probs for p in predict(load_model(folder), parsed.records, batch_size=64)])
    again = classification_metrics(y, probs)
    for key in ("accuracy", "mcc", "auroc"):
        assert again[key] == pytest.approx(metrics["test"][key], abs=1e-4), key
    assert again["confusion_matrix"] == metrics["test"]["confusion_matrix"]
    assert len(labels) == probs.shape[1]
    card = (folder / "README.md").read_text()
    assert f"{metrics['test']['mcc']:.4f}" in card and f"{metrics['baseline']['mcc']:.4f}" in card
