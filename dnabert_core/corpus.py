"""Pre-training text (SPEC section 3): genome sequence cut into pieces the model sees as training examples.

Genome text is cut into non-overlapping pieces of 509 + k bp (510 k-mers, one full window); pieces that are mostly N
(assembly gaps) are skipped; half of the pieces, chosen at random, are cut again to a random length (at least
``max(5, k)`` bp) so the model sees short and long inputs.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable

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


def occurrence_mask(text: str, sequences: Iterable[str], *, seed_length: int = 32) -> np.ndarray:
    """True at every base of ``text`` inside an exact occurrence of one of ``sequences`` (either strand, any case):
    (len(text),) bool.

    Candidates are found by each sequence's central ``seed_length``-mer (one dictionary lookup per text position) and
    kept only when the whole sequence matches there. Sequences shorter than the seed are ignored.
    """
    where: dict[str, list[tuple[int, str]]] = {}
    for sequence in sequences:
        if len(sequence) < seed_length:
            continue
        for strand in (sequence.upper(), reverse_complement(sequence.upper())):
            offset = (len(strand) - seed_length) // 2
            where.setdefault(strand[offset : offset + seed_length], []).append((offset, strand))
    upper = text.upper()
    masked = np.zeros(len(text), dtype=bool)
    for position in range(len(text) - seed_length + 1):
        for offset, strand in where.get(upper[position : position + seed_length], ()):
            start = position - offset
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
