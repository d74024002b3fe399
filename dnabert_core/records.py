"""Frozen dataclasses that carry data one way: parse -> tokenize -> model -> scores."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


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


@dataclass(frozen=True)
class MotifInstance:
    """One occurrence of a motif (SPEC section 6.5): ``start``/``end`` 0-based half-open in the positive sequence
    ``record_id``; ``strand`` '+' when the occurrence reads in motif orientation on the given strand, '-' when it is the
    reverse complement; ``sequence`` is the window's text in motif orientation (reverse-complemented for '-')."""

    record_id: str
    start: int
    end: int
    strand: str
    sequence: str


@dataclass(frozen=True)
class Motif:
    """A discovered motif (SPEC section 6): its instances, position frequency matrix and enrichment.

    ``pfm``: DataFrame (window, 4), index ``position`` 0..window-1, columns A, C, G, T, instance counts.
    ``members``: the merged candidate substrings, the first one being the motif's reference. ``x``, ``n``, ``p``,
    ``p_adj``: the hypergeometric enrichment of the motif's most significant member (see ``viz.motifs``).
    """

    name: str
    consensus: str
    members: tuple[str, ...]
    instances: tuple[MotifInstance, ...]
    pfm: pd.DataFrame = field(repr=False, compare=False)
    x: int
    n: int
    p: float
    p_adj: float
