"""The CNN peer: input encoding by hand, a planted motif learned, determinism, classes, and the time budget.
(The k-mer logistic regression's tests are in test_metrics.py.)"""
from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from dnabert_core.baselines import CnnConfig, codes_to_one_hot, fit_cnn, sequences_to_codes
from dnabert_core.errors import OptionError
from dnabert_core.metrics import classification_metrics
from tests.conftest import random_dna

SMALL = CnnConfig(filters=(16, 16, 16), kernels=(9, 5, 5), pools=(2, 2, 2), dense=16, max_epochs=4)


def planted(rng: np.random.Generator, motifs: list[str], n_per_class: int, length: int) -> tuple[list[str], list[int]]:
    """Class 0: random DNA; class c > 0: random DNA holding ``motifs[c - 1]`` at a random position."""
    sequences, labels = [], []
    for label in range(len(motifs) + 1):
        for _ in range(n_per_class):
            seq = random_dna(rng, length)
            if label:
                motif = motifs[label - 1]
                at = int(rng.integers(0, length - len(motif)))
                seq = seq[:at] + motif + seq[at + len(motif) :]
            sequences.append(seq)
            labels.append(label)
    order = rng.permutation(len(sequences))
    return [sequences[i] for i in order], [labels[i] for i in order]


def test_one_hot_by_hand():
    codes = sequences_to_codes(["ACgtN", "TU"], 6)
    np.testing.assert_array_equal(codes, [[0, 1, 2, 3, 4, 4], [3, 3, 4, 4, 4, 4]])
    one_hot = codes_to_one_hot(codes)
    assert one_hot.shape == (2, 4, 6) and one_hot.dtype == torch.float32
    np.testing.assert_array_equal(one_hot[0].numpy(), [[1, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0],
                                                       [0, 0, 0, 1, 0, 0]])  # N and padding: all-zero columns
    with pytest.raises(OptionError, match="sequence 1 has 7 bp, more than the 6 bp"):
        sequences_to_codes(["ACGTACG"], 6)


def test_cnn_learns_a_planted_motif_fast():
    rng = np.random.default_rng(0)
    sequences, labels = planted(rng, ["TATAAAGGCGCC"], 900, 60)
    test, test_labels = planted(rng, ["TATAAAGGCGCC"], 200, 60)
    started = time.perf_counter()
    cnn = fit_cnn(sequences[:1440], labels[:1440], sequences[1440:], labels[1440:], seed=0, max_seconds=20, threads=1,
                  config=CnnConfig(max_epochs=3))  # a fixed amount of training: the same model on a busy machine
    assert time.perf_counter() - started < 10 and cnn.stopped == "epochs"
    auroc = classification_metrics(np.array(test_labels), cnn.predict_proba(test))["auroc"]
    assert auroc > 0.95 and cnn.dev_auroc > 0.95
    assert "conv 64x15, ReLU, max-pool 4" in cnn.description and "softmax over 2 classes" in cnn.description


def test_cnn_is_deterministic_with_a_seed():
    rng = np.random.default_rng(1)
    sequences, labels = planted(rng, ["GGGCGGGG"], 60, 50)
    fits = [fit_cnn(sequences[:80], labels[:80], sequences[80:], labels[80:], seed=seed, threads=1, config=SMALL)
            for seed in (3, 3, 4)]
    probs = [fit.predict_proba(sequences) for fit in fits]
    np.testing.assert_array_equal(probs[0], probs[1])
    assert not np.allclose(probs[0], probs[2])


def test_cnn_is_multi_class_and_takes_shorter_inputs_and_n():
    rng = np.random.default_rng(2)
    sequences, labels = planted(rng, ["TTTTAAAA", "CCCGGGCC"], 40, 60)
    cnn = fit_cnn(sequences[:90], labels[:90], sequences[90:], labels[90:], seed=0, threads=1, config=SMALL)
    probs = cnn.predict_proba(["ACGT" * 15, "ACGTN" * 4, "", "NNNN"])
    assert probs.shape == (4, 3) and cnn.n_classes == 3 and cnn.length == 60
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    with pytest.raises(OptionError, match="more than the 60 bp"):
        cnn.predict_proba(["A" * 61])
    with pytest.raises(OptionError, match="at least 2 classes"):
        fit_cnn(["ACGT"], [0], ["ACGT"], [0], config=SMALL)


def test_cnn_honours_its_time_budget():
    rng = np.random.default_rng(3)
    sequences = [random_dna(rng, 300) for _ in range(3000)]
    labels = (np.arange(3000) % 2).tolist()
    saved = torch.get_num_threads()
    started = time.perf_counter()
    cnn = fit_cnn(sequences[:2500], labels[:2500], sequences[2500:], labels[2500:], seed=0, max_seconds=1.5,
                  threads=1)
    wall = time.perf_counter() - started
    assert cnn.stopped == "time budget" and 0 < cnn.epochs < 1
    assert cnn.seconds <= 1.5 + 0.3 and wall <= 1.5 + 0.5
    assert torch.get_num_threads() == saved
    assert "stopped by time budget" in cnn.description
