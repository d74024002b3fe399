"""In-silico saturation mutagenesis against one-by-one scoring of each mutated sequence written here."""
from __future__ import annotations

import numpy as np
import pytest

from dnabert_core.errors import InputError, OptionError
from dnabert_core.model import load_model, save_model
from dnabert_core.predict import predict
from dnabert_core.records import Landscape, SequenceRecord
from dnabert_core.tokenizer import KmerTokenizer
from tests.conftest import random_dna, tiny_classifier
from viz.ism import IsmResult, ism_ig_correlation, ism_importance, ism_table, saturation_mutagenesis


@pytest.fixture(scope="module")
def loaded(tiny_model_dir):
    return load_model(tiny_model_dir)


def one_by_one(loaded, sequence: str, target: int) -> np.ndarray:
    """P(target) of every single-base change, each scored alone with plain predict: (4, L), rows A C G T."""
    (ref,) = predict(loaded, [SequenceRecord("ref", sequence)])
    out = np.empty((4, len(sequence)))
    for p in range(len(sequence)):
        for row, base in enumerate("ACGT"):
            if base == sequence[p]:
                out[row, p] = ref.probs[target]
                continue
            mutated = sequence[:p] + base + sequence[p + 1 :]
            (prediction,) = predict(loaded, [SequenceRecord("alt", mutated)], batch_size=1)
            out[row, p] = prediction.probs[target]
    return out


def test_ism_equals_scoring_each_mutant_alone(loaded):
    sequence = random_dna(np.random.default_rng(3), 23)
    calls = []
    result = saturation_mutagenesis(loaded, SequenceRecord("s", sequence), batch_size=4, chunk_size=7,
                                    progress=lambda done, total: calls.append((done, total)))
    expected = one_by_one(loaded, sequence, target=1)
    assert result.target == "positive" and result.sequence == sequence
    assert result.p_alt.shape == result.effects.shape == (4, 23)
    np.testing.assert_allclose(result.p_alt, expected, atol=1e-5)
    np.testing.assert_allclose(result.effects, expected - result.p_ref, atol=1e-5)
    own = np.array(["ACGT".index(base) for base in sequence])
    assert (result.effects[own, np.arange(23)] == 0).all()
    assert (result.p_alt[own, np.arange(23)] == result.p_ref).all()
    assert calls[-1] == (69, 69) and [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_long_table_has_three_rows_a_base_with_1_based_positions(loaded):
    records = [SequenceRecord("a", "ACGTTGCA"), SequenceRecord("b", "GGATC")]
    results = [saturation_mutagenesis(loaded, r) for r in records]
    table = ism_table(results)
    assert list(table.columns) == ["id", "position", "ref", "alt", "p_alt", "delta"]
    assert len(table) == 3 * 8 + 3 * 5
    first = table[table.id == "a"].head(6)
    assert first.position.tolist() == [1, 1, 1, 2, 2, 2]
    assert first.ref.tolist() == ["A"] * 3 + ["C"] * 3
    assert first.alt.tolist() == ["C", "G", "T", "A", "G", "T"]
    last = table.iloc[-1]
    assert (last.id, last.position, last.ref, last.alt) == ("b", 5, "C", "T")
    for row in table.itertuples():
        result = results[0 if row.id == "a" else 1]
        assert result.sequence[row.position - 1] == row.ref != row.alt
        cell = ("ACGT".index(row.alt), row.position - 1)
        assert row.p_alt == result.p_alt[cell] and row.delta == result.effects[cell]
        assert row.delta == pytest.approx(row.p_alt - result.p_ref)
    assert ism_table([]).empty


def test_an_n_in_the_reference_becomes_each_of_four_bases(loaded):
    result = saturation_mutagenesis(loaded, SequenceRecord("n", "ACGTNACGTA"))
    table = ism_table([result])
    assert len(table) == 3 * 9 + 4
    assert table[table.position == 5].alt.tolist() == list("ACGT")
    assert (result.effects[:, 4] != 0).all()


def test_target_by_name_and_multi_class_models_need_one(tmp_path):
    folder = save_model(tiny_classifier(3, labels=["acceptor", "donor", "neither"]), KmerTokenizer(3, 64), tmp_path)
    three = load_model(folder)
    record = SequenceRecord("x", "ACGTACGTAC")
    with pytest.raises(OptionError, match="3 classes .acceptor, donor, neither."):
        saturation_mutagenesis(three, record)
    result = saturation_mutagenesis(three, record, target="donor")
    by_index = saturation_mutagenesis(three, record, target=1)
    assert result.target == by_index.target == "donor"
    np.testing.assert_array_equal(result.p_alt, by_index.p_alt)
    with pytest.raises(OptionError, match="unknown target class 'splice'"):
        saturation_mutagenesis(three, record, target="splice")


def test_sequences_longer_than_the_window_are_refused(loaded):
    with pytest.raises(InputError, match=r"record 'long'.*65 bp is longer than the 64 bp window.*at most 64 bp"):
        saturation_mutagenesis(loaded, SequenceRecord("long", "A" * 65))
    with pytest.raises(InputError, match="40 bp is longer than the 30 bp window"):
        saturation_mutagenesis(loaded, SequenceRecord("s", "ACGT" * 10), window=30)
    with pytest.raises(InputError, match="shorter than one 3-mer"):
        saturation_mutagenesis(loaded, SequenceRecord("s", "AC"))
    with pytest.raises(InputError, match="nothing to mutate"):
        saturation_mutagenesis(loaded, SequenceRecord("gap", "ACNNNNNNNNGT"))


def hand_made(effects: np.ndarray, sequence: str, p_ref: float = 0.5) -> IsmResult:
    return IsmResult(record_id="h", sequence=sequence, target="positive", p_ref=p_ref, p_alt=effects + p_ref,
                     effects=effects)


def test_importance_and_its_correlation_with_an_attribution_track_by_hand():
    # rows A C G T; reference "ACG": the reference cells are 0
    effects = np.array([[0.0, -0.3, 0.1],
                        [-0.6, 0.0, 0.2],
                        [-0.3, 0.0, 0.0],
                        [-0.3, -0.3, 0.0]])
    result = hand_made(effects, "ACG")
    # importance = -(mean of the three alternatives): A: 0.4, C: 0.2, G: -0.1
    np.testing.assert_allclose(ism_importance(result), [0.4, 0.2, -0.1])
    # x = (0.4, 0.2, -0.1), y = (1, 2, 0): dx = (0.233.., 0.033.., -0.266..), dy = (0, 1, -1)
    # sum dx dy = 0.3, sum dx^2 = 0.12667, sum dy^2 = 2 -> r = 0.3 / sqrt(0.25333) = 0.59604
    assert ism_ig_correlation(result, np.array([1.0, 2.0, 0.0])) == pytest.approx(0.596040, abs=1e-6)
    assert ism_ig_correlation(result, np.array([0.8, 0.4, -0.2])) == pytest.approx(1.0)
    track = Landscape(record_id="h", sequence="ACG", scores=np.array([-0.4, -0.2, 0.1]), source="hand")
    assert ism_ig_correlation(result, track) == pytest.approx(-1.0)
    assert ism_ig_correlation(result, np.array([1.0, np.nan, 0.0])) == pytest.approx(1.0)  # NaN positions dropped
    assert np.isnan(ism_ig_correlation(result, np.array([1.0, 1.0, 1.0])))  # constant: undefined
    with pytest.raises(InputError, match="differs"):
        ism_ig_correlation(result, Landscape(record_id="o", sequence="ACC", scores=np.zeros(3), source="hand"))
    with pytest.raises(InputError, match="shape"):
        ism_ig_correlation(result, np.zeros(4))


def test_correlation_with_integrated_gradients_on_the_tiny_model(loaded):
    from viz.attribution import integrated_gradients

    record = SequenceRecord("s", random_dna(np.random.default_rng(5), 30))
    result = saturation_mutagenesis(loaded, record)
    (track,) = integrated_gradients(loaded, [record], target=result.target, n_steps=8)
    r = ism_ig_correlation(result, track)
    assert -1.0 <= r <= 1.0
