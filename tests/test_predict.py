"""Batched, windowed prediction against a batch-1 eager reference written here."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from dnabert_core.errors import DnabertError
from dnabert_core.model import load_model
from dnabert_core.predict import embed, map_windows, predict, with_precision
from dnabert_core.records import SequenceRecord
from tests.conftest import random_dna


@pytest.fixture(scope="module")
def loaded(tiny_model_dir):
    return load_model(tiny_model_dir)


@pytest.fixture(scope="module")
def eager(tiny_model_dir):
    return load_model(tiny_model_dir, attn="eager")


def reference_probs(eager_loaded, sequence: str) -> np.ndarray:
    """Batch of one, eager attention, no padding: what a user's plain loop computes."""
    ids = torch.from_numpy(eager_loaded.tokenizer.encode(sequence))[None]
    with torch.no_grad():
        return torch.softmax(eager_loaded.model(input_ids=ids).logits, -1)[0].double().numpy()


def make_records(n: int, seed: int = 0, low: int = 3, high: int = 65) -> list[SequenceRecord]:
    rng = np.random.default_rng(seed)
    return [SequenceRecord(f"r{i}", random_dna(rng, int(rng.integers(low, high)), "ACGTN")) for i in range(n)]


def test_padded_batches_equal_each_sequence_alone(loaded, eager):
    records = make_records(40)  # lengths 3..64 bp: one window each (the tiny model holds 64 bp for k=3)
    batched = list(predict(loaded, records, batch_size=16))
    assert [p.record_id for p in batched] == [r.id for r in records]
    for prediction, record in zip(batched, records):
        assert prediction.length == len(record.sequence) and prediction.window_probs.shape == (1, 2)
        np.testing.assert_allclose(prediction.probs, reference_probs(eager, record.sequence), atol=1e-6)
        assert prediction.probs.sum() == pytest.approx(1.0)


def test_token_budget_caps_padded_tokens_and_rows(loaded, eager):
    records = make_records(40)
    shapes = []

    def record_shape(input_ids, attention_mask):
        shapes.append(tuple(input_ids.shape))
        return np.zeros((len(input_ids), 1))

    list(map_windows(loaded, records, record_shape, batch_size=6, token_budget=100))
    assert sum(rows for rows, _ in shapes) == len(records)
    assert all(rows <= 6 and (rows * width <= 100 or rows == 1) for rows, width in shapes)
    assert max(rows for rows, _ in shapes) == 6 and min(rows for rows, _ in shapes) < 6  # short fill, long don't
    budgeted = list(predict(loaded, records, batch_size=6, token_budget=100))
    for prediction, record in zip(budgeted, records):
        np.testing.assert_allclose(prediction.probs, reference_probs(eager, record.sequence), atol=1e-6)
    with pytest.raises(DnabertError, match="token_budget must be at least 1"):
        list(predict(loaded, records, token_budget=0))


def test_long_sequences_are_windowed_and_aggregated(loaded, eager):
    rng = np.random.default_rng(5)
    sequence = random_dna(rng, 300)
    (mean,) = predict(loaded, [SequenceRecord("long", sequence)], window=50, step=20)
    starts = list(range(0, 251, 20)) + [250]
    assert mean.window_starts.tolist() == starts
    expected = np.stack([reference_probs(eager, sequence[s : s + 50]) for s in starts])
    np.testing.assert_allclose(mean.window_probs, expected, atol=1e-6)
    np.testing.assert_allclose(mean.probs, expected.mean(axis=0), atol=1e-6)
    (best,) = predict(loaded, [SequenceRecord("long", sequence)], window=50, step=20, aggregate="max")
    np.testing.assert_allclose(best.probs, expected[expected[:, 1].argmax()], atol=1e-6)


def test_default_window_is_the_model_window(loaded):
    (prediction,) = predict(loaded, [SequenceRecord("x", "ACGT" * 40)])  # 160 bp, window 64 bp, step 32
    assert loaded.tokenizer.max_bases == 64
    assert prediction.window_starts.tolist() == [0, 32, 64, 96]


def test_streaming_keeps_order_across_chunks_and_reports_progress(loaded):
    records = make_records(10, seed=1)
    calls = []
    ids = [p.record_id for p in predict(loaded, iter(records), chunk_size=3, progress=lambda d, t: calls.append((d, t)))]
    assert ids == [r.id for r in records]
    assert calls == [(3, 0), (6, 0), (9, 0), (10, 0)]
    list(predict(loaded, records, chunk_size=4, progress=lambda d, t: calls.append((d, t))))
    assert calls[-1] == (10, 10)


def test_embeddings_cls_and_mask_aware_mean(loaded):
    records = make_records(6, seed=2, low=10)
    encoder = loaded.model.bert
    for pooling in ("cls", "mean"):
        got = list(embed(loaded, records, pooling=pooling, batch_size=4))
        for embedding, record in zip(got, records):
            ids = torch.from_numpy(loaded.tokenizer.encode(record.sequence))[None]
            with torch.no_grad():
                hidden = encoder(input_ids=ids).last_hidden_state[0].double().numpy()
            expected = hidden[0] if pooling == "cls" else hidden[1:-1].mean(axis=0)  # k-mers only
            np.testing.assert_allclose(embedding.vector, expected, atol=1e-5)
            assert embedding.pooling == pooling


def test_int8_precision_stays_close(loaded):
    records = make_records(20, seed=3)
    exact = np.stack([p.probs for p in predict(loaded, records)])
    approximate = np.stack([p.probs for p in predict(with_precision(loaded, "int8"), records)])
    assert np.abs(exact - approximate).max() < 0.05
    assert with_precision(loaded, "float32") is loaded


def test_errors(loaded, tiny_model_dir):
    with pytest.raises(DnabertError, match="unknown aggregate 'median'"):
        list(predict(loaded, [], aggregate="median"))
    with pytest.raises(DnabertError, match="unknown precision 'fp8'"):
        with_precision(loaded, "fp8")
    masked_lm = load_model(tiny_model_dir, task="mlm")
    with pytest.raises(DnabertError, match="is not a classifier"):
        list(predict(masked_lm, make_records(1)))
