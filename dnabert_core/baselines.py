"""The honest comparisons in every model card, trained and tested on exactly the model's split: k-mer counts
(k = 1..6) + logistic regression (scikit-learn), and a small CNN on one-hot bases (torch), the model family users
pick for these tasks.
"""
from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import matthews_corrcoef

from dnabert_core.errors import OptionError
from dnabert_core.metrics import classification_metrics
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

    @property
    def description(self) -> str:
        """One sentence for a model card."""
        return (f"k-mer frequencies (k = {', '.join(map(str, KS))}) + logistic regression, C = {self.C:g} chosen "
                f"from {', '.join(f'{c:g}' for c in C_GRID)} by dev MCC ({self.dev_mcc:.4f})")


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


# ------------------------------------------------------------------------------------------------------------ CNN peer
_ONE_HOT_CODES = np.full(256, 4, dtype=np.uint8)  # byte -> channel (A, C, G, T); 4: an all-zero column (N, padding)
for _channel, _base in enumerate(b"ACGT"):
    _ONE_HOT_CODES[_base] = _ONE_HOT_CODES[ord(chr(_base).lower())] = _channel
_ONE_HOT_CODES[ord("U")] = _ONE_HOT_CODES[ord("u")] = 3
_ONE_HOT = torch.cat([torch.eye(4), torch.zeros(1, 4)])  # code -> one-hot row: (5, 4)


def sequences_to_codes(sequences: Sequence[str], length: int) -> np.ndarray:
    """Channel codes of every base, right-padded with 4 (no base) to ``length``: (n, length) uint8.

    A, C, G, T (any case; U as T) are 0..3; N and any other letter are 4, an all-zero one-hot column.
    """
    codes = np.full((len(sequences), length), 4, dtype=np.uint8)
    for row, sequence in enumerate(sequences):
        if len(sequence) > length:
            raise OptionError(f"sequence {row + 1} has {len(sequence)} bp, more than the {length} bp the CNN takes")
        codes[row, : len(sequence)] = _ONE_HOT_CODES[np.frombuffer(sequence.encode("ascii", "replace"), np.uint8)]
    return codes


def codes_to_one_hot(codes: np.ndarray) -> torch.Tensor:
    """One-hot input of channel codes (n, length): (n, 4, length) float32, channels A, C, G, T."""
    return _ONE_HOT[torch.from_numpy(codes).long()].transpose(1, 2)


@dataclass(frozen=True)
class CnnConfig:
    """The CNN peer: three blocks of conv ("same" padding) -> ReLU -> max-pool, then dropout -> dense -> ReLU ->
    dropout -> linear to the classes (softmax). Trained with Adam on cross-entropy."""

    filters: tuple[int, ...] = (64, 64, 64)
    kernels: tuple[int, ...] = (15, 9, 9)
    pools: tuple[int, ...] = (4, 4, 4)
    dense: int = 64
    dropout: float = 0.2
    lr: float = 1e-3
    batch_size: int = 64
    max_epochs: int = 30
    patience: int = 3  # dev evaluations (one per epoch) without a better dev AUROC before stopping


class ConvNet(torch.nn.Module):
    """conv-ReLU-maxpool blocks + dense head on one-hot input (batch, 4, length) -> logits (batch, n_classes)."""

    def __init__(self, config: CnnConfig, length: int, n_classes: int) -> None:
        super().__init__()
        blocks, channels, size = [], 4, length
        for filters, kernel, pool in zip(config.filters, config.kernels, config.pools):
            blocks += [torch.nn.Conv1d(channels, filters, kernel, padding="same"), torch.nn.ReLU(),
                       torch.nn.MaxPool1d(pool, ceil_mode=True)]
            channels, size = filters, math.ceil(size / pool)
        self.features = torch.nn.Sequential(*blocks)
        self.head = torch.nn.Sequential(
            torch.nn.Flatten(), torch.nn.Dropout(config.dropout), torch.nn.Linear(channels * size, config.dense),
            torch.nn.ReLU(), torch.nn.Dropout(config.dropout), torch.nn.Linear(config.dense, n_classes),
        )

    def forward(self, one_hot: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(one_hot))


@dataclass(frozen=True)
class CnnBaseline:
    """A trained CNN peer (eval mode, never changed after training) and how its training went.

    ``length``: the input length (the longest training or dev sequence; shorter inputs are right-padded with
    zeros); ``epochs``: epochs run (fractional when the time budget stopped one); ``best_epoch``: the epochs run when
    the kept weights had the best dev AUROC ``dev_auroc``; ``stopped``: "early stopping", "time budget" or "epochs".
    """

    model: ConvNet
    config: CnnConfig
    length: int
    n_classes: int
    epochs: float
    best_epoch: float
    dev_auroc: float
    seconds: float
    max_seconds: float
    threads: int
    seed: int
    stopped: str

    def predict_proba(self, sequences: Sequence[str], batch_size: int = 512) -> np.ndarray:
        """Class probabilities (softmax): (n, n_classes)."""
        return _predict(self.model, sequences_to_codes(sequences, self.length), batch_size)

    @property
    def description(self) -> str:
        """One paragraph for a model card: architecture, training, epochs run and wall time."""
        c = self.config
        blocks = ", ".join(f"conv {f}x{k}, ReLU, max-pool {p}" for f, k, p in zip(c.filters, c.kernels, c.pools))
        return (
            f"CNN on one-hot bases (N = all zeros, right-padded to {self.length} bp): {blocks}; dropout {c.dropout}, "
            f"dense {c.dense}, ReLU, dropout, softmax over {self.n_classes} classes "
            f"({sum(p.numel() for p in self.model.parameters()):,} parameters). Adam lr {c.lr}, batch {c.batch_size}, "
            f"seed {self.seed}; {self.epochs:.1f} epochs, stopped by {self.stopped}, weights of epoch "
            f"{self.best_epoch:.1f} kept (best dev AUROC {self.dev_auroc:.4f}); {self.seconds / 60:.1f} min on "
            f"{self.threads} CPU thread{'s' if self.threads != 1 else ''} (budget {self.max_seconds / 60:.1f} min)."
        )


def _predict(model: ConvNet, codes: np.ndarray, batch_size: int) -> np.ndarray:
    out = []
    with torch.inference_mode():
        for first in range(0, len(codes), batch_size):
            logits = model(codes_to_one_hot(codes[first : first + batch_size]))
            out.append(torch.softmax(logits, dim=1).numpy())
    return np.concatenate(out) if out else np.zeros((0, model.head[-1].out_features), dtype=np.float32)


def _dev_score(labels: np.ndarray, probs: np.ndarray) -> float:
    """Dev AUROC (one-vs-rest mean when multi-class); MCC when the dev set has one class."""
    metrics = classification_metrics(labels, probs)
    return metrics["auroc"] if np.isfinite(metrics["auroc"]) else metrics["mcc"]


def fit_cnn(
    train_seqs: Sequence[str],
    train_labels: Sequence[int],
    dev_seqs: Sequence[str],
    dev_labels: Sequence[int],
    *,
    seed: int = 0,
    max_seconds: float = 600.0,
    threads: int = 2,
    config: CnnConfig = CnnConfig(),
    progress: Callable[[int, int], None] | None = None,
) -> CnnBaseline:
    """Train the CNN peer on ``train_seqs`` with dev early stopping on AUROC (never the test set).

    Labels are class indices 0 .. n_classes - 1. The dev set is scored after every epoch and the best weights are
    kept; training stops after ``config.patience`` epochs without improvement, after ``config.max_epochs``, or when
    ``max_seconds`` of wall time (data encoding and dev scoring included) would be exceeded: a final dev score is
    then taken. ``threads``: torch CPU threads while training (restored after). The default budget, 10 minutes, is
    about 8-10 epochs of 30k sequences of 300 bp on 2 cores. Same seed and threads, same model. ``progress``
    receives (epochs done x 1000, max epochs x 1000).
    """
    started = time.perf_counter()
    y_train = np.asarray(train_labels, dtype=np.int64)
    y_dev = np.asarray(dev_labels, dtype=np.int64)
    if len(train_seqs) != y_train.size or len(dev_seqs) != y_dev.size:
        raise OptionError(f"{len(train_seqs)} training sequences but {y_train.size} labels, or {len(dev_seqs)} dev "
                          f"sequences but {y_dev.size} labels")
    if y_train.size == 0 or y_dev.size == 0:
        raise OptionError("the CNN needs training and dev sequences")
    n_classes = int(max(y_train.max(), y_dev.max())) + 1
    if n_classes < 2 or min(y_train.min(), y_dev.min()) < 0:
        raise OptionError(f"labels must be class indices 0 .. n_classes - 1 with at least 2 classes, got "
                          f"{sorted(set(y_train.tolist()) | set(y_dev.tolist()))}")
    length = max(map(len, [*train_seqs, *dev_seqs]))
    x_train, x_dev = sequences_to_codes(train_seqs, length), sequences_to_codes(dev_seqs, length)
    batches_per_epoch = math.ceil(y_train.size / config.batch_size)
    saved_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.random.fork_rng():  # initial weights and dropout from the seed, the caller's generator untouched
            torch.manual_seed(seed)
            model = ConvNet(config, length, n_classes)
            optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
            best_score, best_state, best_epoch = -math.inf, copy.deepcopy(model.state_dict()), 0.0
            epochs, stopped, stale, eval_seconds, batch_seconds = 0.0, "epochs", 0, 0.0, 0.0
            for epoch in range(config.max_epochs):
                order = np.random.default_rng([seed, epoch]).permutation(y_train.size)
                model.train()
                scored = epochs  # the weights as last scored on dev
                for batch in range(batches_per_epoch):
                    elapsed = time.perf_counter() - started
                    # stop while there is still time for the last dev scoring (estimated before the first one)
                    reserve = eval_seconds or batch_seconds * len(y_dev) / config.batch_size / 2
                    if elapsed + batch_seconds + reserve > max_seconds:
                        stopped = "time budget"
                        break
                    tick = time.perf_counter()
                    rows = order[batch * config.batch_size : (batch + 1) * config.batch_size]
                    loss = torch.nn.functional.cross_entropy(model(codes_to_one_hot(x_train[rows])),
                                                             torch.from_numpy(y_train[rows]))
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    batch_seconds = time.perf_counter() - tick
                    epochs = epoch + (batch + 1) / batches_per_epoch
                    if progress is not None:
                        progress(round(epochs * 1000), config.max_epochs * 1000)
                if epochs == scored:  # no batch since the last dev scoring (the budget ran out)
                    break
                model.eval()
                tick = time.perf_counter()
                score = _dev_score(y_dev, _predict(model, x_dev, 512))
                eval_seconds = time.perf_counter() - tick
                logger.info("CNN epoch %.2f: dev AUROC %.4f (%.0f s)", epochs, score, time.perf_counter() - started)
                if score > best_score:
                    best_score, best_state, best_epoch, stale = score, copy.deepcopy(model.state_dict()), epochs, 0
                else:
                    stale += 1
                if stopped == "time budget":
                    break
                if stale >= config.patience:
                    stopped = "early stopping"
                    break
            model.load_state_dict(best_state)
            model.eval()
    finally:
        torch.set_num_threads(saved_threads)
    if best_score == -math.inf:  # the budget left no time for a single batch
        stopped, best_score = "time budget", float("nan")
    return CnnBaseline(model=model, config=config, length=length, n_classes=n_classes, epochs=epochs,
                       best_epoch=best_epoch, dev_auroc=float(best_score), seconds=time.perf_counter() - started,
                       max_seconds=max_seconds, threads=threads, seed=seed, stopped=stopped)
