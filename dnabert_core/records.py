"""Frozen dataclasses that carry data one way: parse -> tokenize -> model -> scores."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class SequenceRecord:
    """One input sequence, normalised (upper-case, U -> T).

    ``label`` is the raw label text from the input (``None`` when absent); ``source`` says where the record came from
    (``"file.fa line 12"``, ``"22:1000-2000"``) so later errors can point back to it.
    """

    id: str
    sequence: str
    label: str | None = None
    source: str | None = None

    def __len__(self) -> int:
        return len(self.sequence)


@dataclass(frozen=True)
class Prediction:
    """Class probabilities for one record.

    ``probs``: (n_classes,), the aggregate over windows; ``window_probs``: (n_windows, n_classes), NaN rows for
    windows too ambiguous to score (mostly N); ``window_starts``: (n_windows,), 0-based start of each window in
    bases. One window for short sequences.
    """

    record_id: str
    length: int
    probs: np.ndarray
    window_probs: np.ndarray = field(repr=False)
    window_starts: np.ndarray = field(repr=False)

    @property
    def scored(self) -> bool:
        """False when no window was informative: ``probs`` is NaN and the record should be reported, not shown."""
        return bool(np.isfinite(self.probs).all())


@dataclass(frozen=True)
class Embedding:
    """A sequence embedding: ``vector`` (hidden,), pooled as ``pooling`` ("cls" or "mean"), averaged over windows."""

    record_id: str
    vector: np.ndarray
    pooling: str


@dataclass(frozen=True)
class Landscape:
    """A per-base score track of one sequence: attention landscape (SPEC section 5) or attribution.

    ``scores``: (len(sequence),), one per base, averaged over the windows covering each base for long sequences;
    ``source`` says how it was computed ("attention, layer 4, sum of heads 1-4, [CLS] query"); ``delta``: for
    integrated gradients, the largest absolute convergence delta over the record's windows (None for attention).
    """

    record_id: str
    sequence: str
    scores: np.ndarray = field(repr=False)
    source: str
    delta: float | None = None
