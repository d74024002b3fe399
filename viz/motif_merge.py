"""Merging of significant motif candidates and re-centring of their instances (SPEC sections 6.4 and 6.5).

Strings are compared as uint8 byte codes; a motif's reference string (its first member) is padded with 0, a byte no
base has, so padding never matches. Offsets are in the motif's reference frame: the reference occupies 0..len-1.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from dnabert_core.records import MotifInstance
from dnabert_core.tokenizer import reverse_complement

Run = tuple[int, int, int]  # (positive index, start, end), 0-based half-open


@dataclass(frozen=True)
class Member:
    """A candidate merged into a motif: ``strand`` '+' when it reads in motif orientation, '-' when its reverse
    complement does; ``offset``: position of the oriented candidate's first base in the motif's reference frame."""

    candidate: str
    strand: str
    offset: int


@dataclass(frozen=True)
class MotifGroup:
    """Merged candidates: ``reference`` is the first member, which defines the motif's orientation and frame."""

    reference: str
    members: tuple[Member, ...]


def _codes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("ascii", "replace"), dtype=np.uint8)


def alignment_scores(query: str, references: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Matching bases of every ungapped, free-end-gap placement of ``query`` on each reference.

    Parameters
    ----------
    query: the string placed on the references.
    references: (n_refs, width) uint8 byte codes, 0-padded on the right.

    Returns
    -------
    scores: (n_refs, n_offsets) number of equal bases in the overlap.
    offsets: (n_offsets,) position of ``query[0]`` in the reference frame, ``-(len(query) - 1) .. width - 1``: every
        placement that overlaps a reference of the full width by at least one base.
    """
    codes = _codes(query)
    width = references.shape[1]
    padded = np.pad(references, ((0, 0), (len(codes) - 1, len(codes) - 1)))
    scores = (sliding_window_view(padded, len(codes), axis=1) == codes).sum(axis=2)
    return scores, np.arange(-(len(codes) - 1), width)


def align(query: str, reference: str) -> tuple[int, int]:
    """Best (score, offset) of ``query`` on ``reference``: highest score, then smallest |offset|, then the more
    negative offset."""
    scores, offsets = alignment_scores(query, _codes(reference)[None])
    best = np.lexsort((offsets, np.abs(offsets), -scores[0]))[0]
    return int(scores[0, best]), int(offsets[best])


def merge_order(candidates: Sequence[str], p_adj: np.ndarray) -> list[int]:
    """Indices of ``candidates`` in merge order: length ascending, then p_adj ascending, then the string."""
    return sorted(range(len(candidates)), key=lambda i: (len(candidates[i]), float(p_adj[i]), candidates[i]))


def _best_motif(candidate: str, references: np.ndarray, lengths: np.ndarray, min_len: int,
                merge_fraction: float) -> tuple[int, str, int] | None:
    """(motif index, strand, offset) of the best qualifying placement of ``candidate`` or its reverse complement on
    the ``references`` (n_refs, width) of lengths (n_refs,); None when no placement qualifies."""
    if len(references) == 0:
        return None
    placed = [alignment_scores(query, references) for query in (candidate, reverse_complement(candidate))]
    scores = np.stack([placed[0][0], placed[1][0]], axis=1)  # (n_refs, 2 strands, n_offsets)
    offsets = placed[0][1]
    needed = np.maximum(min_len - 1, merge_fraction * np.minimum(lengths, len(candidate)))
    motif, strand, column = np.nonzero(scores >= needed[:, None, None])
    if len(motif) == 0:
        return None
    score, offset = scores[motif, strand, column], offsets[column]
    best = np.lexsort((offset, np.abs(offset), strand, motif, -score))[0]
    return int(motif[best]), "+-"[strand[best]], int(offset[best])


def merge_candidates(candidates: Sequence[str], p_adj: np.ndarray, min_len: int,
                     merge_fraction: float) -> list[MotifGroup]:
    """Merge candidates shortest first into motifs (SPEC section 6.4), in a deterministic order.

    Candidates are taken in ``merge_order``. Each is placed on every existing motif's reference, as itself ('+') and
    as its reverse complement ('-'), at every ungapped offset overlapping by at least one base; the score is the number
    of matching bases. A placement qualifies when its score >= max(min_len - 1, merge_fraction * the shorter length of
    candidate and reference). The candidate joins the motif of the best qualifying placement, ranked by: highest
    score; then the motif created earliest; then '+' before '-'; then the smallest |offset|; then the more negative
    offset. With no qualifying placement the candidate founds a new motif and becomes its reference.

    Parameters
    ----------
    candidates: distinct candidate strings.
    p_adj: (n_candidates,) adjusted p-values, used for the order only.

    Returns
    -------
    The motifs in creation order.
    """
    order = merge_order(candidates, p_adj)
    width = max((len(c) for c in candidates), default=0)
    references = np.zeros((len(candidates), width), dtype=np.uint8)
    lengths = np.zeros(len(candidates), dtype=np.int64)
    groups: list[tuple[str, list[Member]]] = []
    for index in order:
        candidate = candidates[index]
        n = len(groups)
        used = int(lengths[:n].max(initial=0))
        hit = _best_motif(candidate, references[:n, :used], lengths[:n], min_len, merge_fraction)
        if hit is None:
            references[n, : len(candidate)] = _codes(candidate)
            lengths[n] = len(candidate)
            groups.append((candidate, [Member(candidate, "+", 0)]))
        else:
            motif, strand, offset = hit
            groups[motif][1].append(Member(candidate, strand, offset))
    return [MotifGroup(reference, tuple(members)) for reference, members in groups]


def instance_window(start: int, end: int, member: Member, reference_length: int, window: int) -> tuple[int, int]:
    """0-based half-open window of ``window`` bases around one run ``start:end`` of ``member`` (SPEC section 6.5).

    The window is centred on the motif's reference frame: in motif orientation it covers frame positions
    ``w0 .. w0 + window - 1`` with ``w0 = (reference_length - window) // 2`` (floor division). When the reference
    length and the window differ in parity the window has one base more on the 5' (left) side of the reference, in
    motif orientation; for a '-' member that extra base lies on the right of the given strand. The frame is mapped
    onto the sequence through the member's offset: frame position f is base ``start + f - offset`` for '+', and base
    ``end - 1 - (f - offset)`` for '-'. The result may run off the sequence; the caller drops such windows.
    """
    left = (reference_length - window) // 2 - member.offset
    if member.strand == "+":
        return start + left, start + left + window
    return end - left - window, end - left


def motif_instances(group: MotifGroup, runs: Mapping[str, Sequence[Run]], sequences: Sequence[str],
                    record_ids: Sequence[str], window: int) -> tuple[MotifInstance, ...]:
    """Every run of every member of ``group`` as a re-centred instance in motif orientation; windows running off
    their sequence are dropped, identical (record, start, end, strand) kept once, sorted by record then position.

    ``runs``: candidate -> its (positive index, start, end) runs; ``sequences``/``record_ids``: the positives.
    """
    found: dict[tuple[int, int, int, str], str] = {}
    for member in group.members:
        for record, start, end in runs[member.candidate]:
            lo, hi = instance_window(start, end, member, len(group.reference), window)
            if lo < 0 or hi > len(sequences[record]):
                continue
            text = sequences[record][lo:hi]
            found[(record, lo, hi, member.strand)] = text if member.strand == "+" else reverse_complement(text)
    return tuple(MotifInstance(record_ids[record], lo, hi, strand, found[(record, lo, hi, strand)])
                 for record, lo, hi, strand in sorted(found))
