"""Masked-LM baselines: the flank baseline by hand, on an unambiguous text, on the model's own masks."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from transformers import BertForMaskedLM

from dnabert_core.masking import IGNORE_INDEX
from dnabert_core.mlm_baselines import flank_baseline, flank_predictions, kmer_stats, unigram_baseline
from dnabert_core.model import build_config
from dnabert_core.tokenizer import MASK_ID, UNK_ID, KmerTokenizer
from dnabert_core.pretraining import masked_lm_metrics
from tests.conftest import TINY, random_dna

TOKENIZER = KmerTokenizer(3)


def masked(sequence: str, columns: list[int], replace_with: int | None = MASK_ID) -> tuple[np.ndarray, np.ndarray]:
    """Token ids of ``sequence`` with the tokens at ``columns`` labelled, their input replaced by ``replace_with``
    (None: the original token stays, as in the 10% left unchanged): (1, n_tokens) each."""
    ids = TOKENIZER.encode(sequence)[None, :]
    labels = np.full_like(ids, IGNORE_INDEX)
    labels[0, columns] = ids[0, columns]
    inputs = ids.copy()
    if replace_with is not None:
        inputs[0, columns] = replace_with
    return inputs, labels


def token(kmer: str) -> int:
    return TOKENIZER.vocab.index(kmer)


@pytest.mark.parametrize("replace_with", [MASK_ID, None, 7])
def test_flank_baseline_by_hand(replace_with):
    # ACGTACG: tokens ACG CGT GTA TAC ACG; masking CGT GTA TAC (columns 2-4) leaves only base 3 (T) unseen:
    # CGT -> CG?, GTA -> G?A, TAC -> ?AC
    inputs, labels = masked("ACGTACG", [2, 3, 4], replace_with)
    stats = kmer_stats(["CGACGACGA", "GTAGTA"], 3)  # CGA x3, GAC x2, ACG x2, GTA x2, TAG, AGT
    predicted, log_prob = flank_predictions(inputs, labels, stats)
    assert predicted.tolist() == [token("CGA"), token("GTA"), token("GAC")]
    # candidates: the 4 agreeing k-mers + [UNK] (count 0), each count + 1
    # CG?: CGA 3 of 3 -> p(CGT) = 1/8; G?A: GTA 2 of 2 -> 3/7; ?AC: GAC 2 of 2 -> p(TAC) = 1/7
    np.testing.assert_allclose(np.exp(log_prob), [1 / 8, 3 / 7, 1 / 7])


def test_flank_baseline_predicts_unk_where_a_hidden_base_is_often_n():
    inputs, labels = masked("ACGNACG", [2, 3, 4])  # CGN GNA NAC are [UNK]: base 3 is N
    assert labels[0, 2:5].tolist() == [UNK_ID] * 3
    stats = kmer_stats(["CGNCGNCGT", "GNNA", "NACNAC"], 3)
    # CGN x2, GNC x2, NCG x2, CGT; GNN, NNA; NAC x2, ACN, CNA. Agreeing with the shown bases (N only where hidden):
    # CG? <- CGN x2 (beats CGT x1); G?A <- none (GNN has N at the shown position 3); ?AC <- NAC x2
    assert stats.counts[UNK_ID] == 12 and stats.counts[token("CGT")] == 1
    predicted, log_prob = flank_predictions(inputs, labels, stats)
    assert predicted[0] == UNK_ID and predicted[1] != UNK_ID and predicted[2] == UNK_ID
    # p(true [UNK]) = (agreeing [UNK] + 1) / (agreeing k-mers + 4 + agreeing [UNK] + 1)
    np.testing.assert_allclose(np.exp(log_prob), [3 / (1 + 4 + 3), 1 / (0 + 4 + 1), 3 / (0 + 4 + 3)])


def test_flank_baseline_does_not_let_every_n_of_the_text_outvote_a_k_mer():
    inputs, labels = masked("ACGTACG", [2, 3, 4])  # CG? G?A ?AC, true CGT GTA TAC
    stats = kmer_stats(["CGTCGT", "N" * 200], 3)  # 198 [UNK] k-mers, none of them agreeing with a shown base
    predicted, _ = flank_predictions(inputs, labels, stats)
    assert predicted[0] == token("CGT") and UNK_ID not in predicted.tolist()


def test_flank_baseline_is_exact_on_an_unambiguous_text():
    text = "ACGT" * 128  # period 4: any one known base fixes the k-mer
    tokenizer = KmerTokenizer(6)
    ids = tokenizer.encode(text)[None, :]
    labels = np.full_like(ids, IGNORE_INDEX)
    for centre in range(10, ids.shape[1] - 10, 17):  # isolated 6-spans c-2 .. c+3, inside the sequence
        labels[0, centre - 2 : centre + 4] = 1
    labels = np.where(labels == 1, ids, IGNORE_INDEX)
    inputs = np.where(labels == IGNORE_INDEX, ids, MASK_ID)
    predicted, log_prob = flank_predictions(inputs, labels, kmer_stats([text], 6))
    assert predicted.size > 100 and np.array_equal(predicted, labels[labels != IGNORE_INDEX])
    assert np.all(np.exp(log_prob) > 0.9)  # one base unseen: (count + 1) / (count + 4 + 1), [UNK] the fifth
    assert unigram_baseline([text], [text], 6)["accuracy"] == pytest.approx(0.25, abs=0.01)


def test_unigram_baseline_by_hand():
    result = unigram_baseline(["AAAA"], ["AAAT"], 3)  # AAA x2 in training; held out: AAA, AAT
    assert result["accuracy"] == 0.5
    # add-one over the 64 k-mers: AAA 3/66, AAT 1/66
    assert result["loss"] == pytest.approx(-(math.log(3 / 66) + math.log(1 / 66)) / 2)


def test_flank_baseline_scores_the_masks_the_model_is_scored_on():
    rng = np.random.default_rng(0)
    pieces = [random_dna(rng, int(n)) for n in rng.integers(10, 60, 20)]
    torch.manual_seed(0)
    model = BertForMaskedLM(build_config(3, max_tokens=64, **TINY))
    held = masked_lm_metrics(model, KmerTokenizer(3, 64), pieces, batch_size=8, seed=5, mask_probability=0.1)
    flank = flank_baseline(pieces, pieces, 3, batch_size=8, seed=5, mask_probability=0.1)
    assert flank["n_masked"] == held["n_masked"] > 0
    assert flank_baseline(pieces, pieces, 3, batch_size=8, seed=6, mask_probability=0.1)["n_masked"] != held["n_masked"]
    assert 0 < flank["accuracy"] <= 1 and flank["loss"] > 0


def test_composition_baseline_by_hand():
    from dnabert_core.mlm_baselines import composition_baseline

    # k = 3: training 3-mers AAA x3 -> add-one pooled p(AAA) = 4 / 67; a held-out piece of AAA only: KL = log(67 / 4)
    assert composition_baseline(["AAAAA"], ["AAAA"], 3) == pytest.approx(np.log(67 / 4), rel=1e-6)
    # k = 4 groups each 4-mer under its first 3 bases: AAAA AAAT AATA ATAA TAAA -> AAA twice, AAT, ATA, TAA once
    # (pooled AAA 3 / 69); a held-out piece AAAAT (AAAA, AAAT: all AAA) -> log(69 / 3)
    assert composition_baseline(["AAAATAAA"], ["AAAAT"], 4) == pytest.approx(np.log(69 / 3), rel=1e-6)
