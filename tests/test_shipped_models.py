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
    """The splits and held-out sets re-made from ../shared/data by the same script that made them for training."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"the shared data folder {SHARED_DATA} is not present")
    spec = importlib.util.spec_from_file_location("prepare", ROOT / "scripts" / "prepare_default_data.py")
    prepare = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(prepare)
    out = tmp_path_factory.mktemp("splits")
    prepare.prepare_all(SHARED_DATA, out)
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


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
def test_every_held_out_table_agrees_with_a_re_evaluation(name, splits):
    """The model's row of every held-out table (metrics.json and the card) from the shipped weights and the re-made
    sets. Sequences shared between sets (the same positives against each kind of negative) are predicted once."""
    folder = MODELS / name
    metrics = json.loads((folder / "metrics.json").read_text())
    files = {set_name: splits / name / ("test.csv" if set_name == "test" else f"heldout/{set_name}.csv")
             for set_name in metrics.get("heldout", {"test": None})}
    sets = {}
    for set_name, path in files.items():
        parsed = read_records(path)
        assert not parsed.errors, (set_name, parsed.errors[:1])
        sets[set_name] = parsed.records
    assert len(sets["test"]) == metrics["n_test"]
    loaded = load_model(folder)
    unique = list({r.sequence: r for records in sets.values() for r in records}.values())
    probs = dict(zip((r.sequence for r in unique), (p.probs for p in predict(loaded, unique, batch_size=64))))
    raw = sorted({r.label for r in sets["test"]}, key=float)
    card = (folder / "README.md").read_text()
    for set_name, records in sets.items():
        expected = metrics["heldout"][set_name]["model"] if "heldout" in metrics else metrics["test"]
        y = np.array([raw.index(r.label) for r in records])
        again = classification_metrics(y, np.stack([probs[r.sequence] for r in records]))
        for key in ("accuracy", "mcc", "auroc"):
            assert again[key] == pytest.approx(expected[key], abs=1e-4), (set_name, key)
        assert again["confusion_matrix"] == expected["confusion_matrix"], set_name
        assert f"{expected['mcc']:.4f}" in card and f"{expected['auroc']:.4f}" in card, set_name
    assert len(metrics["labels"]) == len(raw)
    assert f"{metrics['baseline']['mcc']:.4f}" in card


def csv_rows(path: Path) -> list[tuple[str, str, str]]:
    lines = path.read_text().splitlines()[1:]
    return [tuple(line.split(",")) for line in lines]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
def test_no_held_out_sequence_is_trained_on_and_genome_windows_hold_no_positive(name, splits):
    from dnabert_core.tokenizer import reverse_complement

    folder = splits / name
    trained = {r[1] for split in ("train", "dev") for r in csv_rows(folder / f"{split}.csv")}
    held = {path.stem: csv_rows(path) for path in [folder / "test.csv", *sorted((folder / "heldout").glob("*.csv"))]}
    assert len(held) >= 3 or not (folder / "heldout").is_dir()
    for set_name, rows in held.items():
        assert not trained & {r[1] for r in rows}, set_name
        assert len({r[2] for r in rows}) == len(CLASSIFIERS[name]), set_name  # every class in every set
    positives = [r[1] for split in ("train", "dev", "test") for r in csv_rows(folder / f"{split}.csv")
                 if r[2] == "1" and name != "splice-400"]
    strands = [s for p in positives for s in (p, reverse_complement(p))]
    starts, ends = {}, {}  # first and last 32 bp of every positive (either strand) -> the positive
    for s in strands:
        starts.setdefault(s[:32], []).append(s)
        ends.setdefault(s[-32:], []).append(s)
    windows = [r[1] for rows in held.values() for r in rows if r[0].endswith((":genomic", ":genomic_random"))]
    windows += [r[1] for split in ("train", "dev") for r in csv_rows(folder / f"{split}.csv")
                if r[0].endswith(":genomic")]
    assert windows or name != "tfbs-ctcf"
    for w in windows:  # overlapping a positive's place by 60 bp or more: the positive's first (or last) bases equal
        for i in range(len(w) - 31):  # the window's from there to its edge (a shared repeat, e.g. an Alu, is not)
            piece = w[i : i + 32]
            if len(w) - i >= 60:
                assert not any(w[i:].startswith(s[: len(w) - i]) for s in starts.get(piece, ())), w
            if i + 32 >= 60:
                assert not any(w[: i + 32].endswith(s[-(i + 32) :]) for s in ends.get(piece, ())), w
