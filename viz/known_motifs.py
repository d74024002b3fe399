"""Naming motifs: Tomtom (memelite's numba implementation) against JASPAR CORE vertebrate matrices (pyjaspar's
bundled sqlite, read offline).

Matrix forms used here:

- a PFM is a pandas DataFrame of counts, rows = positions 0..w-1 (index "position"), columns exactly A C G T;
- a PPM is a numpy array (4, w), rows A C G T, each column summing to 1: what Tomtom compares.

Counts become probabilities with ``PSEUDOCOUNT`` (0.25) added to every base at every position, i.e. one pseudo-site
spread over the four bases by a uniform background (MEME's convention for motifs built from sites): a column never
has a zero probability, and a position with no counts at all becomes uniform.

The library is loaded once per process and never changed afterwards (its arrays are read-only), so the app's
threads share it. memelite's compiled kernels are called under one lock: numba's workqueue threading layer (the
fallback when neither TBB nor OpenMP is present) must not be entered from two threads at once.
"""
from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dnabert_core.errors import DnabertError
from viz.motifs import bh_adjust

logger = logging.getLogger(__name__)

BASES = ("A", "C", "G", "T")
PSEUDOCOUNT = 0.25  # added to every base at every position before counts become probabilities
COLLECTION = "CORE"
TAX_GROUP = "vertebrates"
WARM_UP_TARGETS = 30  # memelite warns below 25 targets: its background comes from the target columns

_LIBRARY_LOCK = threading.Lock()
_LIBRARY: MotifLibrary | None = None
_TOMTOM_LOCK = threading.Lock()
_WARM = threading.Event()


@dataclass(frozen=True)
class MotifLibrary:
    """Known motifs to compare against. ``counts[i]`` and ``probabilities[i]``: (4, w_i), rows A C G T, read-only.

    ``release`` names the source, e.g. "JASPAR2026 CORE vertebrates"."""

    release: str
    ids: tuple[str, ...]
    names: tuple[str, ...]
    counts: tuple[np.ndarray, ...]
    probabilities: tuple[np.ndarray, ...]

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class MotifMatch:
    """One Tomtom match of a query motif to a known motif.

    ``p``: Tomtom's p-value of the best alignment, both strands considered; ``e_value``: p x number of targets;
    ``q_value``: Benjamini-Hochberg over all targets of this query. ``strand`` "-" means the target's reverse
    complement matched. ``offset``: in the best alignment, query column ``i`` sits over column ``i + offset`` of the
    target as matched (the reverse complement when ``strand`` is "-"); equivalently, the target's first column lies
    ``-offset`` columns right of the query's first column (a query cut from target columns 3.. has offset 3).
    ``overlap``: the number of aligned columns. ``release``: the library the target comes from.
    """

    target_id: str
    target_name: str
    p: float
    e_value: float
    q_value: float
    offset: int
    overlap: int
    strand: str
    release: str


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.array(array, dtype=np.float64)
    array.setflags(write=False)
    return array


def check_pfm(pfm: pd.DataFrame, label: str = "motif") -> np.ndarray:
    """The counts of a PFM as an array (w, 4), after checking its form; ``label`` names it in errors."""
    if not isinstance(pfm, pd.DataFrame):
        raise DnabertError(f"{label}: a PFM is a DataFrame with columns A C G T, got {type(pfm).__name__}")
    if tuple(pfm.columns) != BASES:
        raise DnabertError(f"{label}: PFM columns are {list(pfm.columns)}, expected exactly {list(BASES)}")
    if len(pfm) == 0:
        raise DnabertError(f"{label}: the PFM has no positions")
    counts = pfm.to_numpy(dtype=np.float64)
    if not np.isfinite(counts).all() or (counts < 0).any():
        raise DnabertError(f"{label}: PFM counts must be finite and >= 0")
    return counts


def counts_to_probabilities(counts: np.ndarray, pseudocount: float = PSEUDOCOUNT) -> np.ndarray:
    """(counts + pseudocount) / (column total + 4 x pseudocount); a column with no counts and no pseudocount is
    uniform.

    Parameters
    ----------
    counts: (4, w), rows A C G T.
    pseudocount: added to every base at every position, >= 0.

    Returns
    -------
    (4, w) probabilities, each column summing to 1.
    """
    if pseudocount < 0:
        raise DnabertError(f"the pseudocount must be >= 0, got {pseudocount}")
    padded = np.asarray(counts, dtype=np.float64) + pseudocount
    totals = padded.sum(axis=0, keepdims=True)
    return np.divide(padded, totals, out=np.full_like(padded, 0.25), where=totals > 0)


def pfm_to_ppm(pfm: pd.DataFrame, pseudocount: float = PSEUDOCOUNT, label: str = "motif") -> np.ndarray:
    """PFM (w rows x A C G T counts) -> PPM (4, w), with ``pseudocount`` (see ``counts_to_probabilities``)."""
    return counts_to_probabilities(check_pfm(pfm, label).T, pseudocount)


def counts_to_pfm(counts: np.ndarray) -> pd.DataFrame:
    """(4, w) counts, rows A C G T -> PFM DataFrame (rows = positions 0..w-1, columns A C G T)."""
    counts = np.asarray(counts, dtype=np.float64)
    return pd.DataFrame(counts.T, columns=list(BASES), index=pd.RangeIndex(counts.shape[1], name="position"))


def reverse_complement(pfm: pd.DataFrame) -> pd.DataFrame:
    """The PFM of the other strand: positions reversed, A <-> T and C <-> G."""
    counts = check_pfm(pfm)[::-1, ::-1]
    return counts_to_pfm(counts.T)


def build_library(release: str, ids: Sequence[str], names: Sequence[str],
                  counts: Sequence[np.ndarray]) -> MotifLibrary:
    """A library from (4, w) count matrices (rows A C G T); probabilities get ``PSEUDOCOUNT``."""
    if not len(ids) == len(names) == len(counts):
        raise DnabertError(f"a motif library needs as many names ({len(names)}) and matrices ({len(counts)}) as ids "
                           f"({len(ids)})")
    for target_id, matrix in zip(ids, counts):
        if np.ndim(matrix) != 2 or np.shape(matrix)[0] != 4 or np.shape(matrix)[1] == 0:
            raise DnabertError(f"library matrix {target_id!r}: shape {np.shape(matrix)}, expected (4, width >= 1)")
    frozen = tuple(_frozen(matrix) for matrix in counts)
    return MotifLibrary(release=release, ids=tuple(ids), names=tuple(names), counts=frozen,
                        probabilities=tuple(_frozen(counts_to_probabilities(matrix)) for matrix in frozen))


def newest_release() -> str:
    """The newest JASPAR release in pyjaspar's wheel (e.g. "JASPAR2026")."""
    from pyjaspar import jaspardb

    releases = [name for name in jaspardb().get_releases() if re.fullmatch(r"JASPAR\d{4}", name)]
    if not releases:
        raise DnabertError("pyjaspar ships no JASPAR release")
    return max(releases, key=lambda name: int(name[len("JASPAR"):]))


def _load_jaspar() -> MotifLibrary:
    from pyjaspar import jaspardb

    release = newest_release()
    motifs = jaspardb(release=release).fetch_motifs(collection=COLLECTION, tax_group=[TAX_GROUP],
                                                     all_versions=False)
    counts = [np.array([motif.counts[base] for base in BASES]) for motif in motifs]
    library = build_library(f"{release} {COLLECTION} {TAX_GROUP}", [motif.matrix_id for motif in motifs],
                            [motif.name for motif in motifs], counts)
    logger.info("loaded %d matrices from %s", len(library), library.release)
    return library


def jaspar_library() -> MotifLibrary:
    """JASPAR CORE vertebrates, latest version of each matrix, from the newest release: loaded once per process."""
    global _LIBRARY
    with _LIBRARY_LOCK:
        if _LIBRARY is None:
            _LIBRARY = _load_jaspar()
        return _LIBRARY


def library_release() -> str:
    """The source of the default library, e.g. "JASPAR2026 CORE vertebrates"."""
    return jaspar_library().release


def jaspar_matrix(target_id: str, library: MotifLibrary | None = None) -> pd.DataFrame:
    """The counts PFM (rows = positions, columns A C G T) of a library matrix, by id (e.g. "MA0139.2")."""
    library = jaspar_library() if library is None else library
    try:
        index = library.ids.index(target_id)
    except ValueError:
        raise DnabertError(f"no matrix {target_id!r} in {library.release}") from None
    return counts_to_pfm(library.counts[index])


def _tomtom(queries: list[np.ndarray], targets: list[np.ndarray]) -> np.ndarray:
    """memelite's Tomtom, both strands, every query x target: (5, n_queries, n_targets) of p, score, offset,
    overlap, strand (0 = +, 1 = -)."""
    from memelite.tomtom import tomtom

    with _TOMTOM_LOCK:
        results = np.stack(tomtom(queries, targets, n_nearest=None, reverse_complement=True))
    _WARM.set()
    return results


def warm_up() -> None:
    """Compile (or load from numba's on-disk cache) memelite's Tomtom kernels on a tiny input.

    The first compile takes about a minute; afterwards the cache makes this a second or two. Safe from several
    threads: callers wait for the one compiling, and later calls return at once."""
    if _WARM.is_set():
        return
    rng = np.random.default_rng(0)
    targets = [rng.dirichlet(np.ones(4), size=6).T for _ in range(WARM_UP_TARGETS)]
    _tomtom([targets[0][:, :4].copy()], targets)


def match_motifs(pfms: Sequence[pd.DataFrame], top: int = 5,
                 library: MotifLibrary | None = None) -> list[tuple[MotifMatch, ...]]:
    """Compare each PFM with every library matrix (Tomtom, both strands) and keep the ``top`` best by p-value.

    Parameters
    ----------
    pfms: counts DataFrames, (w_i rows, columns A C G T); converted with ``PSEUDOCOUNT``.
    top: matches kept per query (ties in p keep library order).
    library: default ``jaspar_library()``.

    Returns
    -------
    One tuple per query, in input order, best first.
    """
    if top < 1:
        raise DnabertError(f"top must be >= 1, got {top}")
    if not pfms:
        return []
    queries = [pfm_to_ppm(pfm, label=f"motif {i + 1}") for i, pfm in enumerate(pfms)]
    library = jaspar_library() if library is None else library
    p, _, offsets, overlaps, strands = _tomtom(queries, list(library.probabilities))
    n_targets = len(library)
    matches = []
    for row in range(len(queries)):
        q = bh_adjust(np.clip(p[row], 0.0, 1.0))
        best = np.argsort(p[row], kind="stable")[:top]
        matches.append(tuple(
            MotifMatch(target_id=library.ids[j], target_name=library.names[j], p=float(p[row, j]),
                       e_value=float(p[row, j]) * n_targets, q_value=float(q[j]), offset=int(offsets[row, j]),
                       overlap=int(overlaps[row, j]), strand="-" if strands[row, j] else "+",
                       release=library.release)
            for j in best))
    return matches


def best_match_columns(matches: Sequence[MotifMatch], max_q: float | None = 0.5) -> dict[str, object]:
    """The flat columns of a motif's best match for motifs.tsv: ``match_id``, ``match_name``, ``match_p``,
    ``match_q``, ``match_offset``, ``match_strand``.

    ``matches``: one query's matches, best first (an item of ``match_motifs``' list). The best one is reported when
    its q-value is at most ``max_q`` (Tomtom's default threshold, 0.5; ``None``: always); otherwise, or with no
    matches, the text columns are empty and the numbers NaN."""
    best = matches[0] if matches else None
    if best is None or (max_q is not None and best.q_value > max_q):
        return {"match_id": "", "match_name": "", "match_p": math.nan, "match_q": math.nan,
                "match_offset": math.nan, "match_strand": ""}
    return {"match_id": best.target_id, "match_name": best.target_name, "match_p": best.p,
            "match_q": best.q_value, "match_offset": best.offset, "match_strand": best.strand}
