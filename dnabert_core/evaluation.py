"""A fine-tuned model beside its two peers (k-mer logistic regression, small CNN) on every held-out set: the tables
of a model card and of ``metrics.json``.

The peers are trained once on exactly the model's training split, with the dev set for their choices (C; early
stopping), and never see a held-out sequence.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from dnabert_core.baselines import Baseline, CnnBaseline, CnnConfig, fit_baseline, fit_cnn
from dnabert_core.folder import CNN, KMER, MODEL
from dnabert_core.metrics import classification_metrics
from dnabert_core.records import SequenceRecord

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Peers:
    """The trained comparisons: the k-mer logistic regression always, the CNN unless its budget was 0."""

    kmer: Baseline
    cnn: CnnBaseline | None

    @property
    def description(self) -> str:
        """How the peers were made, for a model card."""
        cnn = self.cnn.description if self.cnn else "The CNN peer was not trained (budget 0)."
        return f"k-mer logistic regression: {self.kmer.description}. {cnn}"


def fit_peers(
    train: Sequence[SequenceRecord], dev: Sequence[SequenceRecord], index: Mapping[str, int], *, seed: int,
    cnn_seconds: float, threads: int, cnn_config: CnnConfig = CnnConfig(),
) -> Peers:
    """Train both peers on ``train`` (labels mapped to class indices by ``index``), choosing on ``dev``."""
    x_train, y_train = [r.sequence for r in train], [index[r.label] for r in train]
    x_dev, y_dev = [r.sequence for r in dev], [index[r.label] for r in dev]
    kmer = fit_baseline(x_train, y_train, x_dev, y_dev, seed=seed)
    cnn = None
    if cnn_seconds > 0:
        logger.info("training the CNN peer (budget %.0f s)", cnn_seconds)
        cnn = fit_cnn(x_train, y_train, x_dev, y_dev, seed=seed, max_seconds=cnn_seconds, threads=threads,
                      config=cnn_config)
    return Peers(kmer=kmer, cnn=cnn)


def compare(
    model_probs: Callable[[list[SequenceRecord]], np.ndarray],
    peers: Peers,
    sets: Mapping[str, Sequence[SequenceRecord]],
    index: Mapping[str, int],
) -> dict[str, dict[str, dict]]:
    """``{set name: {"model" | "cnn" | "kmer_lr": classification metrics, "n": size}}`` on every held-out set.

    ``model_probs`` maps records to (n, n_classes) probabilities. The CNN is left out of a set holding a sequence
    longer than its input (it was sized to the training data).
    """
    unique = list({r.sequence: r for records in sets.values() for r in records}.values())
    if not unique:
        return {}
    sequences = [r.sequence for r in unique]  # a sequence in several sets (shared positives) is scored once
    scored = {MODEL: model_probs(unique), KMER: peers.kmer.predict_proba(sequences)}
    if peers.cnn is not None:
        fits = np.array([len(s) <= peers.cnn.length for s in sequences])
        cnn = np.full((len(sequences), peers.cnn.n_classes), np.nan)
        if fits.any():
            cnn[fits] = peers.cnn.predict_proba([s for s, ok in zip(sequences, fits) if ok])
        scored[CNN] = cnn
    row_of = {s: i for i, s in enumerate(sequences)}
    out: dict[str, dict[str, dict]] = {}
    for name, records in sets.items():
        if not records:
            continue
        y = np.array([index[r.label] for r in records])
        rows = np.array([row_of[r.sequence] for r in records])
        out[name] = {"n": len(records)}
        for key in (MODEL, CNN, KMER):
            if key in scored and (key != CNN or np.isfinite(scored[key][rows]).all()):
                out[name][key] = classification_metrics(y, scored[key][rows])
    return out


def comparison_table(tables: Mapping[str, Mapping[str, dict]]) -> str:
    """One Markdown row per held-out set: size, then AUROC and MCC of the model, the CNN and the k-mer LR."""
    order = (MODEL, CNN, KMER)
    header = ("| held-out set | n | AUROC: model / CNN / k-mer LR | MCC: model / CNN / k-mer LR |\n"
              "|---|---:|---|---|")
    lines = [header]
    for name, row in tables.items():
        cells = [" / ".join(f"{row[key][metric]:.4f}" if key in row else "n/a" for key in order)
                 for metric in ("auroc", "mcc")]
        lines.append(f"| {name} | {row['n']:,} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)
