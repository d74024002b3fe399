"""Per-base landscapes: a hand-computed 8 bp example, padding invariance, stitching windows, combining k."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import dnabert_core.attention as attention_module
from dnabert_core.errors import DnabertError
from dnabert_core.records import Landscape, SequenceRecord
from tests.conftest import random_dna
from tests.test_attention import loaded_pair, peaky_model
from viz.landscape import attention_landscapes, combine, l2_normalise, stitch


@pytest.fixture(scope="module")
def loaded():
    return loaded_pair(peaky_model(3), 3, max_tokens=32)[0]  # windows of 32 bp


def test_hand_computed_8bp_landscape(loaded, monkeypatch):
    # fixed attention: head h (0-based) gives key j the weight (h + 1) * j / 100 from every query
    def fixed_rows(q, k, mask, query):
        n = q.shape[2]
        heads = torch.arange(1, q.shape[1] + 1, dtype=torch.float32)[:, None]
        return (heads * torch.arange(n, dtype=torch.float32)[None, :] / 100).expand(q.shape[0], -1, -1)

    monkeypatch.setattr(attention_module, "_rows", fixed_rows)
    record = SequenceRecord("eight", "ACGTTGCA")  # k = 3: 6 k-mers at keys 1..6, [SEP] at 7
    landscape = next(attention_landscapes(loaded, [record]))
    # k-mer scores, summed over 4 heads: s_i = (1+2+3+4) * i / 100 = i / 10 for i = 1..6
    # base p is covered by k-mers max(1, p-2)..min(6, p) (1-based):
    expected = [0.1, (0.1 + 0.2) / 2, (0.1 + 0.2 + 0.3) / 3, 0.3, 0.4, 0.5, (0.5 + 0.6) / 2, 0.6]
    np.testing.assert_allclose(landscape.scores, expected, atol=1e-7)
    assert landscape.sequence == "ACGTTGCA" and landscape.record_id == "eight"
    assert landscape.source == "attention, layer 2 of 2, sum of all heads, [CLS] query"
    mean_heads = next(attention_landscapes(loaded, [record], heads=[0, 3], reduce="mean", normalise=True))
    unnormalised = np.array(expected) * (1 + 4) / 2 / 10  # mean of heads 1 and 4: 2.5 * i / 100
    np.testing.assert_allclose(mean_heads.scores, unnormalised / np.linalg.norm(unnormalised), atol=1e-7)
    assert mean_heads.source.endswith("mean of heads 1, 4, [CLS] query, L2-normalised")


def test_padded_batch_equals_each_sequence_alone(loaded):
    rng = np.random.default_rng(0)
    records = [SequenceRecord(f"r{i}", random_dna(rng, n)) for i, n in enumerate((32, 5, 19, 80, 3))]
    for query in ("cls", "mean"):
        batched = list(attention_landscapes(loaded, records, query=query, layers=[0, 1], batch_size=8))
        for landscape, record in zip(batched, records):
            alone = next(attention_landscapes(loaded, [record], query=query, layers=[0, 1], batch_size=1))
            assert landscape.scores.shape == (len(record.sequence),)
            np.testing.assert_allclose(landscape.scores, alone.scores, atol=1e-6)


def test_long_sequence_is_stitched_as_mean_over_covering_windows(loaded):
    sequence = random_dna(np.random.default_rng(1), 100)  # windows of 32 bp at 0, 16, 32, 48, 64, 68
    stitched = next(attention_landscapes(loaded, [SequenceRecord("long", sequence)])).scores
    starts = [0, 16, 32, 48, 64, 68]
    per_window = [next(attention_landscapes(loaded, [SequenceRecord("w", sequence[s : s + 32])])).scores
                  for s in starts]
    for p in range(100):  # naive reference: loop over windows covering base p
        covering = [track[p - s] for s, track in zip(starts, per_window) if s <= p < s + 32]
        assert stitched[p] == pytest.approx(np.mean(covering), abs=1e-6)


def test_stitch_and_normalise_by_hand():
    np.testing.assert_allclose(stitch(np.array([0, 2]), [np.array([1.0, 2, 3]), np.array([5.0, 7])], 4),
                               [1, 2, 4, 7])
    with pytest.raises(DnabertError, match=r"windows do not cover all 5 bases \(first gap at 3\)"):
        stitch(np.array([0]), [np.ones(3)], 5)
    np.testing.assert_allclose(l2_normalise(np.array([3.0, 4.0])), [0.6, 0.8])
    np.testing.assert_array_equal(l2_normalise(np.zeros(3)), np.zeros(3))


def test_combine_k_models_on_aligned_bases():
    sequence = random_dna(np.random.default_rng(2), 40)
    tracks = []
    for k in (3, 4, 5, 6):
        model = loaded_pair(peaky_model(k, seed=k), k, max_tokens=64)[0]
        tracks.append(next(attention_landscapes(model, [SequenceRecord("s", sequence)])))
    assert all(t.scores.shape == (40,) for t in tracks)
    combined = combine(tracks)
    expected = sum(t.scores / np.linalg.norm(t.scores) for t in tracks)
    np.testing.assert_allclose(combined.scores, expected)
    other = Landscape("t", sequence[:-1], np.ones(39), "x")
    with pytest.raises(DnabertError, match="landscapes of different sequences cannot be combined: 's' \\(40 bp\\)"):
        combine([tracks[0], other])
