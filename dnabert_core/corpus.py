"""Pre-training text (SPEC section 3): genome sequence cut into pieces the model sees as training examples.

Genome text is cut into non-overlapping pieces of 509 + k bp (510 k-mers, one full window); pieces that are mostly N
(assembly gaps) are skipped; half of the pieces, chosen at random, are cut again to a random length (at least
``max(5, k)`` bp) so the model sees short and long inputs.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence

import numpy as np

from dnabert_core.tokenizer import reverse_complement

logger = logging.getLogger(__name__)

MAX_N_FRACTION = 0.5


def piece_length(k: int, max_tokens: int = 512) -> int:
    """Bases in one full piece: as many k-mers as one window holds (509 + k for 512 positions)."""
    return max_tokens - 2 + k - 1


def cut_pieces(
    sequence: str,
    k: int,
    rng: np.random.Generator,
    *,
    max_tokens: int = 512,
    short_fraction: float = 0.5,
    max_n_fraction: float = MAX_N_FRACTION,
) -> list[str]:
    """Non-overlapping pieces of an upper-case sequence; mostly-N pieces dropped, ``short_fraction`` re-cut shorter.

    A re-cut piece keeps a random stretch of random length from ``max(5, k)`` to the full length.
    """
    size = piece_length(k, max_tokens)
    shortest = max(5, k)
    pieces = []
    for start in range(0, len(sequence) - shortest + 1, size):
        piece = sequence[start : start + size]
        if piece.count("N") > max_n_fraction * len(piece):
            continue
        if rng.random() < short_fraction and len(piece) > shortest:
            length = int(rng.integers(shortest, len(piece) + 1))
            offset = int(rng.integers(0, len(piece) - length + 1))
            piece = piece[offset : offset + length]
        pieces.append(piece)
    return pieces


def corpus_from_sequences(
    sequences: Iterable[str], k: int, rng: np.random.Generator, *, max_tokens: int = 512, short_fraction: float = 0.5
) -> list[str]:
    """Pieces from many sequences (chromosomes, regions, or extra training sequences), in input order."""
    pieces: list[str] = []
    for sequence in sequences:
        pieces.extend(cut_pieces(sequence, k, rng, max_tokens=max_tokens, short_fraction=short_fraction))
    logger.info("corpus: %d pieces, %d bp", len(pieces), sum(map(len, pieces)))
    return pieces


def join_unaligned(sequences: Sequence[str], group: int, rng: np.random.Generator) -> list[str]:
    """Sequences that share an alignment (promoters cut around their TSS) as stretches of ``group`` of them, in random
    order, each stretch rotated by a random number of bases.

    One such sequence per piece puts the shared feature at the same position of every piece (the TSS at base 250 of
    each 300 bp promoter), and an encoder learns that position: its [CLS] then attends there in every input, content or
    not. Joined and rotated, the feature falls anywhere in a piece.
    """
    if group < 1:
        raise ValueError(f"group must be at least 1, got {group}")
    order = rng.permutation(len(sequences))
    stretches = []
    for start in range(0, len(order), group):
        stretch = "".join(sequences[i] for i in order[start : start + group])
        shift = int(rng.integers(0, len(stretch)))
        stretches.append(stretch[shift:] + stretch[:shift])
    return stretches


_SEED_CODES = np.full(256, 4, dtype=np.uint8)  # byte -> 2-bit base code; 4: not A/C/G/T
for _code, _base in enumerate(b"ACGT"):
    _SEED_CODES[_base] = _code


_ACGT_ONLY = re.compile("[ACGT]*")
_CLEAN_SEED = {n: re.compile(f"(?=[ACGT]{{{n}}})") for n in range(1, 33)}  # starts of A/C/G/T-only n-mers
_DIGITS = str.maketrans("ACGT", "0123")  # a seed's hash is its bases read as a base-4 number


def _seed_hashes(codes: np.ndarray, seed_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Every ``seed_length``-window of 2-bit ``codes`` (L,) as one integer (its bases, 2 bits each), and whether it
    holds A/C/G/T only: (L - seed_length + 1,) uint64 and bool.

    Built by doubling: hashes of windows of 1, 2, 4, ... bases, the binary digits of ``seed_length`` concatenated.
    """
    n = codes.size - seed_length + 1
    block, power = 1, (codes & 3).astype(np.uint64)  # power: hashes of the windows of ``block`` bases
    result, done, bits = np.zeros(n, dtype=np.uint64), 0, seed_length
    while bits:
        if bits & 1:
            result = (result << np.uint64(2 * block)) | power[done : done + n]
            done += block
        bits >>= 1
        if bits:
            m = power.size - block
            power = (power[:m] << np.uint64(2 * block)) | power[block : block + m]
            block *= 2
    other = np.concatenate([[0], np.cumsum(codes == 4, dtype=np.int64)])
    return result, other[seed_length:] == other[:-seed_length]


def occurrence_mask(text: str, sequences: Iterable[str], *, seed_length: int = 32) -> np.ndarray:
    """True at every base of ``text`` inside an exact occurrence of one of ``sequences`` (either strand, any case):
    (len(text),) bool.

    Candidates are the text positions whose ``seed_length``-mer (at most 32) equals a sequence's central one (the
    nearest A/C/G/T-only one when the central one holds another letter), found by comparing 2-bit hashes of every
    text position at once; a candidate counts when the whole sequence matches there. Sequences shorter than the
    seed, or without a seed of A/C/G/T only (mostly N), are ignored.
    """
    if not 1 <= seed_length <= 32:
        raise ValueError(f"seed_length must be from 1 to 32 (64 bits of bases), got {seed_length}")
    upper = text.upper()
    masked = np.zeros(len(text), dtype=bool)
    strands = {strand for sequence in sequences if len(sequence) >= seed_length
               for strand in (sequence.upper(), reverse_complement(sequence.upper()))}
    if not strands or len(text) < seed_length:
        return masked
    hashes, clean = _seed_hashes(_SEED_CODES[np.frombuffer(upper.encode("ascii", "replace"), dtype=np.uint8)],
                                 seed_length)
    where: dict[int, list[tuple[int, str]]] = {}
    for strand in sorted(strands):
        centre = (len(strand) - seed_length) // 2
        offsets = [centre] if _ACGT_ONLY.fullmatch(strand, centre, centre + seed_length) else sorted(
            (m.start() for m in _CLEAN_SEED[seed_length].finditer(strand)), key=lambda o: abs(o - centre))
        if offsets:
            seed = strand[offsets[0] : offsets[0] + seed_length]
            where.setdefault(int(seed.translate(_DIGITS), 4), []).append((offsets[0], strand))
    if not where:
        return masked
    keys = np.sort(np.fromiter(where, dtype=np.uint64, count=len(where)))
    slots = np.minimum(np.searchsorted(keys, hashes), keys.size - 1)
    for position in np.flatnonzero(clean & (keys[slots] == hashes)):
        for offset, strand in where[int(hashes[position])]:
            start = int(position) - offset
            if start >= 0 and upper.startswith(strand, start):
                masked[start : start + len(strand)] = True
    return masked


def mask_occurrences(text: str, sequences: Iterable[str], *, seed_length: int = 32) -> tuple[str, int]:
    """``text`` with every exact occurrence of a sequence (either strand, any case) replaced by N; also the number of
    bases masked (see ``occurrence_mask``)."""
    masked = occurrence_mask(text, sequences, seed_length=seed_length)
    if not masked.any():
        return text, 0
    chars = np.frombuffer(text.encode("ascii"), dtype="S1").copy()
    chars[masked] = b"N"
    return chars.tobytes().decode("ascii"), int(masked.sum())
