"""Integrated gradients: completeness against probabilities computed here, batching, projection, targets."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from dnabert_core.errors import DnabertError
from dnabert_core.records import SequenceRecord
from tests.conftest import TINY, random_dna
from tests.test_attention import loaded_pair, peaky_model
from viz.attribution import integrated_gradients, pad_baseline, token_attributions


@pytest.fixture(scope="module")
def loaded():
    return loaded_pair(peaky_model(3, seed=7, init=0.1), 3, max_tokens=32)[0]


def probability(loaded, ids: torch.Tensor, target: int) -> np.ndarray:
    with torch.no_grad():
        return torch.softmax(loaded.model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits, -1)[
            :, target].numpy()


def test_completeness_attributions_sum_to_the_probability_change(loaded):
    rng = np.random.default_rng(0)
    sequence = random_dna(rng, 30)
    ids = torch.from_numpy(loaded.tokenizer.encode(sequence))[None]
    mask = torch.ones_like(ids)
    attributions, delta = token_attributions(loaded, ids, mask, 1, n_steps=200)
    p_input = probability(loaded, ids, 1)[0]
    p_baseline = probability(loaded, pad_baseline(ids), 1)[0]
    assert abs(p_input - p_baseline) > 1e-3  # the test is not vacuous
    total = float(attributions.sum())
    assert total == pytest.approx(p_input - p_baseline + float(delta[0]), abs=1e-5)  # captum's delta definition
    assert abs(float(delta[0])) < 0.05 * abs(p_input - p_baseline)  # and it converged
    assert float(attributions[0, 0]) == 0 and float(attributions[0, -1]) == 0  # [CLS], [SEP] equal their baseline
    assert all(p.grad is None for p in loaded.model.parameters())  # gradients to the embeddings only


def test_equals_layer_integrated_gradients_on_the_embedding_layer(loaded):
    """The reference: captum's LayerIntegratedGradients hooks the word-embedding layer (of a copy here) and integrates
    over its output; ours passes the same interpolated embeddings as inputs_embeds."""
    import copy

    from captum.attr import LayerIntegratedGradients

    rng = np.random.default_rng(3)
    batch = loaded.tokenizer.batch([random_dna(rng, 30), random_dna(rng, 12)])
    ids, mask = torch.from_numpy(batch.input_ids), torch.from_numpy(batch.attention_mask)
    model = copy.deepcopy(loaded.model)

    def probability(input_ids, attention_mask):
        return torch.softmax(model(input_ids=input_ids, attention_mask=attention_mask).logits, dim=-1)

    reference, reference_delta = LayerIntegratedGradients(probability, model.bert.embeddings.word_embeddings).attribute(
        inputs=ids, baselines=pad_baseline(ids), additional_forward_args=(mask,), target=1, n_steps=16,
        return_convergence_delta=True)
    attributions, delta = token_attributions(loaded, ids, mask, 1, n_steps=16, internal_batch_size=6)
    np.testing.assert_allclose(attributions.numpy(), reference.sum(dim=-1).numpy(), atol=1e-6)
    np.testing.assert_allclose(delta.numpy(), reference_delta.numpy(), atol=1e-6)


def test_baseline_replaces_only_kmers():
    ids = torch.tensor([[2, 7, 9, 3, 0], [2, 1, 3, 0, 0]])
    assert pad_baseline(ids).tolist() == [[2, 0, 0, 3, 0], [2, 0, 3, 0, 0]]


def test_per_base_scores_project_token_attributions_and_batch_like_alone(loaded):
    rng = np.random.default_rng(1)
    records = [SequenceRecord(f"r{i}", random_dna(rng, n)) for i, n in enumerate((20, 7, 31))]
    batched = list(integrated_gradients(loaded, records, target=1, n_steps=20, batch_size=3))
    for landscape, record in zip(batched, records):
        ids = torch.from_numpy(loaded.tokenizer.encode(record.sequence))[None]
        tokens, delta = token_attributions(loaded, ids, torch.ones_like(ids), 1, n_steps=20)
        kmers = tokens[0, 1:-1].double().numpy()
        m, k = len(kmers), 3
        naive = [np.mean([kmers[i] for i in range(max(0, p - k + 1), min(m - 1, p) + 1)])
                 for p in range(len(record.sequence))]
        np.testing.assert_allclose(landscape.scores, naive, atol=1e-6)
        assert landscape.delta == pytest.approx(abs(float(delta[0])), abs=1e-6)
        assert landscape.source.startswith("integrated gradients of p(1), 20 steps")


def test_long_sequences_are_attributed_per_window(loaded):
    sequence = random_dna(np.random.default_rng(2), 50)  # windows of 32 bp at 0, 16, 18
    whole = next(integrated_gradients(loaded, [SequenceRecord("long", sequence)], target=1, n_steps=10)).scores
    window = next(integrated_gradients(loaded, [SequenceRecord("w", sequence[:32])], target=1, n_steps=10)).scores
    assert whole.shape == (50,)
    np.testing.assert_allclose(whole[:16], window[:16], atol=1e-6)  # bases only the first window covers


def test_default_target_is_each_records_predicted_class():
    from dataclasses import replace

    from dnabert_core.predict import predict

    model = peaky_model(3, seed=3, init=0.3, **{**TINY, "labels": ["a", "b", "c"]})
    three = replace(loaded_pair(model, 3, max_tokens=32)[0], labels=("a", "b", "c"))
    rng = np.random.default_rng(4)
    records = [SequenceRecord(f"r{i}", random_dna(rng, 25)) for i in range(12)]
    classes = [int(np.argmax(p.probs)) for p in predict(three, records)]
    assert len(set(classes)) > 1  # records predicted as different classes, in one batch
    default = list(integrated_gradients(three, records, n_steps=8, batch_size=5))
    for landscape, record, c in zip(default, records, classes):
        alone = next(integrated_gradients(three, [record], target=c, n_steps=8))
        np.testing.assert_allclose(landscape.scores, alone.scores, atol=1e-6)
        assert landscape.source.startswith(f"integrated gradients of p({'abc'[c]})")
        assert landscape.record_id == record.id


def test_mostly_n_records_get_no_attribution(loaded):
    (track,) = integrated_gradients(loaded, [SequenceRecord("n", "NNNNNNNNNNACG")], target=1, n_steps=4)
    assert np.isnan(track.scores).all() and track.delta is None


def test_target_by_name_or_index(loaded):
    assert loaded.class_index(None) is None
    assert loaded.class_index("0") == 0 and loaded.class_index(1) == 1
    with pytest.raises(DnabertError, match=r"target class 2 does not exist; the model's classes are \['0', '1'\]"):
        loaded.class_index(2)
    with pytest.raises(DnabertError, match="unknown target class 'tata'"):
        loaded.class_index("tata")
    with pytest.raises(DnabertError, match="n_steps must be at least 2"):
        next(integrated_gradients(loaded, [SequenceRecord("a", "ACGTACGT")], n_steps=1))
