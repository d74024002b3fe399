"""Edits and their effects (SPEC section 7): apply an edit, map ref <-> alt coordinates so that per-base tracks align
across indels, read the original's mutation file, and score p_ref -> p_alt (delta p, score change, log2 odds ratio).

Conventions: edits are :class:`~dnabert_core.records.Variant` (``start``/``end`` 0-based, half-open, in the ref
sequence); a coordinate map is a numpy array ``ref_to_alt[i]`` = the alt index of ref base ``i``, or -1 when the base
is gone. Tracks of ref and alt are laid on one common axis (columns): bases before and after the edit, and the
first ``min(end - start, len(allele))`` bases of the edited span, pair one to one; the rest of the span is a gap
(NaN) in the track that lacks it: the inserted bases in ref, the deleted bases in alt.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dnabert_core.errors import InputError
from dnabert_core.io.lines import iter_chunks, iter_lines, open_binary
from dnabert_core.records import SequenceRecord, Variant

logger = logging.getLogger(__name__)

P_CLIP = 1e-6
"""Probabilities are clipped to ``[P_CLIP, 1 - P_CLIP]`` before the score change and the log2 odds ratio: the original
does not clip, so p = 0 or 1 gives infinities there (SPEC section 7)."""

_MUTATION_FIELDS = ("index", "start", "end")

Records = Sequence[SequenceRecord] | Mapping[int, SequenceRecord]


def apply_edit(sequence: str, variant: Variant) -> str:
    """``sequence`` with bases ``variant.start:variant.end`` replaced by ``variant.allele``; ``sequence`` is kept.

    Raises InputError when the span runs past the sequence or, when ``variant.ref`` is given, the bases there are not
    ``variant.ref`` (compared case-insensitively).
    """
    _check_span(len(sequence), variant)
    found = sequence[variant.start : variant.end]
    if variant.ref is not None and found.upper() != variant.ref.upper():
        raise InputError(
            f"{_name(variant)}: expected {variant.ref!r} at {variant.start}-{variant.end}, but the sequence has "
            f"{found!r}",
            record_id=variant.record_id,
            position=variant.start + 1,
            source=variant.source,
        )
    return sequence[: variant.start] + variant.allele + sequence[variant.end :]


@dataclass(frozen=True)
class CoordinateMap:
    """How the bases of a ref sequence and of its edited alt sequence line up (see the module docstring).

    ``ref_to_alt``: (n_ref,), alt index of each ref base or -1 (deleted); ``alt_to_ref``: (n_alt,), ref index of
    each alt base or -1 (inserted); ``ref_columns``: (n_ref,) and ``alt_columns``: (n_alt,), the column of each base
    on the common axis of ``n_columns`` columns; ``edit_columns``: ``(first, stop)``, the columns of the edited span
    (where to mark the variant; never empty).
    """

    variant: Variant
    n_ref: int
    n_alt: int
    n_columns: int
    edit_columns: tuple[int, int]
    ref_to_alt: np.ndarray = field(repr=False)
    alt_to_ref: np.ndarray = field(repr=False)
    ref_columns: np.ndarray = field(repr=False)
    alt_columns: np.ndarray = field(repr=False)

    def align(self, ref_track: np.ndarray, alt_track: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(ref_aligned, alt_aligned, difference)`` on the common axis, each (n_columns, ...) float.

        ``ref_track``: (n_ref, ...) and ``alt_track``: (n_alt, ...), one row per base (trailing axes, such as one per
        class, are kept). Gaps are NaN; ``difference`` is ``alt_aligned - ref_aligned``, NaN where either is a gap.
        """
        ref_track, alt_track = np.asarray(ref_track, dtype=float), np.asarray(alt_track, dtype=float)
        for name, track, expected in (("ref", ref_track, self.n_ref), ("alt", alt_track, self.n_alt)):
            if track.ndim == 0 or len(track) != expected:
                raise InputError(f"{name} track has {len(track) if track.ndim else 0} values, but the {name} "
                                 f"sequence has {expected} bases", record_id=self.variant.record_id)
        ref_aligned = _spread(ref_track, self.ref_columns, self.n_columns)
        alt_aligned = _spread(alt_track, self.alt_columns, self.n_columns)
        return ref_aligned, alt_aligned, alt_aligned - ref_aligned


def shared_ends(ref: str, alt: str) -> tuple[int, int]:
    """(bases ``ref`` and ``alt`` share at the start, then at the end of what is left): what a minimal edit keeps."""
    prefix = 0
    while prefix < min(len(ref), len(alt)) and ref[prefix] == alt[prefix]:
        prefix += 1
    suffix = 0
    while suffix < min(len(ref), len(alt)) - prefix and ref[-1 - suffix] == alt[-1 - suffix]:
        suffix += 1
    return prefix, suffix


def edit_between(ref: str, alt: str, record_id: str = "ref") -> Variant:
    """The one edit that turns ``ref`` into ``alt``: their common prefix and suffix kept, what lies between replaced
    (a substitution, insertion, deletion or delins). Equal sequences are refused."""
    if ref == alt:
        raise InputError("the two sequences are the same: nothing to compare", record_id=record_id)
    prefix, suffix = shared_ends(ref, alt)
    return Variant(record_id, prefix, len(ref) - suffix, alt[prefix:len(alt) - suffix], ref=ref[prefix:len(ref) - suffix])


def coordinate_map(n_ref: int, variant: Variant) -> CoordinateMap:
    """The :class:`CoordinateMap` of ``variant`` applied to a ref sequence of ``n_ref`` bases.

    Raises InputError when the variant's span runs past ``n_ref``.
    """
    _check_span(n_ref, variant)
    start, end, n_allele = variant.start, variant.end, len(variant.allele)
    span = max(end - start, n_allele)  # columns of the edited span
    n_alt = n_ref + variant.length_change
    ref_columns = np.arange(n_ref)
    ref_columns[end:] += span - (end - start)
    alt_columns = np.arange(n_alt)
    alt_columns[start + n_allele :] += span - n_allele
    n_columns = n_ref - (end - start) + span
    column_to_ref = np.full(n_columns, -1)
    column_to_ref[ref_columns] = np.arange(n_ref)
    column_to_alt = np.full(n_columns, -1)
    column_to_alt[alt_columns] = np.arange(n_alt)
    return CoordinateMap(
        variant=variant,
        n_ref=n_ref,
        n_alt=n_alt,
        n_columns=n_columns,
        edit_columns=(start, start + span),
        ref_to_alt=column_to_alt[ref_columns],
        alt_to_ref=column_to_ref[alt_columns],
        ref_columns=ref_columns,
        alt_columns=alt_columns,
    )


def align_tracks(
    ref_track: np.ndarray, alt_track: np.ndarray, variant: Variant
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(ref_aligned, alt_aligned, difference)``: per-base tracks of ref (n_ref, ...) and alt (n_alt, ...) on one
    axis (n_columns, ...), NaN at gaps (:meth:`CoordinateMap.align`)."""
    return coordinate_map(len(ref_track), variant).align(ref_track, alt_track)


def delta_p(p_ref: np.ndarray | float, p_alt: np.ndarray | float) -> np.ndarray:
    """``p_alt - p_ref``, unclipped; any shape (broadcast), NaN stays NaN."""
    return np.subtract(p_alt, p_ref, dtype=float)


def score_change(p_ref: np.ndarray | float, p_alt: np.ndarray | float) -> np.ndarray:
    """The original's score change ``(p_alt - p_ref) * max(p_ref, p_alt)`` (SPEC section 7), after clipping both to
    ``[P_CLIP, 1 - P_CLIP]``; any shape (broadcast), NaN stays NaN."""
    p_ref, p_alt = clip_probability(p_ref), clip_probability(p_alt)
    return (p_alt - p_ref) * np.maximum(p_ref, p_alt)


def log2_odds_ratio(p_ref: np.ndarray | float, p_alt: np.ndarray | float) -> np.ndarray:
    """``log2(p_ref / (1 - p_ref)) - log2(p_alt / (1 - p_alt))`` (SPEC section 7; positive when the variant lowers
    p), after clipping both to ``[P_CLIP, 1 - P_CLIP]`` so that it is finite (at most about +-39.9); any shape."""
    p_ref, p_alt = clip_probability(p_ref), clip_probability(p_alt)
    return np.log2(p_ref / (1 - p_ref)) - np.log2(p_alt / (1 - p_alt))


def clip_probability(p: np.ndarray | float) -> np.ndarray:
    """``p`` as float, clipped to ``[P_CLIP, 1 - P_CLIP]`` (NaN stays NaN)."""
    return np.clip(np.asarray(p, dtype=float), P_CLIP, 1 - P_CLIP)


def read_mutations(path: str | Path, records: Records) -> tuple[list[Variant], list[InputError]]:
    """The edits of the original's mutation file (plain or gzip) and one InputError per bad line.

    The file (DNABERT ``SNP/mutate_seqs.py``) is a TSV without header, ``index start end allele``: ``index`` picks a
    sequence by its 0-based row in the sequence file (the original's ``dev.iloc[index]``: data rows, header not
    counted); ``start``/``end`` are 0-based, half-open on that sequence's bases (k-mers decoded); ``allele`` replaces
    them, empty for a deletion (``start == end`` inserts before ``start``). ``records``: the sequence file's records
    in file order (``records[index]``), or a mapping index -> record. A list gives the original's rows only when
    every row of the sequence file was read: after a rejected row the positions shift, so a caller should refuse
    then. A line with 3 fields is a deletion whose trailing tab was lost (the original's pandas reads it so).
    A wrong number of fields, a non-integer, an unknown index, a span past its sequence or a non-ACGT allele is an
    InputError with the line number; the other lines are kept. Each Variant's ``id`` is the index as written.
    """
    path = Path(path)
    with open_binary(path) as (raw, text):
        return _mutations(iter_lines(iter_chunks(raw, text, path.name), path.name), records, path.name)


def parse_mutations(
    text: str, records: Records, *, name: str = "pasted text"
) -> tuple[list[Variant], list[InputError]]:
    """:func:`read_mutations` of pasted text; ``name`` stands for the file in sources and errors."""
    with open_binary(text.encode("utf-8", "replace")) as (raw, data):
        return _mutations(iter_lines(iter_chunks(raw, data, name), name), records, name)


def _mutations(
    lines: Iterable[tuple[int, str]], records: Records, name: str
) -> tuple[list[Variant], list[InputError]]:
    variants: list[Variant] = []
    errors: list[InputError] = []
    try:
        for line_no, text in lines:
            if not text.strip():
                continue
            try:
                variants.append(_mutation(text, records, line_no, name))
            except InputError as err:
                errors.append(err)
    except InputError as err:  # a file that cannot be read on: what was read is kept
        errors.append(err)
    if not variants and not errors:
        errors.append(InputError("no mutations: the file is empty", source=name))
    logger.debug("%s: %d mutations, %d rejected lines", name, len(variants), len(errors))
    return variants, errors


def _mutation(text: str, records: Records, line_no: int, name: str) -> Variant:
    """One line -> Variant; InputError (with the line) for anything wrong."""
    fields = [cell.strip() for cell in (text.split("\t") if "\t" in text else text.split())]
    if len(fields) == 3:
        fields.append("")
    if len(fields) != 4:
        raise InputError(f"expected 4 tab-separated fields 'index start end allele', got {len(fields)}: {text!r}",
                         line=line_no, source=name)
    numbers = []
    for label, value in zip(_MUTATION_FIELDS, fields):
        try:
            numbers.append(int(value))
        except ValueError:
            raise InputError(f"{label} {value!r} is not an integer", line=line_no, source=name) from None
    index, start, end = numbers
    record = _record_at(records, index, line_no, name)
    source = f"{name} line {line_no}"
    try:
        variant = Variant(record.id, start, end, fields[3], id=fields[0], source=source)
        _check_span(len(record), variant)
    except InputError as err:
        raise InputError(err.reason, record_id=record.id, line=line_no, source=name) from None
    return variant


def _record_at(records: Records, index: int, line_no: int, name: str) -> SequenceRecord:
    if isinstance(records, Mapping):
        if index in records:
            return records[index]
        known = f"the sequence file has {len(records)} indexed records"
    else:
        if 0 <= index < len(records):
            return records[index]
        known = f"the sequence file has {len(records)} records, indices 0 to {len(records) - 1}"
    raise InputError(f"index {index} matches no sequence ({known})", line=line_no, source=name)


def _check_span(n_bases: int, variant: Variant) -> None:
    if variant.end > n_bases:
        raise InputError(
            f"{_name(variant)}: span {variant.start}-{variant.end} runs past the end of the sequence ({n_bases} bases)",
            record_id=variant.record_id,
            source=variant.source,
        )


def _name(variant: Variant) -> str:
    return f"variant {variant.id!r}" if variant.id is not None else "variant"


def _spread(track: np.ndarray, columns: np.ndarray, n_columns: int) -> np.ndarray:
    """``track`` (n, ...) placed at ``columns`` of a NaN array (n_columns, ...)."""
    out = np.full((n_columns, *track.shape[1:]), np.nan)
    out[columns] = track
    return out
