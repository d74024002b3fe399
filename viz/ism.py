"""In-silico saturation mutagenesis (SPEC section 7): every base of a sequence changed to each of the other three,
scored with the classifier.

The mutated sequences are built block by block from the reference's byte codes (one numpy copy and assignment per
block) and streamed through ``dnabert_core.predict.predict``, so a 300 bp sequence (900 variants) runs as 900 ordinary
records in length-bucketed batches, and memory holds one block, not all of them.

One window only: a sequence longer than the model's window (``LoadedModel.window_size``) is refused. A base there would
be scored in several windows whose aggregate mixes in windows that do not contain it, so "the effect of this base"
would depend on the windowing; score a region of at most one window instead (``--region`` or a shorter slice).

A base other than A/C/G/T in the reference (N, an IUPAC code) is changed to each of the four bases; every A/C/G/T
position gives three variants.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dnabert_core.errors import InputError
from dnabert_core.model import LoadedModel
from dnabert_core.predict import Progress, predict
from dnabert_core.records import Landscape, SequenceRecord

BASES = "ACGT"  # row order of every (4, L) matrix here
_BASE_CODES = np.frombuffer(BASES.encode("ascii"), dtype=np.uint8)
TABLE_COLUMNS = ("id", "position", "ref", "alt", "p_alt", "delta")


@dataclass(frozen=True)
class IsmResult:
    """Saturation mutagenesis of one sequence toward class ``target``.

    ``p_ref``: P(target | reference); ``p_alt``: (4, L), P(target) with base p changed to ``BASES[row]``, p_ref in
    the reference base's own cell; ``effects``: (4, L), p_alt - p_ref (0 in the reference base's cell).
    """

    record_id: str
    sequence: str
    target: str
    p_ref: float
    p_alt: np.ndarray = field(repr=False)
    effects: np.ndarray = field(repr=False)


def variant_cells(sequence: str) -> tuple[np.ndarray, np.ndarray]:
    """The variants of a sequence in output order (position, then A, C, G, T): their 0-based positions (n,) and rows
    in ``BASES`` (n,); n = 3 L for an A/C/G/T sequence (each position's own base is skipped)."""
    codes = np.frombuffer(sequence.encode("ascii", "replace"), dtype=np.uint8)
    positions, rows = np.nonzero(codes[:, None] != _BASE_CODES[None, :])  # (L, 4) mask, row-major: position first
    return positions, rows


def check_fits(loaded: LoadedModel, record: SequenceRecord, window: int | None = None) -> None:
    """Refuse (InputError) a record that one window of ``window`` bases (default: the model's) cannot hold, or that
    holds no k-mer; OptionError for a window the model cannot take."""
    size = loaded.window_size(window)
    loaded.tokenizer.windows(len(record.sequence), size)  # refuses a window outside k..max_bases
    if len(record.sequence) > size:
        raise InputError(f"{len(record.sequence)} bp is longer than the {size} bp window: in-silico mutagenesis "
                         f"scores the whole sequence in one window; give a region or slice of at most {size} bp "
                         f"(--region)", record_id=record.id, source=record.source)
    if len(record.sequence) < loaded.k:
        raise InputError(f"{len(record.sequence)} bp is shorter than one {loaded.k}-mer", record_id=record.id,
                         source=record.source)


def saturation_mutagenesis(
    loaded: LoadedModel,
    record: SequenceRecord,
    *,
    target: int | str | None = None,
    window: int | None = None,
    batch_size: int = 32,
    chunk_size: int = 256,
    token_budget: int | None = None,
    progress: Progress | None = None,
) -> IsmResult:
    """Score every single-base substitution of ``record`` toward ``target`` (see ``LoadedModel.target_class``).

    ``window``: the most bases the sequence may have (default the model's window, see the module docstring);
    ``chunk_size``: mutated sequences built and held at once; ``batch_size``, ``token_budget``: as ``predict``.
    ``progress(done, total)`` counts variants. A reference too ambiguous to score (mostly N) is refused.
    """
    index = loaded.target_class(target)
    check_fits(loaded, record, window)
    settings = dict(window=loaded.window_size(window), batch_size=batch_size, chunk_size=chunk_size,
                    token_budget=token_budget)
    (reference,) = predict(loaded, [record], **settings)
    if not reference.scored:
        raise InputError("more than half of its k-mers hold N or another ambiguous base: nothing to mutate",
                         record_id=record.id, source=record.source)
    p_ref = float(reference.probs[index])
    positions, rows = variant_cells(record.sequence)
    total = len(positions)
    report = (lambda done, _: progress(done, total)) if progress else None
    scored = predict(loaded, _mutants(record, positions, rows, chunk_size), **settings, progress=report)
    p_alt = np.full((len(BASES), len(record.sequence)), p_ref)
    # no count: read predict to its end, where it reports the last chunk's progress
    p_alt[rows, positions] = np.fromiter((p.probs[index] for p in scored), dtype=np.float64)
    effects = p_alt - p_ref
    p_alt.flags.writeable = effects.flags.writeable = False
    return IsmResult(record_id=record.id, sequence=record.sequence, target=loaded.labels[index], p_ref=p_ref,
                     p_alt=p_alt, effects=effects)


def _mutants(record: SequenceRecord, positions: np.ndarray, rows: np.ndarray, block: int
             ) -> Iterator[SequenceRecord]:
    """The mutated sequences, in the order of ``positions``/``rows``, built ``block`` at a time: the reference's
    byte codes repeated (block, L), one base set per row, and the block decoded once."""
    reference = np.frombuffer(record.sequence.encode("ascii", "replace"), dtype=np.uint8)
    length = len(reference)
    for first in range(0, len(positions), block):
        cells = positions[first : first + block]
        codes = np.repeat(reference[None, :], len(cells), axis=0)
        codes[np.arange(len(cells)), cells] = _BASE_CODES[rows[first : first + block]]
        text = codes.tobytes().decode("ascii")
        for row in range(len(cells)):
            yield SequenceRecord(record.id, text[row * length : (row + 1) * length])


def ism_table(results: Iterable[IsmResult]) -> pd.DataFrame:
    """The long table of SPEC section 8: one row per variant, columns ``id``, ``position`` (1-based), ``ref``,
    ``alt``, ``p_alt``, ``delta`` (p_alt - p_ref), in input order, then position, then alt in A, C, G, T order."""
    frames = []
    for result in results:
        positions, rows = variant_cells(result.sequence)
        frames.append(pd.DataFrame({
            "id": result.record_id,
            "position": positions + 1,
            "ref": np.array(list(result.sequence), dtype=object)[positions],
            "alt": np.array(list(BASES), dtype=object)[rows],
            "p_alt": result.p_alt[rows, positions],
            "delta": result.effects[rows, positions],
        }, columns=list(TABLE_COLUMNS)))
    if not frames:
        return pd.DataFrame(columns=list(TABLE_COLUMNS))
    return pd.concat(frames, ignore_index=True)


def ism_importance(result: IsmResult) -> np.ndarray:
    """Per-base ISM importance (L,): p_ref minus the mean P(target) over the base's alternatives, i.e. minus the mean
    of its three effects (four for an N), so a base whose loss lowers P(target) is positive, as in an attribution."""
    alternatives = np.zeros(result.effects.shape, dtype=bool)
    positions, rows = variant_cells(result.sequence)
    alternatives[rows, positions] = True
    return -result.effects.sum(axis=0) / alternatives.sum(axis=0)


def ism_ig_correlation(result: IsmResult, ig_track: Landscape | np.ndarray) -> float:
    """Pearson correlation r between ``ism_importance(result)`` and a per-base attribution track (L,), e.g. integrated
    gradients toward the same class (``viz.attribution.integrated_gradients(..., target=result.target)``).

    r = sum((x - mean x)(y - mean y)) / sqrt(sum((x - mean x)^2) sum((y - mean y)^2)) over the positions where both
    are finite; NaN when fewer than two are, or either track is constant there (r is undefined).
    """
    if isinstance(ig_track, Landscape):
        if ig_track.sequence != result.sequence:
            raise InputError(f"the attribution track is of record {ig_track.record_id!r}, whose sequence differs from "
                             f"the mutated one", record_id=result.record_id)
        ig_track = ig_track.scores
    y = np.asarray(ig_track, dtype=np.float64)
    x = ism_importance(result)
    if y.shape != x.shape:
        raise InputError(f"the attribution track has shape {y.shape}, the sequence {len(result.sequence)} bases",
                         record_id=result.record_id)
    both = np.isfinite(x) & np.isfinite(y)
    if both.sum() < 2:
        return float("nan")
    dx, dy = x[both] - x[both].mean(), y[both] - y[both].mean()
    denominator = np.sqrt((dx * dx).sum() * (dy * dy).sum())
    return float((dx * dy).sum() / denominator) if denominator > 0 else float("nan")
