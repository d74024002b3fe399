"""Negative examples for classifiers, made in several ways, so that a model cannot learn how negatives were made
instead of what a positive is (issue 14).

Each generator is pure: it takes the sequence and an ``rng: np.random.Generator``, never global state, and returns a
new upper-case string (soft-masked lowercase bases are the same bases). What each keeps of the positive:

- ``piece_shuffle``: cut into 20 near-equal pieces, 12 permuted among their own slots, 8 left in place (DeePromoter,
  GENA's promoter negatives). Keeps the composition exactly and 40% of the sequence in place.
- ``random_substitution``: 12 of the 20 pieces replaced by uniformly random bases. Keeps 8 pieces in place and
  nothing of the other 12.
- ``dinucleotide_shuffle``: a uniformly random sequence with exactly the same dinucleotide counts and first base
  (Altschul & Erickson 1985; MEME's ``fasta-shuffle-letters -kmer 2``, HOMER, tangermeme). Keeps composition and
  CpG content, destroys every motif longer than 2 bp.
- ``genomic_windows``: real genome text of the same length, GC-matched to the positive. Keeps nothing of the positive
  but its length and GC fraction; the negatives are real DNA (repeats, CpG islands, genes).

``make_negatives`` makes one negative per positive, the kinds taken in turn.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from dnabert_core.corpus import occurrence_mask
from dnabert_core.errors import DnabertError, OptionError

logger = logging.getLogger(__name__)

BASES = "ACGT"
_BASE_CODES = np.frombuffer(BASES.encode("ascii"), dtype=np.uint8)
KINDS = ("piece_shuffle", "random_substitution", "dinucleotide_shuffle", "genomic")
GC_TOLERANCE = 0.02  # a GC-matched window's GC fraction is within +-0.02 of its target (+-6 bases at 300 bp)
_MAX_TRIES = 64  # random draws per target before the exhaustive search for a window that overlaps none drawn


def piece_bounds(length: int, n_pieces: int) -> np.ndarray:
    """Start of each of ``n_pieces`` near-equal pieces (lengths differ by at most 1, longer ones first) and the end:
    (n_pieces + 1,) int64. Shorter than ``n_pieces`` bases, some pieces are empty."""
    sizes = np.full(n_pieces, length // n_pieces, dtype=np.int64)
    sizes[: length % n_pieces] += 1
    return np.concatenate([[0], np.cumsum(sizes)])


def _pieces(seq: str, n_pieces: int) -> list[str]:
    bounds = piece_bounds(len(seq), n_pieces)
    return [seq[bounds[i] : bounds[i + 1]] for i in range(n_pieces)]


def _check_pieces(n_pieces: int, n_changed: int, name: str) -> None:
    if n_pieces < 1 or not 0 <= n_changed <= n_pieces:
        raise OptionError(f"{name} must be from 0 to n_pieces ({n_pieces}, at least 1), got {n_changed}")


def piece_shuffle(seq: str, rng: np.random.Generator, n_pieces: int = 20, n_shuffled: int = 12) -> str:
    """Cut ``seq`` into ``n_pieces`` near-equal pieces, permute ``n_shuffled`` randomly chosen pieces among their own
    slots and keep the others in place (DeePromoter's and GENA's promoter negatives).

    Keeps the base composition exactly and every unchosen piece at its own position. When the length is not a
    multiple of ``n_pieces`` the pieces have two lengths; a chosen piece then moves only to a chosen slot of its own
    length, so the kept pieces stay exactly where they were.
    """
    _check_pieces(n_pieces, n_shuffled, "n_shuffled")
    seq = seq.upper()
    pieces = _pieces(seq, n_pieces)
    chosen = rng.choice(n_pieces, size=n_shuffled, replace=False)
    out = list(pieces)
    for size in sorted({len(pieces[i]) for i in chosen}):
        slots = np.sort(chosen[[len(pieces[i]) == size for i in chosen]])
        for slot, source in zip(slots, rng.permutation(slots)):
            out[slot] = pieces[source]
    return "".join(out)


def random_substitution(seq: str, rng: np.random.Generator, n_pieces: int = 20, n_replaced: int = 12) -> str:
    """Replace ``n_replaced`` of ``n_pieces`` near-equal pieces (chosen at random) by uniformly random A/C/G/T.

    Keeps the other pieces exactly in place; the replaced ones keep only their length.
    """
    _check_pieces(n_pieces, n_replaced, "n_replaced")
    pieces = _pieces(seq.upper(), n_pieces)
    for slot in rng.choice(n_pieces, size=n_replaced, replace=False):
        pieces[slot] = _BASE_CODES[rng.integers(0, 4, len(pieces[slot]))].tobytes().decode("ascii")
    return "".join(pieces)


def dinucleotide_shuffle(seq: str, rng: np.random.Generator) -> str:
    """A uniformly random sequence with exactly the dinucleotide counts and the first (hence also last) base of
    ``seq``: Altschul & Erickson's Euler-path shuffle.

    The sequence is a path through a multigraph whose vertices are letters and whose edges are its n - 1 overlapping
    dinucleotides. A uniformly random Euler path from the same first letter is drawn as (Kandel et al. 1996): a
    uniformly random spanning arborescence towards the last letter (Wilson's loop-erased random walk; each vertex's
    tree edge is its last exit), then a uniform order of every vertex's other exits. Every character is a letter, so
    N and other IUPAC codes are kept and so are the dinucleotides holding them. Sequences of up to 2 bases have only
    themselves.
    """
    seq = seq.upper()
    if len(seq) <= 2:
        return seq
    letters, path = np.unique(np.frombuffer(seq.encode("ascii", "replace"), dtype=np.uint8), return_inverse=True)
    source, target = path[:-1], path[1:]
    exits = [target[source == v] for v in range(letters.size)]  # every edge out of each vertex
    root = int(path[-1])
    in_tree = np.zeros(letters.size, dtype=bool)
    in_tree[root] = True
    last_exit = np.full(letters.size, -1)
    for start in range(letters.size):  # Wilson's algorithm: any visiting order gives a uniform arborescence
        vertex = start
        while not in_tree[vertex]:
            last_exit[vertex] = exits[vertex][rng.integers(exits[vertex].size)]  # an edge, uniformly: by multiplicity
            vertex = last_exit[vertex]
        vertex = start
        while not in_tree[vertex]:  # the loop-erased walk: follow the last exits taken
            in_tree[vertex] = True
            vertex = last_exit[vertex]
    order = []  # each vertex's exits in the order the path takes them: the tree edge last
    for vertex, edges in enumerate(exits):
        if vertex == root or edges.size == 0:
            order.append(rng.permutation(edges).tolist())
            continue
        tree_edge = int(np.flatnonzero(edges == last_exit[vertex])[0])
        order.append(rng.permutation(np.delete(edges, tree_edge)).tolist() + [int(last_exit[vertex])])
    used = [0] * letters.size  # exits taken so far, per vertex
    vertex = int(path[0])
    out = [vertex]
    for _ in range(len(seq) - 1):
        following = order[vertex][used[vertex]]
        used[vertex] += 1
        out.append(following)
        vertex = following
    return letters[out].tobytes().decode("ascii")


@dataclass(frozen=True)
class GenomicWindows:
    """Windows drawn from genome text.

    ``starts``: (n,) 0-based starts in the text; ``gc``: (n,) GC fraction of each window (of its non-N bases);
    ``n_excluded_bases``: bases of the text inside an occurrence of an excluded sequence (either strand);
    ``n_excluded_starts``: window starts that were otherwise usable but overlap such an occurrence;
    ``n_outside_tolerance``: GC-matched windows further than the tolerance from their target (see ``genomic_windows``).
    """

    sequences: list[str]
    starts: np.ndarray
    gc: np.ndarray
    n_excluded_bases: int
    n_excluded_starts: int
    n_outside_tolerance: int


@dataclass(frozen=True)
class _Genome:
    """Upper-case genome text as bytes and the bases inside excluded sequences: (L,) uint8 and (L,) bool."""

    text: np.ndarray
    excluded: np.ndarray


def _prepare_genome(genome_text: str, exclude: Iterable[str]) -> _Genome:
    upper = genome_text.upper()
    text = np.frombuffer(upper.encode("ascii", "replace"), dtype=np.uint8)
    return _Genome(text=text, excluded=occurrence_mask(upper, exclude))


def _window_sums(flags: np.ndarray, length: int) -> np.ndarray:
    """Number of True flags in every window of ``length``: (L - length + 1,) int64."""
    cumulative = np.concatenate([[0], np.cumsum(flags, dtype=np.int64)])
    return cumulative[length:] - cumulative[:-length]


def _nearest_free(
    pool: np.ndarray, sorted_gc: np.ndarray, start_free: np.ndarray | None, low: int, high: int, target: float,
    slack: float,
) -> np.ndarray:
    """Indices into ``pool`` of the free windows whose GC is nearest ``target`` (within ``slack`` of the nearest):
    the slice [low, high) around the target is widened, doubling, until the nearest free window found is nearer
    than anything outside the slice. Empty when no window is free."""
    width = max(high - low, 256)
    while True:
        first, last = max(low - width, 0), min(high + width, pool.size)
        found = first + (np.flatnonzero(start_free[pool[first:last]]) if start_free is not None
                         else np.arange(last - first))
        outside = min(target - sorted_gc[first - 1] if first > 0 else np.inf,
                      sorted_gc[last] - target if last < pool.size else np.inf)
        if found.size:
            distance = np.abs(sorted_gc[found] - target)
            if distance.min() <= outside:
                return found[distance <= distance.min() + slack]
        if first == 0 and last == pool.size:
            return found
        width *= 2


def _sample_windows(
    genome: _Genome,
    length: int,
    n: int,
    rng: np.random.Generator,
    gc_targets: np.ndarray | None,
    gc_tolerance: float,
    max_n_fraction: float,
    taken: np.ndarray | None,
) -> GenomicWindows:
    """Draw the windows; ``taken`` (L,) bool marks bases of windows drawn before (updated in place), None: windows
    may overlap."""
    if length < 1 or length > genome.text.size:
        raise OptionError(f"window length must be from 1 to the text length ({genome.text.size:,}), got {length}")
    is_base = np.isin(genome.text, _BASE_CODES)
    n_other = _window_sums(~is_base, length)
    usable = n_other <= max_n_fraction * length
    overlaps = _window_sums(genome.excluded, length) > 0
    n_excluded_starts = int(np.sum(usable & overlaps))
    starts = np.flatnonzero(usable & ~overlaps)
    is_gc = (genome.text == ord("G")) | (genome.text == ord("C"))
    gc_all = _window_sums(is_gc, length)[starts] / np.maximum(length - n_other[starts], 1)
    order = np.argsort(gc_all, kind="stable")  # bin by GC: sorted once, each target's tolerance band is one slice
    pool, sorted_gc = starts[order], gc_all[order]
    if gc_targets is None:
        lows, highs = np.zeros(n, dtype=np.int64), np.full(n, pool.size)
    else:
        lows = np.searchsorted(sorted_gc, gc_targets - gc_tolerance - 1e-9, side="left")
        highs = np.searchsorted(sorted_gc, gc_targets + gc_tolerance + 1e-9, side="right")
    # start_free: a window starting here overlaps none drawn before
    start_free = None if taken is None else np.append(_window_sums(taken, length) == 0, np.zeros(length - 1, bool))
    chosen = np.empty(n, dtype=np.int64)
    n_outside = 0
    for index, (low, high) in enumerate(zip(lows, highs)):
        start = -1
        for _ in range(_MAX_TRIES if high > low else 0):
            candidate = int(pool[rng.integers(low, high)])
            if start_free is None or start_free[candidate]:
                start = candidate
                break
        if start < 0 and high > low:  # the band is crowded: look at every start in it
            band = pool[low:high]
            free = band[start_free[band]]
            if free.size:
                start = int(free[rng.integers(free.size)])
        if start < 0:  # nothing free within tolerance: the free windows of the nearest GC
            nearest = _nearest_free(pool, sorted_gc, start_free, low, high, gc_targets[index], 0.5 / length)
            if nearest.size == 0:
                raise DnabertError(
                    f"window {index + 1} of {n}: no {length} bp window of the genome text is free of N, of excluded "
                    f"sequences{' and of the windows drawn before' if taken is not None else ''}"
                )
            start = int(pool[nearest[rng.integers(nearest.size)]])
            n_outside += 1
        if taken is not None:
            taken[start : start + length] = True
            start_free[max(start - length + 1, 0) : start + length] = False
        chosen[index] = start
    if n_outside:
        logger.warning("%d of %d genomic windows of %d bp are outside the GC tolerance (+-%g): the genome text has "
                       "too few free windows of their GC", n_outside, n, length, gc_tolerance)
    sequences = [genome.text[s : s + length].tobytes().decode("ascii") for s in chosen]
    gc = np.array([gc_fraction(s) for s in sequences])
    return GenomicWindows(sequences, chosen, gc, int(genome.excluded.sum()), n_excluded_starts, n_outside)


def genomic_windows(
    genome_text: str,
    length: int,
    n: int,
    rng: np.random.Generator,
    *,
    gc_targets: Sequence[float] | np.ndarray | None = None,
    gc_tolerance: float = GC_TOLERANCE,
    exclude: Iterable[str] = (),
    max_n_fraction: float = 0.0,
    distinct: bool = True,
) -> GenomicWindows:
    """``n`` random windows of ``length`` bases from ``genome_text`` (e.g. chr22; upper-cased), optionally GC-matched.

    A window may hold at most ``max_n_fraction * length`` bases other than A/C/G/T (default: none), and never
    overlaps an occurrence of an ``exclude`` sequence (either strand; e.g. the test positives; sequences shorter
    than 32 bp are not searched, see ``corpus.occurrence_mask``). With ``gc_targets`` (n,) window i is drawn
    uniformly among the windows whose GC fraction (of their A/C/G/T bases) is within ``gc_tolerance`` of target i:
    windows are sorted by GC once, so each draw is one slice. ``distinct``: no two windows overlap. Where no free
    window is within the tolerance (a GC the text rarely has, such as 0.85 in 300 bp of chr22), the window is drawn
    among the free ones of the nearest GC and counted in ``n_outside_tolerance`` (and logged).
    """
    if gc_targets is not None:
        gc_targets = np.asarray(gc_targets, dtype=np.float64)
        if gc_targets.shape != (n,):
            raise OptionError(f"gc_targets must hold one target per window ({n}), got shape {gc_targets.shape}")
    genome = _prepare_genome(genome_text, exclude)
    taken = np.zeros(genome.text.size, dtype=bool) if distinct else None
    result = _sample_windows(genome, length, n, rng, gc_targets, gc_tolerance, max_n_fraction, taken)
    logger.info("genomic windows: %d of %d bp; %d bases in excluded sequences, %d window starts excluded", n, length,
                result.n_excluded_bases, result.n_excluded_starts)
    return result


def gc_fraction(seq: str) -> float:
    """G + C over A + C + G + T of ``seq`` (any case; other letters not counted); 0.5 when it has no A/C/G/T."""
    upper = seq.upper()
    bases = sum(upper.count(b) for b in BASES)
    return (upper.count("G") + upper.count("C")) / bases if bases else 0.5


def make_negatives(
    positives: Sequence[str],
    kinds: Sequence[str],
    rng: np.random.Generator,
    genome_text: str | None = None,
    *,
    exclude: Iterable[str] = (),
    gc_tolerance: float = GC_TOLERANCE,
    distinct: bool = True,
) -> list[tuple[str, str]]:
    """One negative per positive, the kinds taken in turn (positive i gets ``kinds[i % len(kinds)]``): a list of
    (sequence, kind) in the order of ``positives``.

    Kinds: ``KINDS``. ``"genomic"`` needs ``genome_text``: a window of the positive's length and GC (within
    ``gc_tolerance``; the nearest GC left where none is, logged), overlapping no positive and no ``exclude``
    sequence; with ``distinct``, no other genomic negative either. GC-rich positives (promoters: mean GC 0.61) soon
    use up the few distinct GC-rich windows of a few Mb of text, so ``distinct=False`` keeps them GC-matched at the
    cost of windows that overlap.
    """
    unknown = sorted(set(kinds) - set(KINDS))
    if not kinds or unknown:
        raise OptionError(f"unknown negative kinds {unknown}: choose from {', '.join(KINDS)}" if unknown
                          else "no negative kind given")
    if "genomic" in kinds and genome_text is None:
        raise OptionError("genomic negatives need genome text (genome_text)")
    shuffles = {"piece_shuffle": piece_shuffle, "random_substitution": random_substitution,
                "dinucleotide_shuffle": dinucleotide_shuffle}
    out: list[tuple[str, str] | None] = [None] * len(positives)
    genomic: dict[int, list[int]] = {}  # length -> indices of the positives that get a genomic negative
    for index, positive in enumerate(positives):
        kind = kinds[index % len(kinds)]
        if kind == "genomic":
            genomic.setdefault(len(positive), []).append(index)
        else:
            out[index] = (shuffles[kind](positive, rng), kind)
    if genomic:
        genome = _prepare_genome(genome_text, [*positives, *exclude])
        # shared by every length: no two genomic negatives overlap
        taken = np.zeros(genome.text.size, dtype=bool) if distinct else None
        for length, indices in sorted(genomic.items()):
            targets = np.array([gc_fraction(positives[i]) for i in indices])
            windows = _sample_windows(genome, length, len(indices), rng, targets, gc_tolerance, 0.0, taken)
            for index, sequence in zip(indices, windows.sequences):
                out[index] = (sequence, "genomic")
        logger.info("genomic negatives: %d bases of the genome text hold a positive or an excluded sequence",
                    int(genome.excluded.sum()))
    return out
