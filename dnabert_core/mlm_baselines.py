"""Baselines for the pre-training card's held-out masked-k-mer accuracy and loss.

With contiguous k-span masking (SPEC section 3) a masked k-mer is far from unknown: the unmasked k-mers on either
side of its span show most of its bases (an isolated span of k tokens hides exactly one base, for every token in it).
So beside the unigram baseline (always the most frequent training k-mer) we report the *flank baseline*: for each
masked position, the bases of its k-mer that some unmasked input k-mer shows are fixed, and the prediction is the most
frequent training k-mer consistent with them. Both are scored on the same held-out pieces and the same masks as
``pretraining.masked_lm_metrics`` (``pretraining.held_out_masks``), so the three numbers are comparable.

Token ids follow the tokenizer: a k-mer's id is 5 + its bases read as a base-4 number over A, T, C, G, first base
most significant; ``[UNK]`` (1) is a k-mer holding another letter (N). ``[UNK]`` is one token but many k-mers, so it
competes as a candidate with the count of the training ``[UNK]`` k-mers that agree with the shown bases (their other
letters, N, all at hidden positions), not with every ``[UNK]`` of the text.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from dnabert_core.masking import IGNORE_INDEX
from dnabert_core.tokenizer import ALPHABET, N_SPECIAL, UNK_ID, KmerTokenizer, batch_kmer_token_ids
from dnabert_core.pretraining import COMPOSITION_ORDER, composition_targets, held_out_masks
from dnabert_core.train import pad_ids


def kmer_counts(pieces: Sequence[str], k: int) -> np.ndarray:
    """How often each token id occurs among the k-mers of ``pieces``: (N_SPECIAL + 4^k,) int64 (``[UNK]`` counted,
    the other special tokens 0)."""
    ids = [row for row in batch_kmer_token_ids(list(pieces), k) if row.size]
    vocab = N_SPECIAL + 4**k
    return np.bincount(np.concatenate(ids), minlength=vocab) if ids else np.zeros(vocab, dtype=np.int64)


_DIGITS = np.full(256, 4, dtype=np.int64)  # byte -> base digit in the tokenizer's order; 4: another letter
for _digit, _base in enumerate(ALPHABET):
    _DIGITS[ord(_base)] = _DIGITS[ord(_base.lower())] = _digit


@dataclass(frozen=True)
class KmerStats:
    """Training k-mer counts for the flank baseline. ``counts``: per token id, (N_SPECIAL + 4^k,); the ``[UNK]``
    k-mers, one entry per distinct one: ``unk_other`` (m,) bits of the positions holding another letter (bit j: base
    j), ``unk_code`` (m,) its A/C/G/T bases as a base-4 number (0 at the other positions), ``unk_count`` (m,)."""

    k: int
    counts: np.ndarray
    unk_other: np.ndarray
    unk_code: np.ndarray
    unk_count: np.ndarray


def kmer_stats(pieces: Sequence[str], k: int) -> KmerStats:
    """Count the k-mers of ``pieces`` (see ``KmerStats``)."""
    weights = 4 ** np.arange(k - 1, -1, -1)
    keys = []
    for piece in pieces:
        if len(piece) < k:
            continue
        windows = sliding_window_view(_DIGITS[np.frombuffer(piece.encode("ascii", "replace"), np.uint8)], k)
        windows = windows[(windows == 4).any(axis=1)]
        other = ((windows == 4) * (1 << np.arange(k))).sum(axis=1)
        keys.append(other * 4**k + (np.where(windows < 4, windows, 0) * weights).sum(axis=1))
    unique, count = np.unique(np.concatenate(keys) if keys else np.zeros(0, np.int64), return_counts=True)
    return KmerStats(k, kmer_counts(pieces, k), unique // 4**k, unique % 4**k, count)


def unigram_baseline(train_pieces: list[str], eval_pieces: list[str], k: int) -> dict:
    """Trivial baselines on held-out k-mers: accuracy of always predicting the most frequent training k-mer, and the
    cross-entropy of the training k-mer frequencies (add-one smoothed)."""
    frequencies = kmer_counts(train_pieces, k) + 1.0
    frequencies[:N_SPECIAL] = 0
    probabilities = frequencies / frequencies.sum()
    held = np.concatenate(batch_kmer_token_ids(eval_pieces, k))
    held = held[held >= N_SPECIAL]
    most = int(np.argmax(frequencies))
    return {"accuracy": float(np.mean(held == most)), "loss": float(-np.mean(np.log(probabilities[held])))}


def composition_baseline(train_pieces: list[str], eval_pieces: list[str], k: int) -> float:
    """The [CLS] composition objective's trivial baseline: mean KL divergence (nats) of each held-out piece's 3-mer
    composition (``pretraining.composition_targets``) from the pooled training composition (add-one smoothed), the
    best prediction that does not read the piece."""
    order = min(COMPOSITION_ORDER, k)
    pooled = kmer_counts(train_pieces, k)[N_SPECIAL:].reshape(4**order, -1).sum(axis=1) + 1.0
    pooled /= pooled.sum()
    targets = composition_targets(pad_ids(KmerTokenizer(k).encode_many(list(eval_pieces))), k).numpy()
    log_ratio = np.log(np.where(targets > 0, targets, 1.0)) - np.log(pooled)
    return float(np.mean((targets * log_ratio).sum(axis=1)))


def visible_bases(input_ids: np.ndarray, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The bases that unmasked input k-mers show: ``known`` (batch, n_tokens + k) bool and ``code`` (same shape)
    int64 (A, T, C, G = 0..3). Column t + j is base j of the k-mer at token column t.

    Only positions without a label that hold a k-mer token count: a labelled position is unknown whatever its input
    holds (``[MASK]``, a random k-mer, or the original one), and ``[UNK]`` shows no base.
    """
    batch, n_tokens = input_ids.shape
    visible = (labels == IGNORE_INDEX) & (input_ids >= N_SPECIAL)
    known = np.zeros((batch, n_tokens + k), dtype=bool)
    code = np.zeros((batch, n_tokens + k), dtype=np.int64)
    kmer = np.where(visible, input_ids - N_SPECIAL, 0)
    for j in range(k):
        digit = (kmer >> (2 * (k - 1 - j))) & 3
        known[:, j : j + n_tokens] |= visible
        code[:, j : j + n_tokens] = np.where(visible, digit, code[:, j : j + n_tokens])
    return known, code


def flank_predictions(
    input_ids: np.ndarray, labels: np.ndarray, stats: KmerStats
) -> tuple[np.ndarray, np.ndarray]:
    """The flank baseline at every labelled position (row-major order, as ``logits[labels != -100]``): the predicted
    token id (n_masked,) and the log-probability of the true one (n_masked,).

    ``input_ids``, ``labels``: (batch, n_tokens) as ``masking.mask_batch`` returns them; ``stats``: training counts
    (``kmer_stats``). With u bases hidden, the candidates are the 4^u k-mers that agree with the k - u bases the
    unmasked neighbours show, plus ``[UNK]`` when u > 0 with the count of the training ``[UNK]`` k-mers that agree
    (another letter only at hidden positions, the shown bases equal). The prediction is the candidate seen most
    often in training (ties: the lowest id, before ``[UNK]``); the probability of candidate x is
    (count(x) + 1) / (sum of the candidates' counts + number of candidates).
    """
    k, counts = stats.k, stats.counts
    known, code = visible_bases(input_ids, labels, k)
    rows, columns = np.nonzero(labels != IGNORE_INDEX)
    truth = labels[rows, columns]
    offsets = columns[:, None] + np.arange(k)[None, :]
    shown = known[rows[:, None], offsets]  # (n, k): which bases of each masked k-mer are known
    weights = 4 ** np.arange(k - 1, -1, -1)
    key = (code[rows[:, None], offsets] * shown * weights).sum(axis=1)  # the known bases as a base-4 number
    pattern = (shown * (1 << np.arange(k))).sum(axis=1)  # which bases are known, as bits
    digits = (np.arange(4**k)[:, None] // weights[None, :]) % 4  # (4^k, k): the bases of every k-mer
    frequency = counts[N_SPECIAL:].astype(np.float64)
    unk_digits = (stats.unk_code[:, None] // weights[None, :]) % 4
    predicted = np.empty(truth.size, dtype=np.int64)
    log_prob = np.empty(truth.size, dtype=np.float64)
    for bits in np.unique(pattern):
        where = np.flatnonzero(pattern == bits)
        mask = np.array([(bits >> j) & 1 for j in range(k)], dtype=bool)
        projection = (digits * (mask * weights)[None, :]).sum(axis=1)  # each k-mer's key under this pattern
        by_count = np.lexsort((-frequency, projection))  # grouped by projection, most frequent first
        first = np.ones(by_count.size, dtype=bool)
        first[1:] = projection[by_count[1:]] != projection[by_count[:-1]]
        best = np.zeros(4**k, dtype=np.int64)
        best[projection[by_count[first]]] = by_count[first]
        totals = np.bincount(projection, weights=frequency, minlength=4**k)
        agree = (stats.unk_other & int(bits)) == 0  # [UNK] k-mers whose other letters all sit at hidden positions
        unk = np.bincount((unk_digits[agree] * (mask * weights)[None, :]).sum(axis=1),
                          weights=stats.unk_count[agree].astype(np.float64), minlength=4**k)[key[where]]
        n_unknown = k - int(mask.sum())
        best_ids = best[key[where]] + N_SPECIAL
        with_unk = n_unknown > 0
        predicted[where] = np.where(with_unk & (unk > frequency[best_ids - N_SPECIAL]), UNK_ID, best_ids)
        true_counts = np.where(truth[where] == UNK_ID, unk, counts[np.maximum(truth[where], N_SPECIAL)])
        denominator = totals[key[where]] + 4**n_unknown + (unk + 1 if with_unk else 0)
        log_prob[where] = np.log((true_counts + 1) / denominator)
    return predicted, log_prob


def flank_baseline(
    train_pieces: Sequence[str],
    eval_pieces: Sequence[str],
    k: int,
    *,
    batch_size: int,
    seed: int,
    mask_probability: float = 0.025,
) -> dict:
    """The flank baseline's masked-k-mer accuracy and cross-entropy on ``eval_pieces``, with exactly the masks of
    ``pretraining.masked_lm_metrics`` given the same ``batch_size``, ``seed`` and ``mask_probability``; counts from
    ``train_pieces``. Returns {"accuracy", "loss", "n_masked"}."""
    stats = kmer_stats(train_pieces, k)
    tokenizer = KmerTokenizer(k)
    correct = loss = count = 0.0
    for masked in held_out_masks(tokenizer, eval_pieces, batch_size=batch_size, seed=seed,
                                 mask_probability=mask_probability):
        labels = masked.labels.numpy()
        predicted, log_prob = flank_predictions(masked.input_ids.numpy(), labels, stats)
        correct += float(np.sum(predicted == labels[labels != IGNORE_INDEX]))
        loss -= float(log_prob.sum())
        count += predicted.size
    return {"accuracy": correct / max(count, 1), "loss": loss / max(count, 1), "n_masked": int(count)}
