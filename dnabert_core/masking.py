"""Contiguous k-span masking for masked-LM pre-training (SPEC section 3).

A masked k-mer is trivially recovered from its overlapping neighbours, so DNABERT masks spans of k consecutive k-mer
tokens around randomly drawn centres. Of the masked positions 80% become ``[MASK]``, 10% a random k-mer token (the
original also draws special tokens; we draw k-mers only) and 10% stay unchanged. Special and padding positions are
never masked.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from dnabert_core.errors import OptionError
from dnabert_core.tokenizer import CLS_ID, MASK_ID, N_SPECIAL, PAD_ID, SEP_ID

IGNORE_INDEX = -100
# span offsets around a centre c: tokens c + lo .. c + hi (SPEC section 3)
SPAN_OFFSETS: dict[int, tuple[int, int]] = {3: (-1, 1), 4: (-1, 2), 5: (-2, 2), 6: (-2, 3)}


@dataclass(frozen=True)
class MaskedBatch:
    """``input_ids`` with masks applied and ``labels`` (original id at masked positions, -100 elsewhere):
    both (batch, n_tokens) int64."""

    input_ids: torch.Tensor
    labels: torch.Tensor


def kmer_positions(input_ids: torch.Tensor) -> torch.Tensor:
    """True at k-mer tokens (``[UNK]`` included), False at ``[CLS]``, ``[SEP]``, ``[PAD]``: (batch, n_tokens) bool."""
    return (input_ids != PAD_ID) & (input_ids != CLS_ID) & (input_ids != SEP_ID) & (input_ids != MASK_ID)


def span_mask(centres: torch.Tensor, allowed: torch.Tensor, k: int) -> torch.Tensor:
    """Grow each centre into its k-token span, clipped to ``allowed`` positions: (batch, n_tokens) bool."""
    lo, hi = SPAN_OFFSETS[k]
    masked = torch.zeros_like(centres)
    n = centres.shape[1]
    for offset in range(lo, hi + 1):  # token i is masked when a centre sits at i - offset
        if offset >= 0:
            masked[:, offset:] |= centres[:, : n - offset]
        else:
            masked[:, :offset] |= centres[:, -offset:]
    return masked & allowed


def mask_batch(
    input_ids: torch.Tensor,
    k: int,
    vocab_size: int,
    *,
    probability: float = 0.025,
    generator: torch.Generator | None = None,
) -> MaskedBatch:
    """Apply contiguous k-span masking to a batch of token ids (not modified in place).

    Each k-mer position is a span centre with ``probability``; a sequence that drew no centre gets one at a random
    k-mer position, so every sequence contributes to the loss (short pieces would otherwise often have none).
    """
    if k not in SPAN_OFFSETS:
        raise OptionError(f"k must be 3, 4, 5 or 6, got {k}")
    allowed = kmer_positions(input_ids)
    draw = torch.rand(input_ids.shape, generator=generator, device=input_ids.device)
    centres = (draw < probability) & allowed
    empty = ~centres.any(dim=1) & allowed.any(dim=1)
    if empty.any():
        # one centre at a uniformly chosen k-mer position of each sequence that drew none
        scores = torch.rand(input_ids.shape, generator=generator, device=input_ids.device).masked_fill(~allowed, -1.0)
        forced = torch.zeros_like(centres)
        forced[torch.arange(len(forced), device=forced.device), scores.argmax(dim=1)] = True
        centres |= forced & empty[:, None]
    masked = span_mask(centres, allowed, k)
    labels = torch.where(masked, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
    action = torch.rand(input_ids.shape, generator=generator, device=input_ids.device)
    random_tokens = torch.randint(
        N_SPECIAL, vocab_size, input_ids.shape, generator=generator, device=input_ids.device, dtype=input_ids.dtype
    )
    out = input_ids.clone()
    out[masked & (action < 0.8)] = MASK_ID
    swap = masked & (action >= 0.8) & (action < 0.9)
    out[swap] = random_tokens[swap]
    return MaskedBatch(input_ids=out, labels=labels)
