"""Contiguous k-span masking: span shapes by hand, rates over many draws, never special or padding positions."""
from __future__ import annotations

import pytest
import torch

from dnabert_core.masking import IGNORE_INDEX, mask_batch, span_mask
from dnabert_core.tokenizer import CLS_ID, MASK_ID, N_SPECIAL, PAD_ID, SEP_ID


def row(n_kmers: int, pad: int = 0) -> list[int]:
    return [CLS_ID] + [N_SPECIAL + i for i in range(n_kmers)] + [SEP_ID] + [PAD_ID] * pad


@pytest.mark.parametrize(
    "k, expected",
    [  # centre at token 5 (k-mer positions 1..10): spans c-1..c+1, c-1..c+2, c-2..c+2, c-2..c+3
        (3, [4, 5, 6]),
        (4, [4, 5, 6, 7]),
        (5, [3, 4, 5, 6, 7]),
        (6, [3, 4, 5, 6, 7, 8]),
    ],
)
def test_span_shapes(k, expected):
    ids = torch.tensor([row(10)])
    centres = torch.zeros_like(ids, dtype=torch.bool)
    centres[0, 5] = True
    masked = span_mask(centres, torch.ones_like(centres), k)
    assert masked[0].nonzero().flatten().tolist() == expected


def test_spans_are_clipped_to_kmer_positions():
    ids = torch.tensor([row(4, pad=3)])  # tokens: CLS, 4 k-mers (1..4), SEP (5), PAD x3
    allowed = (ids >= N_SPECIAL)
    centres = torch.zeros_like(allowed)
    centres[0, 1] = centres[0, 4] = True
    masked = span_mask(centres, allowed, 6)  # spans -2..+3 would reach CLS, SEP and padding
    assert masked[0].nonzero().flatten().tolist() == [1, 2, 3, 4]


def test_rates_over_many_draws_and_no_special_positions():
    k, vocab_size = 6, N_SPECIAL + 4**6
    generator = torch.Generator().manual_seed(0)
    ids = torch.tensor([row(300, pad=20)] * 64)
    masked_total = kmers_total = 0
    counts = {"mask": 0, "random": 0, "same": 0}
    for _ in range(20):
        batch = mask_batch(ids, k, vocab_size, probability=0.025, generator=generator)
        masked = batch.labels != IGNORE_INDEX
        special = ids < N_SPECIAL
        assert not (masked & special).any()  # never CLS, SEP or PAD
        assert torch.equal(batch.input_ids[special], ids[special])
        assert torch.equal(batch.labels[masked], ids[masked])
        assert torch.equal(batch.input_ids[~masked], ids[~masked])
        masked_total += int(masked.sum())
        kmers_total += int((~special).sum())
        counts["mask"] += int((batch.input_ids[masked] == MASK_ID).sum())
        same = batch.input_ids[masked] == ids[masked]
        counts["same"] += int(same.sum())
        counts["random"] += int(((batch.input_ids[masked] != MASK_ID) & ~same).sum())
        assert (batch.input_ids[masked] >= N_SPECIAL).logical_or(batch.input_ids[masked] == MASK_ID).all()
    # expected fraction: 1 - (1 - p)^6 for interior tokens ~ 0.1409
    assert masked_total / kmers_total == pytest.approx(1 - 0.975**6, abs=0.01)
    # random draws sometimes hit the original token (1/4096), counted as "same"
    assert counts["mask"] / masked_total == pytest.approx(0.8, abs=0.01)
    assert counts["random"] / masked_total == pytest.approx(0.1, abs=0.01)
    assert counts["same"] / masked_total == pytest.approx(0.1, abs=0.01)


def test_every_sequence_gets_a_span_and_input_is_untouched():
    ids = torch.tensor([row(3, pad=5), row(8)])
    original = ids.clone()
    batch = mask_batch(ids, 3, N_SPECIAL + 64, probability=0.0, generator=torch.Generator().manual_seed(1))
    assert torch.equal(ids, original)
    assert ((batch.labels != IGNORE_INDEX).sum(dim=1) >= 1).all()


def test_same_generator_seed_same_masks():
    ids = torch.tensor([row(100)] * 4)
    a = mask_batch(ids, 5, N_SPECIAL + 4**5, generator=torch.Generator().manual_seed(7))
    b = mask_batch(ids, 5, N_SPECIAL + 4**5, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a.input_ids, b.input_ids) and torch.equal(a.labels, b.labels)
