"""Structured initial embeddings: k-mers are sums of their bases' position vectors, positions are sinusoidal."""
from __future__ import annotations

import math

import pytest
import torch
from transformers import BertForMaskedLM

from dnabert_core.embedding_init import initialise_embeddings, kmer_base_matrix, sinusoidal
from dnabert_core.model import build_config
from dnabert_core.tokenizer import N_SPECIAL, KmerTokenizer


def fresh(k: int = 3) -> BertForMaskedLM:
    torch.manual_seed(0)
    return BertForMaskedLM(build_config(k, layers=1, hidden=32, heads=2, intermediate=64, max_tokens=64))


def test_kmer_rows_are_one_hot_bases():
    matrix = kmer_base_matrix(3)
    vocab = KmerTokenizer(3).vocab
    assert matrix.shape == (64, 12) and torch.all(matrix.sum(dim=1) == 3)
    row = matrix[vocab.index("GTA") - N_SPECIAL].reshape(3, 4)  # columns per position: A C G T
    assert row.argmax(dim=1).tolist() == [2, 3, 0]


def test_compositional_embeddings_are_additive_over_bases():
    model = fresh()
    specials = model.bert.embeddings.word_embeddings.weight[:N_SPECIAL].clone()
    initialise_embeddings(model, 3, "compositional", seed=1)
    words = model.bert.embeddings.word_embeddings.weight
    vocab = KmerTokenizer(3).vocab

    def e(kmer: str) -> torch.Tensor:
        return words[vocab.index(kmer)]

    # changing the first base moves every k-mer by the same vector, whatever the other bases are
    torch.testing.assert_close(e("AAA") - e("CAA"), e("AGT") - e("CGT"))
    assert not torch.allclose(e("AAA") - e("CAA"), e("AAA") - e("AAC"))  # position-specific
    assert torch.equal(words[:N_SPECIAL], specials)  # special tokens keep their random rows
    assert words.std().item() == pytest.approx(model.config.initializer_range, rel=0.3)  # BERT's scale
    tied = model.cls.predictions.decoder.weight
    assert tied.data_ptr() == words.data_ptr()  # the output projection is the same matrix


def test_positions_are_sinusoidal_and_random_keeps_bert():
    model = fresh()
    before = model.bert.embeddings.position_embeddings.weight.clone()
    initialise_embeddings(model, 3, "random")
    assert torch.equal(model.bert.embeddings.position_embeddings.weight, before)
    initialise_embeddings(model, 3, "compositional")
    positions = model.bert.embeddings.position_embeddings.weight
    scale = model.config.initializer_range * math.sqrt(2.0)
    assert positions[5, 0].item() == pytest.approx(math.sin(5) * scale, rel=1e-5)
    assert positions[5, 3].item() == pytest.approx(math.cos(5 / 10000 ** (2 / 32)) * scale, rel=1e-5)
    assert sinusoidal(4, 6).shape == (4, 6)
    with pytest.raises(ValueError, match="unknown embedding initialisation"):
        initialise_embeddings(model, 3, "orthogonal")
