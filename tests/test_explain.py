"""The app's one-pass analysis equals the separate prediction and landscape paths."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from dnabert_core.predict import predict
from dnabert_core.records import SequenceRecord
from tests.conftest import random_dna
from tests.test_attention import loaded_pair, peaky_model
from viz.explain import LandscapeSettings, analyse, predictions_table
from viz.landscape import attention_landscapes


def test_one_pass_analysis_equals_predict_and_landscapes_run_apart():
    loaded = loaded_pair(peaky_model(3), 3, max_tokens=32)[0]
    rng = np.random.default_rng(3)
    records = [SequenceRecord(f"r{i}", random_dna(rng, n)) for i, n in enumerate((30, 7, 90, 31))]  # 90 bp: windows
    settings = LandscapeSettings(layers=(0,), heads=(1,), reduce="mean", query="mean", normalise=True)
    analysis = analyse(loaded, records, settings, batch_size=3)
    predictions = list(predict(loaded, records, batch_size=1))
    landscapes = list(attention_landscapes(loaded, records, layers=[0], heads=[1], reduce="mean", query="mean",
                                           normalise=True, batch_size=1))
    assert [p.record_id for p in analysis.predictions] == [r.id for r in records]
    for got, want in zip(analysis.predictions, predictions):
        np.testing.assert_allclose(got.probs, want.probs, atol=1e-6)
        np.testing.assert_allclose(got.window_probs, want.window_probs, atol=1e-6)
        np.testing.assert_array_equal(got.window_starts, want.window_starts)
    assert len(analysis.predictions[2].window_starts) > 1
    for got, want in zip(analysis.landscapes, landscapes):
        np.testing.assert_allclose(got.scores, want.scores, atol=1e-6)
        assert got.source == want.source and got.sequence == want.sequence


def test_encoder_without_head_gets_landscapes_only():
    encoder = replace(loaded_pair(peaky_model(3), 3, max_tokens=32)[0], labels=())
    analysis = analyse(encoder, [SequenceRecord("a", "ACGTACGTAC")], LandscapeSettings())
    assert analysis.predictions == () and len(analysis.landscapes) == 1


def test_records_without_an_informative_window_get_no_predicted_class():
    loaded = loaded_pair(peaky_model(3, seed=1), 3, max_tokens=64)[0]
    predictions = list(predict(loaded, [SequenceRecord("n", "N" * 40), SequenceRecord("ok", "ACGTTGCA" * 5)]))
    table = predictions_table(predictions, loaded.labels)
    assert table["pred"].isna().tolist() == [True, False]
    assert np.isnan(table.loc[0, "prob_1"]) and table.loc[1, "prob_1"] > 0
