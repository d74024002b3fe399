"""Attention-based motif discovery (SPEC section 6): high-score runs -> candidates -> hypergeometric enrichment with
Benjamini-Hochberg -> merging and re-centring (``viz.motif_merge``) -> position frequency matrices.

Shapes: each positive's ``scores`` is (len(sequence),); a PFM is a DataFrame (window, 4), index ``position``,
columns A, C, G, T. Coordinates are 0-based half-open.
"""
from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

import ahocorasick
import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control, hypergeom

from dnabert_core.errors import InputError, OptionError
from dnabert_core.records import Landscape, Motif, SequenceRecord
from dnabert_core.tokenizer import reverse_complement
from viz.motif_merge import MotifGroup, Run, merge_candidates, motif_instances

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
BASES = "ACGT"
MOTIF_COLUMNS = ["motif", "consensus", "instances", "x", "n", "p", "p_adj", "members"]
INSTANCE_COLUMNS = ["motif", "id", "start", "end", "strand", "sequence"]
_NOT_ACGT = re.compile(f"[^{BASES}]")
_TICK = 256


@dataclass(frozen=True)
class MotifParams:
    """Motif discovery settings (SPEC section 6).

    A base is high when its score > ``min_ratio`` * min(score) and, with ``above_mean``, score > mean(score), both
    over the sequence's finite scores; a given ``threshold`` replaces both conditions by score > threshold. NaN scores
    are never high. With signed scores (attributions) min(score) is usually negative, so score > 10 * min(score) is
    then nearly always true and only the mean condition selects: that is SPEC's definition, kept as is.
    Runs of >= ``min_len`` high bases are candidates; those with BH-adjusted p < ``alpha`` are merged (placements
    scoring >= max(min_len - 1, ``merge_fraction`` * shorter length)), re-centred to ``window`` bases, and motifs with
    >= ``min_instances`` instances are kept.
    """

    min_len: int = 5
    window: int = 24
    min_instances: int = 3
    alpha: float = 0.005
    min_ratio: float = 10.0
    above_mean: bool = True
    threshold: float | None = None
    merge_fraction: float = 0.5

    def __post_init__(self) -> None:
        for name in ("min_len", "window", "min_instances"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise OptionError(f"{name} must be an integer >= 1, got {value!r}")
        if self.window < self.min_len:
            raise OptionError(f"window ({self.window}) must be at least min_len ({self.min_len})")
        _check_number("alpha", self.alpha, lambda v: 0 < v <= 1, "in (0, 1]")
        _check_number("min_ratio", self.min_ratio, math.isfinite, "finite")
        _check_number("merge_fraction", self.merge_fraction, lambda v: 0 < v <= 1, "in (0, 1]")
        if self.threshold is not None:
            _check_number("threshold", self.threshold, math.isfinite, "finite")
        if not isinstance(self.above_mean, (bool, np.bool_)):
            raise OptionError(f"above_mean must be True or False, got {self.above_mean!r}")


def _check_number(name: str, value: object, ok: Callable[[float], bool], what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not ok(float(value)):
        raise OptionError(f"{name} must be a number {what}, got {value!r}")


@dataclass(frozen=True)
class MotifResult:
    """Discovered motifs named motif_1, motif_2, ... (by p_adj, then instances descending, then consensus), with the
    number of distinct candidates, of significant ones, of input sequences, and a note saying why, when empty."""

    motifs: tuple[Motif, ...]
    n_candidates: int
    n_significant: int
    n_positives: int
    n_negatives: int
    note: str | None = None


def high_score_runs(scores: np.ndarray, params: MotifParams) -> list[tuple[int, int]]:
    """0-based half-open (start, end) runs of >= ``params.min_len`` consecutive high bases of ``scores`` (n,);
    see ``MotifParams`` for "high" (mean and min over this sequence's finite scores; NaN is never high)."""
    scores = np.asarray(scores, dtype=float)
    finite = scores[np.isfinite(scores)]
    if finite.size == 0:
        return []
    with np.errstate(invalid="ignore"):
        if params.threshold is not None:
            high = scores > params.threshold
        else:
            high = scores > params.min_ratio * finite.min()
            if params.above_mean:
                high &= scores > finite.mean()
    edges = np.diff(np.concatenate(([0], high.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    keep = ends - starts >= params.min_len
    return list(zip(starts[keep].tolist(), ends[keep].tolist()))


def find_candidates(positives: Sequence[Landscape], params: MotifParams) -> dict[str, list[Run]]:
    """Candidate substrings (SPEC section 6.2): each distinct high-score run text -> its (positive index, start, end)
    runs. Runs holding a base other than A/C/G/T are skipped."""
    candidates: dict[str, list[Run]] = {}
    for index, landscape in enumerate(positives):
        sequence = landscape.sequence.upper()
        for start, end in high_score_runs(landscape.scores, params):
            text = sequence[start:end]
            if not _NOT_ACGT.search(text):
                candidates.setdefault(text, []).append((index, start, end))
    return candidates


def _automaton(patterns: Sequence[str], reverse_complements: bool) -> tuple[np.ndarray, ahocorasick.Automaton | None]:
    """(n_patterns,) group of each pattern (a pattern and its reverse complement share one) and an automaton mapping
    both orientations of every group to the group index (None when there are no patterns)."""
    automaton = ahocorasick.Automaton()
    keys: dict[str, int] = {}
    groups = np.empty(len(patterns), dtype=np.intp)
    n_groups = 0
    for i, pattern in enumerate(patterns):
        if not pattern:
            raise InputError(f"pattern {i + 1} is empty: nothing to count")
        if pattern not in keys:
            for form in {pattern, reverse_complement(pattern)} if reverse_complements else {pattern}:
                keys[form] = n_groups
                automaton.add_word(form, n_groups)
            n_groups += 1
        groups[i] = keys[pattern]
    if not keys:
        return groups, None
    automaton.make_automaton()
    return groups, automaton


def _count(automaton: ahocorasick.Automaton | None, n_groups: int, sequences: Iterable[str],
           tick: Callable[[int], None] | None = None) -> np.ndarray:
    """(n_groups,) number of ``sequences`` containing each group; one pass over each sequence."""
    counts = np.zeros(n_groups, dtype=np.int64)
    done = 0
    for done, sequence in enumerate(sequences, start=1):
        if automaton is not None:
            found = {group for _, group in automaton.iter(sequence)}
            counts[np.fromiter(found, dtype=np.intp, count=len(found))] += 1
        if tick is not None and done % _TICK == 0:
            tick(done)
    if tick is not None:
        tick(done)
    return counts


def count_containing(patterns: Sequence[str], sequences: Iterable[str], reverse_complements: bool = True) -> np.ndarray:
    """(n_patterns,) number of ``sequences`` that contain each pattern, or its reverse complement when
    ``reverse_complements`` (a sequence counts once per pattern). Exact, case-sensitive matching with one Aho-Corasick
    automaton: each sequence is read once, whatever the number of patterns."""
    groups, automaton = _automaton(patterns, reverse_complements)
    n_groups = int(groups.max(initial=-1)) + 1
    return _count(automaton, n_groups, sequences)[groups]


def hypergeometric_p(x: np.ndarray, n: np.ndarray, n_total: int, n_positive: int) -> np.ndarray:
    """(n_candidates,) P(X >= x), X hypergeometric: ``n`` sequences drawn from ``n_total`` holding ``n_positive``
    positives (scipy ``hypergeom.sf(x - 1, N, K, n)``, SPEC section 6.3)."""
    return hypergeom.sf(np.asarray(x) - 1, n_total, n_positive, np.asarray(n))


def bh_adjust(p: np.ndarray) -> np.ndarray:
    """(n,) Benjamini-Hochberg adjusted p-values: min over k >= rank of p_(k) * n / k, capped at 1."""
    return false_discovery_control(np.asarray(p, dtype=float), method="bh")


def position_frequency_matrix(windows: Sequence[str], window: int) -> pd.DataFrame:
    """(window, 4) counts of A, C, G, T at each position of equal-length ``windows``; other bases count nowhere."""
    codes = np.frombuffer("".join(windows).encode("ascii", "replace"), dtype=np.uint8).reshape(len(windows), window)
    counts = np.stack([(codes == ord(base)).sum(axis=0) for base in BASES], axis=1)
    return pd.DataFrame(counts, index=pd.RangeIndex(window, name="position"), columns=list(BASES))


def consensus(pfm: pd.DataFrame) -> str:
    """The most frequent base at each position of ``pfm`` (positions, 4): upper-case where it holds at least half of
    the bases counted there, lower-case where it holds less (a weak position, e.g. a flank of the re-centred window),
    'N' where no base is counted or two or more bases tie for most frequent."""
    counts = pfm[list(BASES)].to_numpy()
    top = counts.max(axis=1)
    flat = (top == 0) | ((counts == top[:, None]).sum(axis=1) > 1)
    strong = 2 * top >= counts.sum(axis=1)
    return "".join("N" if f else BASES[b] if st else BASES[b].lower()
                   for f, st, b in zip(flat, strong, counts.argmax(axis=1)))


def _sequences(positives: Sequence[Landscape], negatives: Sequence[str | SequenceRecord],
               params: MotifParams) -> tuple[list[str], list[str]]:
    """Upper-case positive and negative texts, after checking what discovery needs."""
    if len(positives) == 0:
        raise InputError("no positive sequences: motif discovery needs at least one")
    if len(negatives) == 0:
        raise InputError("no negative sequences: enrichment needs negatives")
    for landscape in positives:
        if np.shape(landscape.scores) != (len(landscape.sequence),):
            raise InputError(f"{np.shape(landscape.scores)} scores for a sequence of {len(landscape.sequence)} bases",
                             record_id=landscape.record_id)
    longest = max(len(landscape.sequence) for landscape in positives)
    if params.window > longest:
        raise OptionError(f"window ({params.window} bp) is longer than every positive sequence (longest {longest} bp)")
    texts = [n.sequence if isinstance(n, SequenceRecord) else n for n in negatives]
    return [landscape.sequence.upper() for landscape in positives], [t.upper() for t in texts]


def _ticker(progress: Progress | None, offset: int, total: int) -> Callable[[int], None] | None:
    """``progress`` shifted by ``offset`` sequences already read (None without progress)."""
    return None if progress is None else (lambda done: progress(offset + done, total))


def _enrichment(strings: Sequence[str], positives: list[str], negatives: list[str],
                progress: Progress | None) -> tuple[np.ndarray, ...]:
    """(x, n, p, p_adj) of each candidate, each (n_candidates,), counting both orientations."""
    total = len(positives) + len(negatives)
    groups, automaton = _automaton(strings, True)
    n_groups = int(groups.max(initial=-1)) + 1
    x = _count(automaton, n_groups, positives, _ticker(progress, 0, total))[groups]
    n = x + _count(automaton, n_groups, negatives, _ticker(progress, len(positives), total))[groups]
    p = hypergeometric_p(x, n, total, len(positives))
    return x, n, p, bh_adjust(p)


def _build_motif(group: MotifGroup, runs: dict[str, list[Run]], stats: dict[str, tuple[int, int, float, float]],
                 positives: list[str], record_ids: list[str], window: int) -> Motif:
    """An unnamed Motif from a merged group: its instances, PFM, consensus and its seed's enrichment."""
    instances = motif_instances(group, runs, positives, record_ids, window)
    pfm = position_frequency_matrix([i.sequence for i in instances], window)
    members = tuple(m.candidate for m in group.members)
    seed = min(members, key=lambda c: stats[c][3])
    x, n, p, p_adj = stats[seed]
    return Motif(name="", consensus=consensus(pfm), members=members, instances=instances, pfm=pfm,
                 x=int(x), n=int(n), p=float(p), p_adj=float(p_adj))


def _empty_note(n_candidates: int, n_significant: int, n_groups: int, n_positive: int, n_negative: int,
                params: MotifParams) -> str:
    """Why discovery found no motif, in words."""
    if n_candidates == 0:
        return f"no positive sequence had a high-score run of >= {params.min_len} A/C/G/T bases"
    if n_significant == 0:
        note = f"no candidate reached p_adj < {params.alpha:g} among {n_candidates} candidates"
        smallest = 1 / math.comb(n_positive + n_negative, n_positive)
        if smallest >= params.alpha:
            note += (f"; with {n_positive} positives and {n_negative} negatives the smallest possible p is "
                     f"{smallest:.3g}")
        return note
    return (f"{n_significant} significant candidates formed {n_groups} motifs, none with >= {params.min_instances} "
            f"instances whose {params.window} bp window fits inside its sequence")


def discover_motifs(positives: Sequence[Landscape], negatives: Sequence[str | SequenceRecord],
                    params: MotifParams = MotifParams(), progress: Progress | None = None) -> MotifResult:
    """Motifs enriched in ``positives`` over ``negatives`` from the positives' per-base scores (SPEC section 6).

    Each motif's x, n, p, p_adj are those of its seed: the member candidate with the smallest p_adj (the earliest
    merged on ties). ``progress(done, total)`` counts sequences read while counting candidates.

    Raises
    ------
    InputError: no positives, no negatives, or scores not one per base.
    OptionError: a window longer than every positive sequence.
    """
    pos, neg = _sequences(positives, negatives, params)
    runs = find_candidates(positives, params)
    strings = sorted(runs)
    x, n, p, p_adj = _enrichment(strings, pos, neg, progress)
    significant = p_adj < params.alpha
    chosen = [s for s, keep in zip(strings, significant) if keep]
    stats = {s: (x[i], n[i], p[i], p_adj[i]) for i, s in enumerate(strings) if significant[i]}
    groups = merge_candidates(chosen, p_adj[significant], params.min_len, params.merge_fraction)
    record_ids = [landscape.record_id for landscape in positives]
    built = [_build_motif(g, runs, stats, pos, record_ids, params.window) for g in groups]
    kept = sorted((m for m in built if len(m.instances) >= params.min_instances),
                  key=lambda m: (m.p_adj, -len(m.instances), m.consensus))
    motifs = tuple(replace(m, name=f"motif_{i}") for i, m in enumerate(kept, start=1))
    logger.info("%d candidates, %d significant, %d merged groups, %d motifs", len(strings), len(chosen), len(groups),
                len(motifs))
    note = None if motifs else _empty_note(len(strings), len(chosen), len(groups), len(pos), len(neg), params)
    return MotifResult(motifs=motifs, n_candidates=len(strings), n_significant=len(chosen),
                       n_positives=len(pos), n_negatives=len(neg), note=note)


def motifs_table(result: MotifResult) -> pd.DataFrame:
    """One row per motif: motif, consensus, instances (count), x, n, p, p_adj, members (comma-separated candidates,
    the reference first); the headers alone when there is no motif."""
    rows = [{"motif": m.name, "consensus": m.consensus, "instances": len(m.instances), "x": m.x, "n": m.n, "p": m.p,
             "p_adj": m.p_adj, "members": ",".join(m.members)} for m in result.motifs]
    return pd.DataFrame(rows, columns=MOTIF_COLUMNS)


def instances_table(result: MotifResult) -> pd.DataFrame:
    """One row per instance: motif, id, start, end (0-based half-open in the positive sequence), strand ('+' motif
    orientation on the given strand, '-' reverse complement), sequence (in motif orientation); headers when empty."""
    rows = [{"motif": m.name, "id": i.record_id, "start": i.start, "end": i.end, "strand": i.strand,
             "sequence": i.sequence} for m in result.motifs for i in m.instances]
    return pd.DataFrame(rows, columns=INSTANCE_COLUMNS)
