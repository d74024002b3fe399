"""Per-nucleotide attention landscapes (SPEC section 5): k-mer scores -> per-base scores, stitched over windows.

1. k-mer score s_i: attention from ``[CLS]`` (or the mean over query rows) to k-mer i, summed or averaged over the
   chosen layers and heads (``dnabert_core.attention.token_scores``).
2. Base score r_p: the mean of s_i over the k-mers covering base p (``tokenizer.kmers_to_bases``); only covering
   k-mers count, so padding never changes a landscape.
3. Long sequences: each window gives its own per-base track; a base's score is the mean over the windows covering it.
4. Optional L2 normalisation r / ||r||_2 of the whole track; landscapes of k = 3..6 models on the same sequence
   combine by summing their normalised tracks (as the original does).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from dnabert_core.attention import TokenScores, resolve_heads, resolve_layers, token_scores
from dnabert_core.errors import DnabertError
from dnabert_core.model import LoadedModel
from dnabert_core.predict import Progress
from dnabert_core.records import Landscape, SequenceRecord
from dnabert_core.tokenizer import kmers_to_bases


def stitch(starts: np.ndarray, tracks: Sequence[np.ndarray], length: int) -> np.ndarray:
    """One per-base track from overlapping window tracks: each base gets the mean over the scored windows covering it,
    NaN where only unscored (NaN) windows cover it.

    ``starts``: (n_windows,) 0-based; ``tracks[w]``: (window length,) per-base values of window w -> (length,).
    """
    total = np.zeros(length)
    count = np.zeros(length)
    covered = np.zeros(length, dtype=bool)
    for start, track in zip(starts, tracks):
        covered[start : start + len(track)] = True
        if not np.isnan(track).all():
            total[start : start + len(track)] += track
            count[start : start + len(track)] += 1
    if not covered.all():
        raise DnabertError(f"windows do not cover all {length} bases (first gap at {int(np.argmin(covered))})")
    with np.errstate(invalid="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def l2_normalise(scores: np.ndarray) -> np.ndarray:
    """r / ||r||_2 over the scored bases (an all-zero track stays zero; NaN bases stay NaN): (n,) -> (n,)."""
    norm = float(np.sqrt(np.nansum(np.square(scores))))
    return scores / norm if norm > 0 else scores.copy()


def kmer_windows_to_bases(starts: np.ndarray, scores: np.ndarray, n_kmers: np.ndarray, k: int, length: int) -> np.ndarray:
    """Per-base track of a record from its per-window k-mer scores: ``scores`` (n_windows, m_max), the first
    ``n_kmers[w]`` of row w real -> (length,)."""
    tracks = [kmers_to_bases(row[:m], k) for row, m in zip(scores, n_kmers)]
    return stitch(starts, tracks, length)


def describe(n_layers: int, layers: list[int], heads: list[int], n_heads: int, reduce: str, query: str) -> str:
    """Human-readable source line of a landscape, 1-based layer and head numbers."""
    layer_text = ", ".join(str(i + 1) for i in layers)
    head_text = "all heads" if len(heads) == n_heads else "heads " + ", ".join(str(h + 1) for h in heads)
    query_text = "[CLS] query" if query == "cls" else "mean over query rows"
    return f"attention, layer {layer_text} of {n_layers}, {reduce} of {head_text}, {query_text}"


def attention_landscapes(
    loaded: LoadedModel,
    records: Iterable[SequenceRecord],
    *,
    layers: Sequence[int] | None = None,
    heads: Sequence[int] | None = None,
    reduce: str = "sum",
    query: str = "cls",
    normalise: bool = False,
    window: int | None = None,
    step: int | None = None,
    batch_size: int = 32,
    chunk_size: int = 1024,
    progress: Progress | None = None,
) -> Iterator[Landscape]:
    """Attention landscape of every record, in input order (SPEC section 5). ``layers``/``heads``: 0-based (None:
    the last layer, every head). Streamed: memory stays flat over any number of records."""
    source = landscape_source(loaded, layers, heads, reduce, query, normalise)
    for item in token_scores(loaded, records, layers=layers, heads=heads, reduce=reduce, query=query, window=window,
                             step=step, batch_size=batch_size, chunk_size=chunk_size, progress=progress):
        yield to_landscape(item, loaded.tokenizer.k, source, normalise)


def landscape_source(loaded: LoadedModel, layers: Sequence[int] | None, heads: Sequence[int] | None, reduce: str,
                     query: str, normalise: bool) -> str:
    """The source line of landscapes made with these settings."""
    config = loaded.model.config
    return describe(
        config.num_hidden_layers, resolve_layers(config.num_hidden_layers, layers),
        resolve_heads(config.num_attention_heads, heads), config.num_attention_heads, reduce, query,
    ) + (", L2-normalised" if normalise else "")


def to_landscape(item: TokenScores, k: int, source: str, normalise: bool = False,
                 delta: float | None = None) -> Landscape:
    """A record's per-base landscape from its per-window k-mer scores (covering rule, then stitching); NaN where no
    informative window covers a base."""
    sequence = item.record.sequence
    scores = kmer_windows_to_bases(item.starts, item.scores, item.n_kmers, k, len(sequence))
    return Landscape(record_id=item.record.id, sequence=sequence,
                     scores=l2_normalise(scores) if normalise else scores, source=source, delta=delta)


def combine(landscapes: Sequence[Landscape]) -> Landscape:
    """Sum of the L2-normalised landscapes of one sequence from several models (e.g. k = 3, 4, 5, 6), aligned on
    nucleotides."""
    if not landscapes:
        raise DnabertError("no landscapes to combine")
    first = landscapes[0]
    for other in landscapes[1:]:
        if other.sequence != first.sequence:
            raise DnabertError(
                f"landscapes of different sequences cannot be combined: '{first.record_id}' ({len(first.sequence)} bp)"
                f" and '{other.record_id}' ({len(other.sequence)} bp)"
            )
    scores = np.sum([l2_normalise(item.scores) for item in landscapes], axis=0)
    source = "sum of L2-normalised landscapes: " + "; ".join(item.source for item in landscapes)
    return Landscape(record_id=first.record_id, sequence=first.sequence, scores=scores, source=source)
