"""Structured initial embeddings for masked-LM pre-training from scratch (the architecture stays BERT's).

With k-span masking every masked k-mer shares most of its bases with the unmasked k-mers beside the span, but a
randomly initialised BERT does not know that k-mers are made of bases: it has to discover it from 4^k unrelated
vectors, and small models trained briefly stay on the plateau of "copy the input, else predict the unigram"
(held-out masked accuracy about 0.1, the share of masked positions left unchanged). Two initialisations give it
that structure from step 0, and training then changes them freely:

- ``compositional``: the embedding of k-mer ``b_1..b_k`` is the sum of k position-specific base vectors
  ``P[j, b_j]`` (random, fixed scale), so overlapping k-mers are related by a linear shift. The output projection of
  ``BertForMaskedLM`` is tied to these embeddings, so predicting a k-mer starts out as predicting its bases.
- ``sinusoidal`` positions (Vaswani et al. 2017) instead of random ones: attention to a fixed relative offset ("the
  k-mer just before the span") is then a linear function of the position embeddings.

Special tokens keep their random rows.
"""
from __future__ import annotations

import math

import torch
from transformers import PreTrainedModel

from dnabert_core.tokenizer import N_SPECIAL, vocabulary

EMBEDDING_INITS = ("compositional", "random")
BASES = "ACGT"


def kmer_base_matrix(k: int) -> torch.Tensor:
    """(4^k, k * 4) one-hot of each k-mer's bases, k-mers in vocabulary order (rows of ``vocabulary(k)[N_SPECIAL:]``);
    column ``4 j + b`` is 1 when base j of the k-mer is ``BASES[b]``."""
    kmers = vocabulary(k)[N_SPECIAL:]
    index = torch.tensor([[BASES.index(base) for base in kmer] for kmer in kmers])
    onehot = torch.zeros(len(kmers), k, len(BASES))
    onehot.scatter_(2, index[:, :, None], 1.0)
    return onehot.reshape(len(kmers), k * len(BASES))


def sinusoidal(n_positions: int, hidden: int) -> torch.Tensor:
    """(n_positions, hidden) sinusoidal position code: sin at even, cos at odd dimensions."""
    position = torch.arange(n_positions, dtype=torch.float64)[:, None]
    frequency = torch.exp(-math.log(10000.0) * torch.arange(0, hidden, 2, dtype=torch.float64) / hidden)
    code = torch.zeros(n_positions, hidden, dtype=torch.float64)
    code[:, 0::2] = torch.sin(position * frequency)
    code[:, 1::2] = torch.cos(position * frequency)[:, : hidden // 2]
    return code


def initialise_embeddings(model: PreTrainedModel, k: int, method: str = "compositional", seed: int = 0) -> None:
    """Overwrite a fresh model's k-mer and position embeddings in place (``method`` "compositional"; "random" keeps
    BERT's own). Each row gets about the norm BERT's random rows have (``initializer_range`` x sqrt(hidden))."""
    if method not in EMBEDDING_INITS:
        raise ValueError(f"unknown embedding initialisation {method!r}; choose one of {EMBEDDING_INITS}")
    if method == "random":
        return
    embeddings = model.base_model.embeddings
    words, positions = embeddings.word_embeddings.weight, embeddings.position_embeddings.weight
    hidden, scale = words.shape[1], model.config.initializer_range
    generator = torch.Generator().manual_seed(seed)
    parts = torch.randn(k * len(BASES), hidden, generator=generator, dtype=torch.float64) * scale / math.sqrt(k)
    with torch.no_grad():
        words[N_SPECIAL:] = (kmer_base_matrix(k).double() @ parts).to(words.dtype)
        positions.copy_((sinusoidal(positions.shape[0], hidden) * scale * math.sqrt(2.0)).to(positions.dtype))
