"""The honest comparison in every model card: k-mer counts (k = 1..6) + logistic regression (scikit-learn)."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import matthews_corrcoef

from dnabert_core.tokenizer import N_SPECIAL, kmer_token_ids

logger = logging.getLogger(__name__)

KS = (1, 2, 3, 4, 5, 6)
C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)  # C=10 was the top choice on all three default tasks: the grid goes one past it


def kmer_features(sequences: Sequence[str], ks: Sequence[int] = KS) -> sparse.csr_matrix:
    """Frequencies of every k-mer for each k in ``ks`` (counts / number of k-mers of that k): (n, sum 4^k) sparse.

    k-mers holding N or other ambiguous bases are not counted.
    """
    offsets = np.cumsum([0] + [4**k for k in ks])
    rows, cols, values = [], [], []
    for row, sequence in enumerate(sequences):
        for k, offset in zip(ks, offsets):
            ids = kmer_token_ids(sequence, k)
            ids = ids[ids >= N_SPECIAL] - N_SPECIAL
            if ids.size == 0:
                continue
            unique, counts = np.unique(ids, return_counts=True)
            rows.append(np.full(unique.size, row))
            cols.append(unique + offset)
            values.append(counts / ids.size)
    if not rows:
        return sparse.csr_matrix((len(sequences), int(offsets[-1])))
    return sparse.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape=(len(sequences), int(offsets[-1]))
    )


@dataclass(frozen=True)
class Baseline:
    """A fitted k-mer logistic regression and the regularisation chosen on the dev set."""

    model: LogisticRegression
    C: float
    dev_mcc: float

    def predict_proba(self, sequences: Sequence[str]) -> np.ndarray:
        """Class probabilities: (n, n_classes)."""
        return self.model.predict_proba(kmer_features(sequences))


def fit_baseline(
    train: Sequence[str], train_labels: Sequence[int], dev: Sequence[str], dev_labels: Sequence[int], seed: int = 0
) -> Baseline:
    """Fit on ``train``, choose C from ``C_GRID`` by dev MCC (never the test set)."""
    x_train, x_dev = kmer_features(train), kmer_features(dev)
    best: Baseline | None = None
    for c in C_GRID:
        model = LogisticRegression(C=c, max_iter=2000, random_state=seed)
        model.fit(x_train, train_labels)
        mcc = float(matthews_corrcoef(dev_labels, model.predict(x_dev)))
        logger.info("k-mer baseline C=%g: dev MCC %.4f", c, mcc)
        if best is None or mcc > best.dev_mcc:
            best = Baseline(model=model, C=c, dev_mcc=mcc)
    return best
