"""The held-out comparison of a model with its peers: shared sequences scored once, every set's metrics equal to a
direct computation, the CNN left out of a set it cannot read."""
from __future__ import annotations

import numpy as np
import pytest

from dnabert_core.baselines import CnnConfig
from dnabert_core.evaluation import compare, comparison_table, fit_peers
from dnabert_core.metrics import classification_metrics
from dnabert_core.records import SequenceRecord
from tests.test_baselines import planted


def records(sequences: list[str], labels: list[int], prefix: str) -> list[SequenceRecord]:
    return [SequenceRecord(f"{prefix}{i}", s, label=str(y)) for i, (s, y) in enumerate(zip(sequences, labels))]


@pytest.fixture(scope="module")
def peers_and_sets():
    rng = np.random.default_rng(0)
    train = records(*planted(rng, ["GGGGCCCCGG"], 150, 60), "t")
    dev = records(*planted(rng, ["GGGGCCCCGG"], 30, 60), "d")
    peers = fit_peers(train, dev, {"0": 0, "1": 1}, seed=0, cnn_seconds=20, threads=1,
                      cnn_config=CnnConfig(filters=(16, 16), kernels=(9, 5), pools=(2, 2), dense=16, max_epochs=6))
    test = records(*planted(rng, ["GGGGCCCCGG"], 40, 60), "x")
    positives = [r for r in test if r.label == "1"]
    other = positives + records(*planted(rng, [], 40, 60), "o")  # the same positives against other negatives
    longer = positives[:10] + records(*planted(rng, [], 10, 80), "l")  # longer than the CNN's input
    return peers, {"test": test, "other": other, "longer": longer}


def test_compare_scores_shared_sequences_once_and_matches_direct_metrics(peers_and_sets):
    peers, sets = peers_and_sets
    calls = []

    def model_probs(batch: list[SequenceRecord]) -> np.ndarray:  # a "model" that counts G+C
        calls.append(len(batch))
        gc = np.array([(r.sequence.count("G") + r.sequence.count("C")) / len(r.sequence) for r in batch])
        return np.stack([1 - gc, gc], axis=1)

    tables = compare(model_probs, peers, sets, {"0": 0, "1": 1})
    assert calls == [len({r.sequence for rs in sets.values() for r in rs})]  # one call, each sequence once
    assert list(tables) == ["test", "other", "longer"] and [t["n"] for t in tables.values()] == [80, 80, 20]
    for name, rs in sets.items():
        y = np.array([int(r.label) for r in rs])
        assert tables[name]["model"] == classification_metrics(y, model_probs(rs))
        assert tables[name]["kmer_lr"] == classification_metrics(y, peers.kmer.predict_proba([r.sequence for r in rs]))
    assert "cnn" in tables["test"] and "cnn" not in tables["longer"]
    assert tables["test"]["cnn"]["auroc"] > 0.9 and tables["test"]["kmer_lr"]["auroc"] > 0.9  # a planted motif
    table = comparison_table(tables)
    assert table.splitlines()[0].startswith("| held-out set | n |")
    longer = tables["longer"]
    assert f"| longer | 20 | {longer['model']['auroc']:.4f} / n/a / {longer['kmer_lr']['auroc']:.4f} |" in table
