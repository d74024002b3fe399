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


def mostly_unknown(sequence: str, k: int = 3) -> bool:
    """More than half of the k-mers hold a base other than A/C/G/T (the rule for 'not scored'), by string work."""
    kmers = [sequence[i : i + k] for i in range(len(sequence) - k + 1)]
    return sum(any(b not in "ACGT" for b in kmer) for kmer in kmers) > len(kmers) / 2


def make_records(n: int, seed: int = 0, low: int = 3, high: int = 65) -> list[SequenceRecord]:
    rng = np.random.default_rng(seed)
    return [SequenceRecord(f"r{i}", random_dna(rng, int(rng.integers(low, high)), "ACGTN")) for i in range(n)]


def test_padded_batches_equal_each_sequence_alone(loaded, eager):
    records = make_records(40)  # lengths 3..64 bp: one window each (the tiny model holds 64 bp for k=3)
    batched = list(predict(loaded, records, batch_size=16))
    assert [p.record_id for p in batched] == [r.id for r in records]
    unknown = [mostly_unknown(r.sequence) for r in records]
    assert 0 < sum(unknown) < len(records)  # both cases occur
    for prediction, record, skip in zip(batched, records, unknown):
        assert prediction.length == len(record.sequence) and prediction.window_probs.shape == (1, 2)
        assert prediction.scored is not skip
        if skip:
            assert np.isnan(prediction.probs).all() and np.isnan(prediction.window_probs).all()
            continue
        np.testing.assert_allclose(prediction.probs, reference_probs(eager, record.sequence), atol=1e-6)
        assert prediction.probs.sum() == pytest.approx(1.0)


def test_all_n_records_and_n_gap_windows_are_not_scored(loaded, eager):
    from dnabert_core.predict import unscored_spans

    rng = np.random.default_rng(8)
    left, right = random_dna(rng, 100), random_dna(rng, 100)
    gapped = left + "N" * 100 + right  # 300 bp: windows of 50 every 25 bp
    all_n, gap = predict(loaded, [SequenceRecord("gap", "N" * 1200), SequenceRecord("g", gapped)], window=50, step=25)
    assert not all_n.scored and np.isnan(all_n.window_probs).all()
    starts = gap.window_starts.tolist()
    expected_nan = [mostly_unknown(gapped[s : s + 50]) for s in starts]
    assert np.isnan(gap.window_probs[:, 0]).tolist() == expected_nan and any(expected_nan)
    kept = [s for s, skip in zip(starts, expected_nan) if not skip]
    expected = np.stack([reference_probs(eager, gapped[s : s + 50]) for s in kept])
    np.testing.assert_allclose(gap.probs, expected.mean(axis=0), atol=1e-6)  # the gap does not enter the mean
    spans = unscored_spans(gap.window_starts, ~np.isnan(gap.window_probs[:, 0]), 50, len(gapped))
    assert len(spans) == 1 and 100 <= spans[0][0] < spans[0][1] <= 200  # inside the gap: no base of ACGT text lost


def test_max_aggregate_on_several_classes_needs_a_target(tmp_path):
    from dnabert_core.errors import OptionError
    from dnabert_core.model import save_model
    from dnabert_core.tokenizer import KmerTokenizer
    from tests.conftest import tiny_classifier

    folder = save_model(tiny_classifier(3, labels=["acceptor", "donor", "neither"]), KmerTokenizer(3, 64), tmp_path)
    three = load_model(folder)
    record = SequenceRecord("x", random_dna(np.random.default_rng(2), 200))
    with pytest.raises(OptionError, match="3 classes .acceptor, donor, neither. and none is .the positive one.: say which"):
        list(predict(three, [record], aggregate="max"))
    (best,) = predict(three, [record], aggregate="max", target=1, window=50)
    assert np.array_equal(best.probs, best.window_probs[best.window_probs[:, 1].argmax()])


def test_token_budget_caps_padded_tokens_and_rows(loaded, eager):
    records = make_records(40)
    shapes = []

    def record_shape(input_ids, attention_mask):
        shapes.append(tuple(input_ids.shape))
        return np.zeros((len(input_ids), 1))

    list(map_windows(loaded, records, record_shape, batch_size=6, token_budget=100))
    scored = [r for r in records if not mostly_unknown(r.sequence)]
    assert sum(rows for rows, _ in shapes) == len(scored)  # windows mostly N are not run
    assert all(rows <= 6 and (rows * width <= 100 or rows == 1) for rows, width in shapes)
    assert max(rows for rows, _ in shapes) == 6 and min(rows for rows, _ in shapes) < 6  # short fill, long don't
    budgeted = list(predict(loaded, scored, batch_size=6, token_budget=100))
    for prediction, record in zip(budgeted, scored):
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


def test_a_long_record_is_tokenised_a_group_of_windows_at_a_time(loaded, eager, monkeypatch):
    import dnabert_core.predict as predict_module

    rng = np.random.default_rng(6)
    sequence = "N" * 120 + random_dna(rng, 400)  # 25 windows of 50 bp every 20 bp; the first group of 4 is all N
    monkeypatch.setattr(predict_module, "WINDOW_GROUP", 4)
    sizes = []
    encode_many = type(loaded.tokenizer).encode_many

    def counting(self, sequences):
        sizes.append(len(sequences))
        return encode_many(self, sequences)

    monkeypatch.setattr(type(loaded.tokenizer), "encode_many", counting)
    (grouped,) = predict(loaded, [SequenceRecord("long", sequence)], window=50, step=20)
    assert max(sizes) == 4 and sum(sizes) == len(grouped.window_starts) == 25
    expected = [None if mostly_unknown(sequence[s : s + 50]) else reference_probs(eager, sequence[s : s + 50])
                for s in grouped.window_starts]
    assert expected[0] is None and expected[-1] is not None
    for row, reference in zip(grouped.window_probs, expected):
        if reference is None:
            assert np.isnan(row).all()
        else:
            np.testing.assert_allclose(row, reference, atol=1e-6)


def test_a_step_larger_than_the_window_is_refused(loaded):
    from dnabert_core.errors import OptionError

    with pytest.raises(OptionError, match="step 60 is larger than the window 50: the 10 bases between windows"):
        list(predict(loaded, [SequenceRecord("x", "ACGT" * 50)], window=50, step=60))


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
            if mostly_unknown(record.sequence):
                assert np.isnan(embedding.vector).all()
                continue
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
    assert np.array_equal(np.isnan(exact), np.isnan(approximate))
    assert np.nanmax(np.abs(exact - approximate)) < 0.05
    assert with_precision(loaded, "float32") is loaded


def test_errors(loaded, dnabert_format_dir):
    with pytest.raises(DnabertError, match="unknown aggregate 'median'"):
        list(predict(loaded, [], aggregate="median"))
    with pytest.raises(DnabertError, match="unknown precision 'fp8'"):
        with_precision(loaded, "fp8")
    masked_lm = load_model(dnabert_format_dir)
    with pytest.raises(DnabertError, match="no trained classification head"):
        list(predict(masked_lm, make_records(1)))


def test_unscored_spans_and_false_runs_match_a_per_base_scan():
    from dnabert_core.predict import false_runs, unscored_spans

    rng = np.random.default_rng(9)
    for _ in range(200):
        length, size = int(rng.integers(1, 120)), int(rng.integers(1, 40))
        starts = np.unique(rng.integers(0, max(length - size, 0) + 1, int(rng.integers(1, 8))))
        informative = rng.random(len(starts)) < 0.6
        covered = np.zeros(length, dtype=bool)
        for start in starts[informative]:
            covered[start : start + size] = True
        naive = []
        for i in range(length):  # runs of uncovered bases, one base at a time
            if not covered[i]:
                if naive and naive[-1][1] == i:
                    naive[-1] = (naive[-1][0], i + 1)
                else:
                    naive.append((i, i + 1))
        assert unscored_spans(starts, informative, size, length) == naive
        assert false_runs(covered) == naive
