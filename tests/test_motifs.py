"""Motif discovery (SPEC section 6): statistics by hand, runs on hand-made scores, merging on hand-made candidates,
the centre rule, and a planted 8-mer recovered from random sequences."""
from __future__ import annotations

import math

import numpy as np
import pytest

from dnabert_core.errors import InputError, OptionError
from dnabert_core.records import Landscape, SequenceRecord
from dnabert_core.tokenizer import reverse_complement
from viz.motif_merge import Member, align, instance_window, merge_candidates
from viz.motifs import (
    INSTANCE_COLUMNS,
    MOTIF_COLUMNS,
    MotifParams,
    bh_adjust,
    consensus,
    count_containing,
    discover_motifs,
    high_score_runs,
    hypergeometric_p,
    instances_table,
    motifs_table,
    position_frequency_matrix,
)

PLANT = "GACTTCAG"  # not its own reverse complement: CTGAAGTC


def random_dna(rng: np.random.Generator, n: int) -> str:
    return "".join(rng.choice(list("ACGT"), n))


def planted(rng: np.random.Generator, n: int, length: int = 100, positions: list[int] | None = None,
            prefix: str = "pos") -> tuple[list[Landscape], list[tuple[str, int, str]]]:
    """Positives with PLANT (even i) or its reverse complement (odd i); scores: noise in [0.01, 0.02), 1.0 on the plant.
    Returns the landscapes and the (id, position, planted text) of each plant."""
    landscapes, plants = [], []
    for i in range(n):
        position = int(rng.integers(8, length - 16 + 1)) if positions is None else positions[i]
        text = PLANT if i % 2 == 0 else reverse_complement(PLANT)
        background = random_dna(rng, length)
        sequence = background[:position] + text + background[position + 8:]
        scores = rng.uniform(0.01, 0.02, length)
        scores[position : position + 8] = 1.0
        landscapes.append(Landscape(f"{prefix}{i}", sequence, scores, "test"))
        plants.append((f"{prefix}{i}", position, text))
    return landscapes, plants


def test_hypergeometric_p_by_hand():
    # N=10 sequences, K=4 positives, n=3 contain the candidate, x=2 of them positive: P(X >= 2)
    expected = (math.comb(4, 2) * math.comb(6, 1) + math.comb(4, 3) * math.comb(6, 0)) / math.comb(10, 3)
    assert expected == pytest.approx(1 / 3)
    p = hypergeometric_p(np.array([2, 1]), np.array([3, 3]), 10, 4)
    assert p[0] == pytest.approx(expected)
    assert p[1] == pytest.approx(1 - math.comb(6, 3) / math.comb(10, 3))


def test_bh_by_hand():
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.2])
    # sorted 0.005, 0.01, 0.03, 0.04, 0.2 -> p * 5 / rank = 0.025, 0.025, 0.05, 0.05, 0.2, already monotone
    np.testing.assert_allclose(bh_adjust(p), [0.025, 0.05, 0.05, 0.025, 0.2])
    # a later smaller ratio pulls earlier ones down: 0.02 * 3 / 1 = 0.06 > 0.03 * 3 / 3 = 0.03
    np.testing.assert_allclose(bh_adjust(np.array([0.02, 0.03, 0.03])), [0.03, 0.03, 0.03])


def test_high_score_runs_by_hand():
    scores = np.array([1, 1, 5, 5, 5, 5, 5, 1, 5, 5, 5, np.nan, 5, 5, 1, 1, 1, 1, 1, 1], dtype=float)
    # min = 1: nothing exceeds 10 * min = 10
    assert high_score_runs(scores, MotifParams()) == []
    scores[19] = 0.1  # now 10 * min = 1 and mean = 58.1 / 19 ~ 3.06: the 5s are high, NaN splits 8..13
    assert high_score_runs(scores, MotifParams()) == [(2, 7)]
    assert high_score_runs(scores, MotifParams(min_len=3)) == [(2, 7), (8, 11)]
    assert high_score_runs(scores, MotifParams(min_len=2)) == [(2, 7), (8, 11), (12, 14)]
    # an absolute threshold replaces both conditions
    assert high_score_runs(scores, MotifParams(threshold=0.5)) == [(0, 11), (12, 19)]
    assert high_score_runs(np.full(8, np.nan), MotifParams()) == []


def test_ten_times_min_with_negative_scores_leaves_the_mean_rule():
    scores = np.array([-1, 2, 2, 2, 2, 2, 0, 0, 0, 0], dtype=float)  # 10 * min = -10; mean = 0.9
    assert high_score_runs(scores, MotifParams()) == [(1, 6)]
    assert high_score_runs(scores, MotifParams(above_mean=False, min_len=1)) == [(0, 10)]


def test_count_containing_by_hand_and_against_naive_loop():
    patterns = ["ACG", "CGT", "TTT", "AAA"]
    sequences = ["ACGT", "TTTT", "GGGG"]
    assert count_containing(patterns, sequences).tolist() == [1, 1, 1, 1]
    assert count_containing(patterns, sequences, reverse_complements=False).tolist() == [1, 1, 1, 0]
    rng = np.random.default_rng(3)
    sequences = [random_dna(rng, 60) for _ in range(30)]
    patterns = [random_dna(rng, int(rng.integers(3, 6))) for _ in range(40)] + ["ACGT"]
    naive = [sum(p in s or reverse_complement(p) in s for s in sequences) for p in patterns]
    assert count_containing(patterns, sequences).tolist() == naive
    assert count_containing([], sequences).tolist() == []


def test_pfm_and_consensus_by_hand():
    pfm = position_frequency_matrix(["ACGT", "ACGA", "TCNA"], 4)
    assert list(pfm.columns) == ["A", "C", "G", "T"] and pfm.index.name == "position"
    assert pfm.to_numpy().tolist() == [[2, 0, 0, 1], [0, 3, 0, 0], [0, 0, 2, 0], [2, 0, 0, 1]]
    assert consensus(pfm) == "ACGA"
    assert consensus(position_frequency_matrix(["AC", "CA"], 2)) == "NN"
    assert consensus(position_frequency_matrix(["NA"], 2)) == "NA"
    assert consensus(position_frequency_matrix(["AC", "AG", "AT", "CA", "GA"], 2)) == "Aa"  # 3 of 5: upper, 2: lower
    assert consensus(position_frequency_matrix(["AC", "AG", "TT", "CA"], 2)) == "AN"  # half is upper; a 4-way tie


def test_alignment_ties_prefer_small_then_negative_offset():
    assert align("AAAAC", "AAAAC") == (5, 0)
    assert align("CACAC", "ACACA") == (4, -1)  # offsets -1 and +1 both give 4
    assert align("GCCTTA", "AAGGC") == (2, 2)  # offsets 2 (G.C on GGC) and 3 (GC on GC) both give 2


def test_merge_reverse_complement_and_new_motif():
    candidates = ["AAGGC", "GCCTTA", "ACACA", "CACAC", "GGGTT"]
    p_adj = np.array([1e-5, 1e-4, 2e-5, 3e-5, 1e-3])
    groups = merge_candidates(candidates, p_adj, min_len=5, merge_fraction=0.5)
    by_reference = {g.reference: g.members for g in groups}
    assert [g.reference for g in groups] == ["AAGGC", "ACACA", "GGGTT"]  # created in (length, p_adj) order
    # GCCTTA's reverse complement TAAGGC holds AAGGC from its second base: offset -1, 5 matches
    assert by_reference["AAGGC"] == (Member("AAGGC", "+", 0), Member("GCCTTA", "-", -1))
    assert by_reference["ACACA"] == (Member("ACACA", "+", 0), Member("CACAC", "+", -1))


@pytest.mark.parametrize("first", ["AAAAA", "CCCCC"])
def test_merge_tie_goes_to_the_earlier_motif(first):
    # AAAACCCC scores 4 on AAAAA (offsets 0 and 1) and 4 on CCCCC (offsets -4 and -3): the motif created first wins
    p_adj = np.array([1e-5, 1e-4, 1e-3]) if first == "AAAAA" else np.array([1e-4, 1e-5, 1e-3])
    groups = merge_candidates(["AAAAA", "CCCCC", "AAAACCCC"], p_adj, min_len=5, merge_fraction=0.5)
    assert [g.reference for g in groups] == [first, "CCCCC" if first == "AAAAA" else "AAAAA"]
    expected = Member("AAAACCCC", "+", 0 if first == "AAAAA" else -3)
    assert groups[0].members[1:] == (expected,) and len(groups[1].members) == 1


def test_instance_window_centre_rule():
    # reference 5 bp, window 8: frame window starts at (5 - 8) // 2 = -2, covering frame -2..5
    assert instance_window(10, 15, Member("x" * 5, "+", 0), 5, 8) == (8, 16)
    # '-': frame f is base 14 - f, so frame -2..5 is bases 9..16
    assert instance_window(10, 15, Member("x" * 5, "-", 0), 5, 8) == (9, 17)
    # a member starting at frame 1: frame 0 is base 9
    assert instance_window(10, 14, Member("x" * 4, "+", 1), 5, 8) == (7, 15)
    # '-' member at frame 1: frame f is base 13 - (f - 1) = 14 - f again
    assert instance_window(10, 14, Member("x" * 4, "-", 1), 5, 8) == (9, 17)
    # even difference: 8 bp reference in a 24 bp window, 8 bases each side
    assert instance_window(30, 38, Member("x" * 8, "-", 0), 8, 24) == (22, 46)


def test_planted_motif_is_recovered():
    rng = np.random.default_rng(11)
    positives, plants = planted(rng, 40)
    negatives = [random_dna(rng, 100) for _ in range(40)]
    result = discover_motifs(positives, negatives)
    assert result.note is None and (result.n_positives, result.n_negatives) == (40, 40)
    assert result.n_candidates == 2 and result.n_significant == 2  # the plant in both orientations
    motif = result.motifs[0]
    assert motif.name == "motif_1"
    # both candidates tie on length and p_adj, so the smaller string CTGAAGTC is the reference (motif orientation)
    orientation = reverse_complement(PLANT)
    assert motif.consensus[8:16] == orientation and len(motif.consensus) == 24
    expected = {(rid, pos - 8, pos + 16, "+" if text == orientation else "-") for rid, pos, text in plants}
    assert {(i.record_id, i.start, i.end, i.strand) for i in motif.instances} == expected
    assert all(i.sequence[8:16] == orientation for i in motif.instances)
    assert motif.pfm.to_numpy().sum(axis=1).tolist() == [40] * 24
    assert sum(PLANT in s or orientation in s for s in negatives) == 0
    assert (motif.x, motif.n) == (40, 40)
    assert motif.p == pytest.approx(1 / math.comb(80, 40))  # every positive, no negative: 1 / C(N, K)
    assert motif.p_adj == pytest.approx(motif.p)  # two candidates with the same p
    table = motifs_table(result)
    assert list(table.columns) == MOTIF_COLUMNS and table.loc[0, "instances"] == 40
    assert len(instances_table(result)) == 40


def test_instances_off_the_edge_are_dropped():
    rng = np.random.default_rng(5)
    positions = [2, 92, 3, 40, 50, 60, 30, 45, 55, 35]  # windows of the first three run off the 100 bp sequences
    positives, plants = planted(rng, 10, positions=positions)
    negatives = [SequenceRecord(f"neg{i}", random_dna(rng, 100)) for i in range(10)]
    result = discover_motifs(positives, negatives)
    (motif,) = result.motifs
    assert sorted(i.record_id for i in motif.instances) == sorted(f"pos{i}" for i in range(3, 10))


def test_too_few_sequences_give_an_empty_result_with_a_note():
    rng = np.random.default_rng(2)
    positives, _ = planted(rng, 2)
    result = discover_motifs(positives, [random_dna(rng, 100)])
    assert result.motifs == () and result.n_candidates == 2 and result.n_significant == 0
    assert "smallest possible p is 0.333" in result.note
    assert list(motifs_table(result).columns) == MOTIF_COLUMNS and len(motifs_table(result)) == 0
    assert list(instances_table(result).columns) == INSTANCE_COLUMNS and len(instances_table(result)) == 0


def test_flat_scores_give_a_note_and_progress_reaches_the_end():
    rng = np.random.default_rng(4)
    positives = [Landscape(f"p{i}", random_dna(rng, 50), np.ones(50), "flat") for i in range(3)]
    calls = []
    result = discover_motifs(positives, [random_dna(rng, 50)] * 2, progress=lambda d, t: calls.append((d, t)))
    assert result.motifs == () and "no positive sequence had a high-score run of >= 5" in result.note
    assert calls[-1] == (5, 5)


def test_few_instances_give_a_note():
    rng = np.random.default_rng(8)
    positives, _ = planted(rng, 12)
    result = discover_motifs(positives, [random_dna(rng, 100) for _ in range(12)], MotifParams(min_instances=13))
    assert result.motifs == () and result.n_significant == 2 and "none with >= 13 instances" in result.note


@pytest.mark.parametrize("bad, quoted", [
    (dict(min_len=0), "0"), (dict(min_len=2.5), "2.5"), (dict(window=4), "4"), (dict(min_instances=0), "0"),
    (dict(alpha=0), "0"), (dict(alpha=1.5), "1.5"), (dict(merge_fraction=0.0), "0.0"),
    (dict(threshold=float("nan")), "nan"), (dict(min_ratio="10"), "'10'"),
])
def test_bad_parameters_raise_option_error(bad, quoted):
    with pytest.raises(OptionError, match=quoted):
        MotifParams(**bad)


def test_bad_inputs():
    rng = np.random.default_rng(1)
    positives, _ = planted(rng, 3)
    with pytest.raises(InputError, match="no positive"):
        discover_motifs([], ["ACGT"])
    with pytest.raises(InputError, match="enrichment needs negatives"):
        discover_motifs(positives, [])
    with pytest.raises(OptionError, match="window \\(200 bp\\).*longest 100 bp"):
        discover_motifs(positives, ["ACGT"], MotifParams(window=200))
    with pytest.raises(InputError, match="record 'bad'"):
        discover_motifs([Landscape("bad", "ACGTACGT", np.ones(3), "test")], ["ACGT"])
