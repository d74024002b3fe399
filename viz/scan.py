"""Region scans (SPEC section 4, Prom-scan): P(target class) of windows of ``window`` bases every ``step`` bases
along a genome region or a long sequence, written as bedGraph, with a threshold-and-merge peak caller written as BED.

Windows are ``KmerTokenizer.windows``: the first starts at the region start, then every ``step`` bases, and the last
ends at the region end (it may overlap its neighbour by more than the others do), so no base is skipped; a step
larger than the window is refused. A region shorter than one window is scored as one window of its own length
(``LoadedModel.length_warning`` says when that is far from the training length); one shorter than k is refused.
Each window is one record through ``dnabert_core.predict.predict``, so the windows are batched as any records are,
and a window that predict does not score (mostly N) is NaN.

bedGraph rule (``base_means``): each base gets the mean probability of the scored windows covering it, so the values
are one per base and the intervals never overlap; adjacent bases whose written values are equal are merged into one
interval, and bases no scored window covers are left out. Coordinates are 0-based, half-open, as bedGraph's are.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dnabert_core.errors import InputError, OptionError
from dnabert_core.io.genome import Genome, parse_region
from dnabert_core.model import LoadedModel
from dnabert_core.predict import Progress, predict
from dnabert_core.records import SequenceRecord
from dnabert_core.sharding import sharded
from dnabert_core.train import Dist

logger = logging.getLogger(__name__)

VALUE_FORMAT = "{:.6g}"


@dataclass(frozen=True)
class ScanResult:
    """P(``target``) of the windows of one region.

    ``chrom``, ``start``, ``end``: the region, 0-based half-open (``chrom`` is the record id for a pasted sequence,
    ``start`` 0); ``window_starts``, ``window_ends``: (n,) int64, each window's span in the same (chromosome)
    coordinates, ascending; ``probs``: (n,) float64, NaN for windows too ambiguous to score.
    """

    record_id: str
    chrom: str
    start: int
    end: int
    target: str
    window_starts: np.ndarray = field(repr=False)
    window_ends: np.ndarray = field(repr=False)
    probs: np.ndarray = field(repr=False)

    @property
    def scored(self) -> np.ndarray:
        """(n,) bool: the windows that were scored."""
        return np.isfinite(self.probs)


@dataclass(frozen=True)
class Peak:
    """Merged windows above a threshold: ``start``/``end`` 0-based half-open, ``max_prob`` the best window's P."""

    chrom: str
    start: int
    end: int
    max_prob: float


def scan(
    loaded: LoadedModel,
    record: SequenceRecord,
    *,
    chrom: str | None = None,
    start: int = 0,
    target: int | str | None = None,
    window: int | None = None,
    step: int | None = None,
    batch_size: int = 32,
    chunk_size: int = 256,
    token_budget: int | None = None,
    progress: Progress | None = None,
    where: Dist | None = None,
) -> ScanResult | None:
    """Scan ``record`` (a region's bases, or a long pasted sequence) with windows of ``window`` bases (default the
    model's window) every ``step`` (default half a window), scoring P(``target``) (default the positive class of a
    two-class model; see ``LoadedModel.target_class``).

    ``chrom``/``start``: where the record's first base lies (default: the record's id, 0), so that results are in
    chromosome coordinates. ``chunk_size`` windows are held at once; ``progress(done, total)`` counts windows.
    ``where``: this process's place in a torchrun job; the windows are shared out among its ranks
    (``dnabert_core.sharding``), rank 0 gets the result and the other ranks None.
    """
    index = loaded.target_class(target)
    length = len(record.sequence)
    if length < loaded.k:
        raise InputError(f"{length} bp is shorter than one {loaded.k}-mer: nothing to scan", record_id=record.id,
                         source=record.source)
    size = loaded.window_size(window)
    starts = loaded.tokenizer.windows(length, size, step)
    ends = np.minimum(starts + size, length)
    total = len(starts)
    windows = (SequenceRecord(record.id, record.sequence[a:b]) for a, b in zip(starts.tolist(), ends.tolist()))
    where = where or Dist(rank=0, world=1, device=loaded.device)

    def work(block: list[SequenceRecord]) -> list[float]:
        return [float(p.probs[index]) for p in predict(loaded, block, window=size, batch_size=batch_size,
                                                        chunk_size=chunk_size, token_budget=token_budget)]

    probs = np.empty(total)
    for done, (_window, prob) in enumerate(sharded(windows, work, where, block=chunk_size), start=1):
        probs[done - 1] = prob
        if progress and (done % chunk_size == 0 or done == total):
            progress(done, total)
    if not where.main:
        return None
    if not np.isfinite(probs).any():
        logger.warning("record %r: no window of the scan could be scored (mostly N)", record.id)
    arrays = [starts + start, ends + start, probs]
    for array in arrays:
        array.flags.writeable = False
    return ScanResult(record_id=record.id, chrom=record.id if chrom is None else chrom, start=start,
                      end=start + length, target=loaded.labels[index], window_starts=arrays[0],
                      window_ends=arrays[1], probs=arrays[2])


def scan_region(loaded: LoadedModel, genome: Genome, region: str, **options: Any) -> ScanResult:
    """``scan`` of ``region`` ("chr:start-end", 1-based inclusive) of ``genome``; ``options`` as ``scan``'s (window,
    step, target, ...). A region past the contig's end or on an unknown contig is refused (InputError, from
    ``Genome.fetch``, naming the contig's length or the contigs there are)."""
    chrom, start, _ = parse_region(region)
    return scan(loaded, genome.region_record(region), chrom=chrom, start=start, **options)


def base_means(result: ScanResult) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-base mean P over the scored windows covering each base, as runs: starts (r,), ends (r,), values (r,).

    The window edges cut the region into elementary intervals, each covered by one contiguous range of the
    (ascending) windows; its value is that range's mean, summed window by window so that it is exact to rounding
    whatever the region's length. Intervals no scored window covers are left out.
    """
    keep = result.scored
    starts, ends, probs = result.window_starts[keep], result.window_ends[keep], result.probs[keep]
    if not len(starts):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    edges = np.unique(np.concatenate([starts, ends]))
    left, right = edges[:-1], edges[1:]
    last = np.searchsorted(starts, left, side="right")  # windows [first, last) start at or before the interval
    first = np.searchsorted(ends, right, side="left")  # and end at or after it
    count = np.maximum(last - first, 0)
    sums = np.zeros(len(left))
    for depth in range(int(count.max())):
        deeper = count > depth
        sums[deeper] += probs[first[deeper] + depth]
    covered = count > 0
    return left[covered], right[covered], sums[covered] / count[covered]


def bedgraph_lines(result: ScanResult, *, track: bool = True) -> list[str]:
    """bedGraph lines (no newlines) of ``base_means``: ``chrom start end value``, values as ``VALUE_FORMAT``,
    adjacent intervals with the same written value merged. ``track``: begin with a ``track type=bedGraph`` line
    (genome browsers want it; ``bedGraphToBigWig`` wants none)."""
    starts, ends, values = base_means(result)
    lines = []
    if track:
        lines.append(f'track type=bedGraph name="p({result.target})" description="P({result.target}) per base, mean '
                     f'of the windows covering it, {result.record_id}"')
    run_start = run_end = run_text = None
    for start, end, value in zip(starts.tolist(), ends.tolist(), values.tolist()):
        text = VALUE_FORMAT.format(value)
        if start == run_end and text == run_text:
            run_end = end
            continue
        if run_text is not None:
            lines.append(f"{result.chrom}\t{run_start}\t{run_end}\t{run_text}")
        run_start, run_end, run_text = start, end, text
    if run_text is not None:
        lines.append(f"{result.chrom}\t{run_start}\t{run_end}\t{run_text}")
    return lines


def write_bedgraph(result: ScanResult, path: str | Path, *, track: bool = True) -> Path:
    """Write ``bedgraph_lines(result, track=track)`` to ``path``, one line each."""
    path = Path(path)
    path.write_text("".join(line + "\n" for line in bedgraph_lines(result, track=track)), encoding="utf-8")
    return path


def call_peaks(result: ScanResult, threshold: float = 0.5, merge_gap: int = 0) -> list[Peak]:
    """Peaks: the spans of scored windows with P > ``threshold``, merged when they overlap or lie at most
    ``merge_gap`` bases apart (bedtools merge -d: 0 merges overlapping and touching windows), in order."""
    if not 0 <= threshold <= 1:
        raise OptionError(f"threshold {threshold} is not a probability (0 to 1)")
    if merge_gap < 0:
        raise OptionError(f"merge_gap must be at least 0 bases, got {merge_gap}")
    above = result.scored & (np.nan_to_num(result.probs, nan=-1.0) > threshold)
    starts, ends, probs = result.window_starts[above], result.window_ends[above], result.probs[above]
    if not len(starts):
        return []
    reach = np.maximum.accumulate(ends)
    new = np.concatenate([[True], starts[1:] > reach[:-1] + merge_gap])
    heads = np.flatnonzero(new)
    peak_ends = np.maximum.reduceat(ends, heads)
    best = np.maximum.reduceat(probs, heads)
    return [Peak(result.chrom, int(s), int(e), float(p)) for s, e, p in zip(starts[heads], peak_ends, best)]


def bed_lines(peaks: list[Peak]) -> list[str]:
    """BED6 lines of peaks: ``chrom start end name score strand``; name ``peak<i>`` (1-based, in order), score
    round(1000 x max_prob) (BED's 0-1000 scale), strand ``.``."""
    return [f"{p.chrom}\t{p.start}\t{p.end}\tpeak{i}\t{round(1000 * p.max_prob)}\t."
            for i, p in enumerate(peaks, start=1)]
