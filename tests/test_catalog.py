"""The app's model catalogue: shipped and configured folders only, cards split into sections, metrics tables."""
from __future__ import annotations

from dnabert_core.model import save_model
from dnabert_core.tokenizer import KmerTokenizer
from tests.conftest import tiny_classifier, write_dnabert_format
from viz.catalog import card_sections, convertible, list_models, metrics_frame


def test_lists_shipped_then_configured_models(tmp_path):
    shipped, configured = tmp_path / "shipped", tmp_path / "configured"
    save_model(tiny_classifier(3), KmerTokenizer(3, 64), shipped / "b-model", card="# b\n")
    save_model(tiny_classifier(3), KmerTokenizer(3, 64), configured / "a-model", card="# a\n")
    (configured / "not-a-model").mkdir()
    (configured / "notes.txt").write_text("x")
    write_dnabert_format(configured / "public-6", 6)
    entries = list_models(shipped, configured)
    assert [(e.name, e.shipped) for e in entries] == [("b-model", True), ("a-model", False), ("public-6", False)]
    assert entries[0].is_classifier and not entries[2].is_classifier
    assert entries[0].card == "# b\n" and entries[0].metrics is None
    assert [p.name for p in convertible(configured)] == ["public-6"]


def test_no_configured_directory_means_no_conversion(monkeypatch):
    monkeypatch.delenv("DNABERT_MODELS_DIR", raising=False)
    assert convertible() == []


def test_card_sections_and_metrics_frame():
    card = "# title\n\n## Task\n\nSplice sites.\n\n## Held-out test metrics\n\n| a |\n|---|\n"
    assert card_sections(card) == {"Task": "Splice sites.", "Held-out test metrics": "| a |\n|---|"}
    metrics = {"test": {"accuracy": 0.9, "f1": 0.8, "mcc": 0.7, "auroc": 0.95, "auprc": 0.94},
               "baseline": {"accuracy": 0.6, "f1": 0.5, "mcc": 0.2, "auroc": 0.7, "auprc": 0.65, "C": 1.0}}
    frame = metrics_frame({**metrics, "n_test": 40})
    assert list(frame["model"]) == ["this model", "k-mer logistic regression (k=1..6)"]
    assert list(frame["mcc"]) == [0.7, 0.2] and list(frame["n"]) == [40, 40]
    assert list(frame.columns) == ["held-out set", "n", "model", "accuracy", "f1", "mcc", "auroc", "auprc"]
    cnn = {"accuracy": 0.8, "f1": 0.7, "mcc": 0.6, "auroc": 0.9, "auprc": 0.88}
    heldout = {"test": {"n": 40, "model": metrics["test"], "cnn": cnn, "kmer_lr": metrics["baseline"]},
               "genomic": {"n": 10, "model": cnn, "kmer_lr": metrics["test"]}}  # no CNN on this set
    frame = metrics_frame({**metrics, "heldout": heldout})
    assert list(frame["held-out set"]) == ["test"] * 3 + ["genomic"] * 2
    assert list(frame["model"]) == ["this model", "CNN on one-hot bases", "k-mer logistic regression (k=1..6)",
                                    "this model", "k-mer logistic regression (k=1..6)"]
    assert list(frame["mcc"]) == [0.7, 0.6, 0.2, 0.6, 0.7] and list(frame["n"]) == [40, 40, 40, 10, 10]


def test_genomes_are_the_shipped_examples_and_the_configured_folder(tmp_path):
    from viz.catalog import SHIPPED_GENOMES, list_genomes

    (tmp_path / "hg.fa.gz").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not a genome")
    genomes = list_genomes(tmp_path)
    assert list(genomes)[: len(SHIPPED_GENOMES)] == list(SHIPPED_GENOMES)
    assert genomes["hg.fa.gz"] == tmp_path / "hg.fa.gz" and "notes.txt" not in genomes
