"""DNABERT k-mer tokenizer: vocabulary in DNABERT's exact order, vectorised encoding, k-mer <-> base maps.

Vocabulary (SPEC section 1): ``[PAD]``=0, ``[UNK]``=1, ``[CLS]``=2, ``[SEP]``=3, ``[MASK]``=4, then the 4^k k-mers in
product order over A, T, C, G. Encoding works on 2-bit base codes (A=0, T=1, C=2, G=3, anything else 4) and a rolling
k-mer index, so it is numpy work, not string splitting. A k-mer holding any base other than A/C/G/T is ``[UNK]``.

Shapes: a sequence of n bases gives m = n - k + 1 k-mers and m + 2 tokens (``[CLS]`` ... ``[SEP]``).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dnabert_core.errors import OptionError, VocabularyError

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID = range(5)
N_SPECIAL = len(SPECIAL_TOKENS)
ALPHABET = "ATCG"
MIN_K, MAX_K = 3, 6
MAX_POSITIONS = 512

# byte -> 2-bit code in ALPHABET order; 4 marks a base that makes its k-mers [UNK].
_CODES = np.full(256, 4, dtype=np.uint8)
for _code, _base in enumerate(ALPHABET):
    _CODES[ord(_base)] = _code
    _CODES[ord(_base.lower())] = _code
_CODES[ord("U")] = _CODES[ord("u")] = _CODES[ord("T")]


def vocabulary(k: int) -> list[str]:
    """The DNABERT vocabulary for k: 5 special tokens then 4^k k-mers in product order over A, T, C, G."""
    _check_k(k)
    return list(SPECIAL_TOKENS) + ["".join(p) for p in itertools.product(ALPHABET, repeat=k)]


def k_from_vocab_size(size: int) -> int:
    """Infer k from a vocabulary size (69, 261, 1029, 4101 for k = 3..6)."""
    for k in range(MIN_K, MAX_K + 1):
        if size == N_SPECIAL + 4**k:
            return k
    raise VocabularyError(
        f"vocabulary size {size} is not a DNABERT k-mer vocabulary "
        f"(expected 69, 261, 1029 or 4101 for k = 3, 4, 5 or 6)"
    )


def _check_k(k: int) -> None:
    if not isinstance(k, (int, np.integer)) or not MIN_K <= k <= MAX_K:
        raise VocabularyError(f"k must be an integer from {MIN_K} to {MAX_K}, got {k!r}")


_COMPLEMENT = str.maketrans("ACGTNacgtn", "TGCANtgcan")


def reverse_complement(sequence: str) -> str:
    """The reverse complement (A<->T, C<->G, N stays N; case kept)."""
    return sequence.translate(_COMPLEMENT)[::-1]


def sequence_to_kmers(sequence: str, k: int) -> list[str]:
    """All n - k + 1 overlapping k-mers of ``sequence`` (stride 1; DNABERT's scripts drop the last one, we do not)."""
    return [sequence[i : i + k] for i in range(len(sequence) - k + 1)]


def kmers_to_sequence(kmers: list[str]) -> str:
    """Raw sequence from overlapping k-mers: the first base of each k-mer plus the rest of the last one."""
    if not kmers:
        return ""
    return "".join(kmer[0] for kmer in kmers[:-1]) + kmers[-1]


def kmer_token_ids(sequence: str, k: int) -> np.ndarray:
    """Token ids of the n - k + 1 k-mers of ``sequence``, without special tokens: (m,) int64."""
    return batch_kmer_token_ids([sequence], k)[0]


def batch_kmer_token_ids(sequences: list[str], k: int) -> list[np.ndarray]:
    """Token ids of every sequence's k-mers (no special tokens), in one vectorised pass: m_i ids each."""
    tokens, sizes = _padded_tokens(sequences, k)
    return [row[1 : size - 1] for row, size in zip(tokens, sizes)]


def _padded_tokens(sequences: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
    """``[CLS] ids [SEP] [PAD]...`` of every sequence as one matrix, and each row's token count: (n, W), (n,).

    The sequences are right-filled to one length and viewed as an (n, L) matrix of 2-bit codes, so the rolling index
    id = 5 + sum_j code[i + j] * 4^(k-1-j) runs down whole columns at once; a window holding a non-ACGT base is
    ``[UNK]`` (1); windows reaching into the fill are overwritten by ``[SEP]`` and ``[PAD]``.
    """
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    counts = np.maximum(lengths - k + 1, 0)
    width = max(int(lengths.max(initial=0)), k)
    text = "".join(s.ljust(width, "N") for s in sequences).encode("ascii", "replace")
    codes = _CODES[np.frombuffer(text, dtype=np.uint8)].reshape(len(sequences), width)
    n = width - k + 1
    ids = (codes[:, :n] & 3).astype(np.int16)  # int16 holds every id (4^6 + 5 < 2^15)
    unknown = codes[:, :n] == 4
    for j in range(1, k):
        ids <<= 2
        ids |= codes[:, j : j + n] & 3
        unknown |= codes[:, j : j + n] == 4
    ids += N_SPECIAL
    ids[unknown] = UNK_ID
    tokens = np.full((len(sequences), n + 2), PAD_ID, dtype=np.int64)
    tokens[:, 0] = CLS_ID
    tokens[:, 1 : n + 1] = ids
    columns = np.arange(n + 2)[None, :]
    tokens[columns > counts[:, None]] = PAD_ID
    tokens[np.arange(len(sequences)), counts + 1] = SEP_ID
    return tokens, counts + 2


def _check_fits(sequences: list[str], sizes: np.ndarray, k: int, max_kmers: int) -> None:
    too_long = np.flatnonzero(sizes - 2 > max_kmers)
    if too_long.size:
        first = int(too_long[0])
        raise VocabularyError(
            f"a sequence of {len(sequences[first])} bp gives {sizes[first] - 2} {k}-mers, more than the {max_kmers} "
            f"one window holds: split it with windows() first"
        )


@dataclass(frozen=True)
class Batch:
    """Padded token ids for a batch. ``input_ids``, ``attention_mask``: (batch, n_tokens) int64."""

    input_ids: np.ndarray
    attention_mask: np.ndarray


@dataclass(frozen=True)
class KmerTokenizer:
    """DNABERT's k-mer tokenizer for one k (3..6); ``max_tokens`` counts ``[CLS]`` and ``[SEP]``."""

    k: int
    max_tokens: int = MAX_POSITIONS

    def __post_init__(self) -> None:
        _check_k(self.k)
        if self.max_tokens < 3:
            raise VocabularyError(f"max_tokens must be at least 3 ([CLS], one k-mer, [SEP]), got {self.max_tokens}")

    @property
    def vocab(self) -> list[str]:
        return vocabulary(self.k)

    @property
    def vocab_size(self) -> int:
        return N_SPECIAL + 4**self.k

    @property
    def max_kmers(self) -> int:
        """Most k-mers one window holds (510 for 512 positions)."""
        return self.max_tokens - 2

    @property
    def max_bases(self) -> int:
        """Longest sequence that fits one window (515 bp for k=6 and 512 positions)."""
        return self.max_kmers + self.k - 1

    @classmethod
    def from_vocab_file(cls, path: str | Path, max_tokens: int = MAX_POSITIONS) -> KmerTokenizer:
        """Read a ``vocab.txt`` and check it is DNABERT's vocabulary token for token (k inferred from its size)."""
        tokens = Path(path).read_text(encoding="utf-8").splitlines()
        while tokens and not tokens[-1].strip():
            tokens.pop()
        k = k_from_vocab_size(len(tokens))
        expected = vocabulary(k)
        for index, (got, want) in enumerate(zip(tokens, expected)):
            if got.strip() != want:
                raise VocabularyError(
                    f"{path}: line {index + 1} is {got.strip()!r}, DNABERT's k={k} vocabulary has {want!r} there "
                    f"(special tokens first, then k-mers in A, T, C, G product order)"
                )
        return cls(k=k, max_tokens=max_tokens)

    def save_vocabulary(self, folder: str | Path) -> Path:
        """Write ``vocab.txt`` (one token a line, id = line number - 1) into ``folder``."""
        path = Path(folder) / "vocab.txt"
        path.write_text("\n".join(self.vocab) + "\n", encoding="utf-8")
        return path

    def encode(self, sequence: str) -> np.ndarray:
        """``[CLS] kmer_1 .. kmer_m [SEP]`` for one sequence that fits the window: (m + 2,) int64."""
        return self.encode_many([sequence])[0]

    def encode_many(self, sequences: list[str]) -> list[np.ndarray]:
        """``encode`` for many sequences in one vectorised pass (much faster than a loop of ``encode``)."""
        if not sequences:
            return []
        tokens, sizes = self._padded_tokens(sequences)
        return [row[:size] for row, size in zip(tokens, sizes.tolist())]

    def _padded_tokens(self, sequences: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """``_padded_tokens`` after checking every sequence fits one window."""
        tokens, sizes = _padded_tokens(sequences, self.k)
        _check_fits(sequences, sizes, self.k, self.max_kmers)
        return tokens, sizes

    def build_inputs_with_special_tokens(self, kmer_ids: np.ndarray) -> np.ndarray:
        """Add ``[CLS]`` and ``[SEP]`` around k-mer ids: (m,) -> (m + 2,)."""
        return np.concatenate(([CLS_ID], np.asarray(kmer_ids, dtype=np.int64), [SEP_ID]))

    def get_special_tokens_mask(self, token_ids: np.ndarray) -> np.ndarray:
        """1 at ``[PAD]``, ``[CLS]``, ``[SEP]`` and ``[MASK]``, else 0: same shape as ``token_ids``.

        ``[UNK]`` counts as a k-mer position (an ambiguous k-mer), so masking and landscapes treat it like any k-mer.
        """
        ids = np.asarray(token_ids)
        return ((ids < N_SPECIAL) & (ids != UNK_ID)).astype(np.int64)

    def batch(self, sequences: list[str]) -> Batch:
        """Encode and right-pad sequences that each fit one window: ids and attention mask (batch, longest + 2)."""
        if not sequences:
            return Batch(np.zeros((0, 2), dtype=np.int64), np.zeros((0, 2), dtype=np.int64))
        input_ids, sizes = self._padded_tokens(sequences)
        input_ids = input_ids[:, : int(sizes.max())]
        attention_mask = (np.arange(input_ids.shape[1])[None, :] < sizes[:, None]).astype(np.int64)
        return Batch(input_ids=input_ids, attention_mask=attention_mask)

    def decode(self, token_ids: np.ndarray) -> list[str]:
        """Token strings for ids (inverse of the vocabulary lookup)."""
        vocab = self.vocab
        return [vocab[int(i)] for i in np.asarray(token_ids).ravel()]

    def windows(self, n_bases: int, window: int | None = None, step: int | None = None) -> np.ndarray:
        """0-based starts of windows of ``window`` bases covering a sequence of ``n_bases``: (n_windows,) int64.

        ``window`` defaults to ``max_bases``, ``step`` to half a window. The last window ends at the sequence end, so
        every base is covered; a sequence that fits one window gets the single start 0. A step larger than the window
        would skip bases between windows and is refused.
        """
        window = self.max_bases if window is None else window
        if not self.k <= window <= self.max_bases:
            raise OptionError(f"window {window}: this model (k={self.k}) takes windows of {self.k} to "
                              f"{self.max_bases} bp")
        step = max(window // 2, 1) if step is None else step
        if step < 1:
            raise OptionError(f"step must be at least 1 base, got {step}")
        if step > window:
            raise OptionError(f"step {step} is larger than the window {window}: the {step - window} bases between "
                              f"windows would never be scored; use a step of at most {window}")
        if n_bases <= window:
            return np.zeros(1, dtype=np.int64)
        starts = np.arange(0, n_bases - window + 1, step, dtype=np.int64)
        if starts[-1] + window < n_bases:
            starts = np.append(starts, n_bases - window)
        return starts


def kmers_to_bases(token_scores: np.ndarray, k: int) -> np.ndarray:
    """Per-base scores from per-k-mer scores (SPEC section 5): base p gets the mean over the k-mers that cover it.

    ``token_scores``: (..., m) for m k-mers (no special tokens) -> (..., m + k - 1). Only covering k-mers count, so
    padding never dilutes an edge (the original divides by a count that includes padding and ``[SEP]`` slots).
    """
    scores = np.asarray(token_scores, dtype=np.float64)
    m = scores.shape[-1]
    n = m + k - 1
    # cumulative sums give each base's window sum over k-mers i in [p - k + 1, p] (0-based) in O(n)
    padded = np.concatenate([np.zeros(scores.shape[:-1] + (1,)), np.cumsum(scores, axis=-1)], axis=-1)
    positions = np.arange(n)
    hi = np.minimum(positions, m - 1) + 1
    lo = np.maximum(positions - k + 1, 0)
    return (padded[..., hi] - padded[..., lo]) / (hi - lo)
