"""A planted-motif fixture for motif discovery end to end: a one-layer k=6 classifier whose [CLS] attention goes, by
construction, to the k-mers of one 8-mer (either strand), and positives holding that 8-mer among random negatives.

The model is built, not trained: position and token-type embeddings are zero, the planted k-mers' word embeddings get
a large component on hidden unit 0, every query is the same constant vector and every key reads hidden unit 0, so a
token's attention weight grows with exp(unit 0): the planted k-mers get ~300 times the weight of the others and the
last-layer landscape (SPEC section 5) is high exactly on the 8 planted bases."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from transformers import BertForSequenceClassification

from dnabert_core.model import build_config, save_model
from dnabert_core.tokenizer import KmerTokenizer, reverse_complement, sequence_to_kmers

PLANT = "GACTTCAG"  # not its own reverse complement (CTGAAGTC)
K = 6


def planted_model(folder: Path, plant: str = PLANT) -> Path:
    """Write the planted-attention classifier (labels background, site) to ``folder``."""
    torch.manual_seed(0)
    config = build_config(K, layers=1, hidden=32, heads=4, intermediate=64, max_tokens=128,
                          labels=["background", "site"])
    model = BertForSequenceClassification(config).eval()
    tokenizer = KmerTokenizer(K, 128)
    vocab = {kmer: i for i, kmer in enumerate(tokenizer.vocab)}
    with torch.no_grad():
        embeddings = model.bert.embeddings
        embeddings.position_embeddings.weight.zero_()
        embeddings.token_type_embeddings.weight.zero_()
        for kmer in sequence_to_kmers(plant, K) + sequence_to_kmers(reverse_complement(plant), K):
            embeddings.word_embeddings.weight[vocab[kmer], 0] += 1.0
        attention = model.bert.encoder.layer[0].attention.self
        head = config.hidden_size // config.num_attention_heads
        attention.query.weight.zero_()
        attention.query.bias.zero_()
        attention.key.weight.zero_()
        attention.key.bias.zero_()
        for h in range(config.num_attention_heads):
            attention.query.bias[h * head] = 3.0
            attention.key.weight[h * head, 0] = 1.0
    save_model(model, tokenizer, folder, card="# planted\n\n## Task\n\nAttention on one planted 8-mer.\n")
    return folder


def planted_sets(rng: np.random.Generator, n: int = 40, length: int = 100,
                 plant: str = PLANT) -> tuple[list[tuple[str, str, int, str]], list[str]]:
    """``n`` positives (id, sequence, 0-based start of the plant, strand: '-' holds the reverse complement; every
    other one) and ``n`` random negatives, each ``length`` bp."""
    positives = []
    for i in range(n):
        bases = list(rng.choice(list("ACGT"), length))
        start = int(rng.integers(0, length - len(plant) + 1))
        strand = "+" if i % 2 == 0 else "-"
        bases[start:start + len(plant)] = plant if strand == "+" else reverse_complement(plant)
        positives.append((f"pos{i}", "".join(bases), start, strand))
    negatives = ["".join(rng.choice(list("ACGT"), length)) for _ in range(n)]
    return positives, negatives
