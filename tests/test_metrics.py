"""Metrics and the k-mer baseline against hand-computed values."""
from __future__ import annotations

import math

import numpy as np
import pytest

from dnabert_core.baselines import fit_baseline, kmer_features
from dnabert_core.metrics import classification_metrics
from tests.conftest import random_dna


def test_binary_metrics_by_hand():
    y = np.array([0, 0, 1, 1, 1])
    probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.2, 0.8], [0.6, 0.4]])
    m = classification_metrics(y, probs)
    # predictions 0,1,1,1,0: TP=2 FP=1 FN=1 TN=1
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["f1"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
    assert m["mcc"] == pytest.approx((2 * 1 - 1 * 1) / math.sqrt(3 * 3 * 2 * 2))
    # positives score 0.7, 0.8, 0.4 vs negatives 0.1, 0.6: pairs ranked right 5 of 6
    assert m["auroc"] == pytest.approx(5 / 6)
    assert m["confusion_matrix"] == [[1, 1], [1, 2]]


def test_multiclass_metrics_perfect():
    y = np.array([0, 1, 2, 2])
    m = classification_metrics(y, np.eye(3)[y] * 0.7 + 0.1)
    assert m["accuracy"] == m["f1"] == m["mcc"] == m["auroc"] == m["auprc"] == 1.0


def test_multiclass_auroc_with_a_class_absent_averages_the_present_ones():
    y = np.array([0, 0, 2, 2])  # class 1 has no example
    probs = np.array([[0.8, 0.1, 0.1], [0.3, 0.3, 0.4], [0.2, 0.2, 0.6], [0.5, 0.1, 0.4]])
    m = classification_metrics(y, probs)
    # class 0 vs rest: p0 of class-0 rows 0.8, 0.3 vs others 0.2, 0.5 -> 3 of 4 pairs; class 2: 0.6, 0.4 vs 0.1, 0.4
    # -> 1 + 1 + 1 + 0.5 (tie) = 3.5 of 4
    assert m["auroc"] == pytest.approx((3 / 4 + 3.5 / 4) / 2)
    assert np.isfinite(m["auprc"])


def test_kmer_features_by_hand():
    x = kmer_features(["ACGT", "AANA"], ks=(1, 2)).toarray()
    # k=1 columns A, T, C, G; k=2 columns AA, AT, AC, AG, TA, ...
    np.testing.assert_allclose(x[0, :4], [0.25, 0.25, 0.25, 0.25])
    dinucleotides = {"AC": 2, "CG": 2 * 4 + 3, "GT": 3 * 4 + 1}
    for column in dinucleotides.values():
        assert x[0, 4 + column] == pytest.approx(1 / 3)
    np.testing.assert_allclose(x[1, :4], [1, 0, 0, 0])  # N is not counted
    assert x[1, 4 + 0] == pytest.approx(1.0)  # only AA survives among AA, AN, NA


def test_baseline_learns_composition():
    rng = np.random.default_rng(0)
    gc = [random_dna(rng, 60, "GGCCAT") for _ in range(100)]
    at = [random_dna(rng, 60, "AATTGC") for _ in range(100)]
    sequences, labels = gc + at, [1] * 100 + [0] * 100
    baseline = fit_baseline(sequences[::2], labels[::2], sequences[1::2], labels[1::2])
    assert baseline.dev_mcc > 0.9
    assert baseline.predict_proba(["GGCCGGCCGGCC"])[0, 1] > 0.5
