"""Attention rows from the layers' own queries and keys against ``output_attentions=True`` with eager attention (the
reference)."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from transformers import BertForSequenceClassification

from dnabert_core.attention import attention_rows, resolve_heads, resolve_layers, token_scores
from dnabert_core.errors import DnabertError
from dnabert_core.model import LoadedModel, build_config
from dnabert_core.records import SequenceRecord
from dnabert_core.tokenizer import KmerTokenizer
from tests.conftest import TINY, random_dna


def peaky_model(k: int = 3, seed: int = 0, init: float = 0.3, **size) -> BertForSequenceClassification:
    """Random weights with a large init range, so attention is far from uniform and errors show."""
    torch.manual_seed(seed)
    config = build_config(k, **(size or TINY))
    config.initializer_range = init
    return BertForSequenceClassification(config).eval()


def loaded_pair(model: BertForSequenceClassification, k: int, max_tokens: int = 512) -> tuple[LoadedModel, LoadedModel]:
    """The same weights with SDPA (ours) and eager attention (the reference)."""
    tokenizer = KmerTokenizer(k, max_tokens)
    eager = copy.deepcopy(model)
    eager.set_attn_implementation("eager")
    model.set_attn_implementation("sdpa")
    make = lambda m: LoadedModel(model=m, tokenizer=tokenizer, labels=("0", "1"), path="test")  # noqa: E731
    return make(model), make(eager)


def eager_attentions(eager: LoadedModel, sequence: str) -> np.ndarray:
    """(layers, heads, n, n) of one sequence, batch of one, no padding."""
    ids = torch.from_numpy(eager.tokenizer.encode(sequence))[None]
    with torch.no_grad():
        out = eager.model(input_ids=ids, output_attentions=True)
    return torch.stack(out.attentions)[:, 0].double().numpy()


def padded(tokenizer: KmerTokenizer, sequences: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    batch = tokenizer.batch(sequences)
    return torch.from_numpy(batch.input_ids), torch.from_numpy(batch.attention_mask)


@pytest.fixture(scope="module")
def pair():
    return loaded_pair(peaky_model(3), 3)


@pytest.mark.parametrize("query", ["cls", "mean", "all"])
def test_rows_equal_eager_output_attentions_in_a_padded_batch(pair, query):
    ours, eager = pair
    rng = np.random.default_rng(1)
    sequences = [random_dna(rng, n) for n in (40, 9, 25, 3)]
    ids, mask = padded(ours.tokenizer, sequences)
    rows = attention_rows(ours, ids, mask, layers=[0, 1], query=query)
    for b, sequence in enumerate(sequences):
        reference = eager_attentions(eager, sequence)  # (layers, heads, n, n)
        n = reference.shape[-1]
        assert reference.std() > 1e-2  # the test model's attention is far from uniform
        if query == "cls":
            expected, got = reference[:, :, 0, :], rows[b, :, :, :n]
        elif query == "mean":
            expected, got = reference.mean(axis=2), rows[b, :, :, :n]
        else:
            expected, got = reference, rows[b, :, :, :n, :n]
        np.testing.assert_allclose(got, expected, atol=1e-5)
        assert np.all(rows[b, ..., n:] == 0)  # padding keys get no weight
    first = attention_rows(ours, ids, mask, layers=[0], query=query)  # the pass stops after layer 0
    np.testing.assert_allclose(first, rows[:, :1], atol=1e-6)


def test_rows_equal_eager_at_dnabert_size():
    ours, eager = loaded_pair(peaky_model(6, seed=3, init=0.05, layers=12, hidden=768, heads=12, intermediate=3072), 6)
    sequence = random_dna(np.random.default_rng(2), 80)
    ids, mask = padded(ours.tokenizer, [sequence, sequence[:50]])
    reference = eager_attentions(eager, sequence)
    assert reference[:, :, 0].max() > 0.1  # far from uniform (1/80) but not so peaked that rounding is chaotic
    rows = attention_rows(ours, ids, mask, layers=list(range(12)), query="cls")
    np.testing.assert_allclose(rows[0], reference[:, :, 0, :], atol=1e-5)
    mean_rows = attention_rows(ours, ids, mask, layers=[-1], query="mean")
    np.testing.assert_allclose(mean_rows[0, 0], reference[-1].mean(axis=1), atol=1e-5)


def test_token_scores_sum_heads_and_layers_and_ignore_padding(pair):
    ours, eager = pair
    rng = np.random.default_rng(4)
    records = [SequenceRecord(f"r{i}", random_dna(rng, n)) for i, n in enumerate((30, 8, 17))]
    batched = list(token_scores(ours, records, layers=[0, 1], heads=[1, 3], reduce="mean", batch_size=3))
    for item, record in zip(batched, records):
        reference = eager_attentions(eager, record.sequence)[:, [1, 3], 0, 1:-1].mean(axis=(0, 1))
        m = len(record.sequence) - 2
        assert item.n_kmers.tolist() == [m] and item.starts.tolist() == [0]
        np.testing.assert_allclose(item.scores[0, :m], reference, atol=1e-5)
        alone = next(token_scores(ours, [record], layers=[0, 1], heads=[1, 3], reduce="mean"))
        np.testing.assert_allclose(alone.scores, item.scores, atol=1e-6)  # float rounding of other shapes only


def test_long_records_get_one_row_per_window():
    ours, _ = loaded_pair(peaky_model(3), 3, max_tokens=32)  # windows of 32 bp (30 k-mers), step 16
    record = SequenceRecord("long", random_dna(np.random.default_rng(5), 70))
    item = next(token_scores(ours, [record]))
    assert item.starts.tolist() == [0, 16, 32, 38]
    assert item.scores.shape == (4, 30) and item.n_kmers.tolist() == [30] * 4
    window = next(token_scores(ours, [SequenceRecord("w", record.sequence[16:48])]))
    np.testing.assert_allclose(item.scores[1], window.scores[0], atol=1e-6)


def test_layer_and_head_choices_are_checked():
    assert resolve_layers(12, None) == [11]
    assert resolve_layers(12, [-1, 0, 11]) == [0, 11]
    with pytest.raises(DnabertError, match=r"layer 12 does not exist: the model has 12 layers \(0..11\)"):
        resolve_layers(12, [12])
    assert resolve_heads(4, None) == [0, 1, 2, 3]
    with pytest.raises(DnabertError, match=r"head 4 does not exist: the model has 4 heads \(0..3\)"):
        resolve_heads(4, [4])
    with pytest.raises(DnabertError, match="no head chosen"):
        resolve_heads(4, [])


def test_unknown_query_and_reduction(pair):
    ours, _ = pair
    record = SequenceRecord("a", "ACGTACGT")
    with pytest.raises(DnabertError, match="unknown reduction 'max'"):
        next(token_scores(ours, [record], reduce="max"))
    with pytest.raises(DnabertError, match="landscapes use query 'cls' or 'mean', got 'all'"):
        next(token_scores(ours, [record], query="all"))


def test_relative_position_and_decoder_models_are_refused(pair):
    ours, _ = pair
    model = peaky_model(3)
    model.config.position_embedding_type = "relative_key"
    relative = LoadedModel(model=model, tokenizer=ours.tokenizer, labels=("0", "1"), path="test")
    ids, mask = padded(ours.tokenizer, ["ACGTACGT"])
    with pytest.raises(DnabertError, match="absolute position embeddings; this model uses 'relative_key'"):
        attention_rows(relative, ids, mask)
    decoder = peaky_model(3)
    decoder.config.is_decoder = True
    causal = LoadedModel(model=decoder, tokenizer=ours.tokenizer, labels=("0", "1"), path="test")
    with pytest.raises(DnabertError, match="bidirectional encoder; this model is a decoder"):
        attention_rows(causal, ids, mask)
